"""LoRA, low-rank adaptation (Hu et al. 2021): fine-tune a frozen Linear through a rank-r update.

A pretrained weight W (out, in) stays fixed; the layer learns B (out, r) and A (r, in) with r much
smaller than in and out, and computes y = x W^T + b + (alpha / r) x A^T B^T. One of A, B starts at zero,
so the adapted layer starts equal to the base layer; only r (in + out) numbers per layer are trained,
and ``merge`` folds the update into W for inference at no extra cost. Linear and Embedding layers can
be adapted. Names follow PEFT (``lora_A``, ``lora_B``, ``target_modules``). Taught in "Lab: fine-tuning a language model" (``book/part6/finetuning_lab.md``).
"""

import math

from minidl.nn import functional as F
from minidl.nn import init
from minidl.nn.dropout import Dropout
from minidl.nn.embedding import Embedding
from minidl.nn.linear import Linear
from minidl.nn.module import Module, Parameter
from minidl.tensor import no_grad
from minidl import backend


class _LoRA(Module):
    """What the adapters share: a frozen ``base``, the scaling alpha / rank, merging and unmerging."""

    def __init__(self, base, rank, alpha):
        super().__init__()
        name = type(self).__name__
        if isinstance(rank, bool) or not isinstance(rank, int) or rank <= 0:
            raise ValueError(f"{name}: rank must be a positive int, got {rank!r}")
        if not alpha > 0:
            raise ValueError(f"{name}: alpha must be > 0, got {alpha!r}")
        for parameter in base.parameters():
            parameter.requires_grad_(False)
        self.base, self.rank, self.alpha, self.scaling = base, rank, alpha, alpha / rank
        self.merged, self._unmerged = False, None

    def merge(self):
        """Fold the update into the base layer, W' = W + delta_weight(): no extra cost at inference.

        W' is a new (frozen) Parameter, so a weight that ``base`` shares with another layer (a tied
        embedding) is left as it is; ``unmerge`` puts the original Parameter back, bit for bit.
        """
        if self.merged:
            raise RuntimeError(f"{type(self).__name__}.merge: the update is already merged into base.weight")
        self._unmerged = (self.base.weight,)  # a tuple: kept, but not registered as a parameter
        with no_grad():
            self.base.weight = Parameter(self.base.weight.data + self.delta_weight().data, requires_grad=False)
        self.merged = True
        return self

    def unmerge(self):
        """Restore the base layer's original weight, to train the adapters again or to compare."""
        if not self.merged:
            raise RuntimeError(f"{type(self).__name__}.unmerge: the update is not merged into base.weight")
        self.base.weight = self._unmerged[0]
        self.merged = False
        return self

    def extra_repr(self):
        return f"rank={self.rank}, alpha={self.alpha}, merged={self.merged}"


class LoRALinear(_LoRA):
    """A Linear ``base`` with its parameters frozen and a trainable rank-``rank`` update scaled by alpha / rank.

    y = x W^T + b + (alpha / rank) x A^T B^T. ``lora_A`` (rank, in_features) starts as PyTorch's
    default Linear weight (Kaiming-uniform, as in PEFT) and ``lora_B`` (out_features, rank) at zero,
    so at first the output equals ``base``'s. Shapes are those of ``base``: (..., in_features) to
    (..., out_features). ``dropout`` applies to the input of the update only. ``merge()`` gives
    ``base`` the weight W + (alpha / rank) B A and ``unmerge()`` gives it W back; while merged the
    forward pass is the base layer alone.

    Raises TypeError if ``base`` is not a Linear, ValueError for a rank that is not a positive int or
    a non-positive alpha, RuntimeError for merging twice or unmerging an unmerged layer.

    Taught in "Lab: fine-tuning a language model" (book/part6/finetuning_lab.md).
    """

    def __init__(self, base, rank=8, alpha=8.0, dropout=0.0):
        if not isinstance(base, Linear):
            raise TypeError(f"LoRALinear: base must be an nn.Linear, got {type(base).__name__}")
        super().__init__(base, rank, alpha)
        xp = backend.xp()
        self.lora_A = Parameter(xp.empty((rank, base.in_features), dtype=backend.float32))
        self.lora_B = Parameter(xp.zeros((base.out_features, rank), dtype=backend.float32))
        init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_dropout = Dropout(dropout)

    def forward(self, input):
        output = self.base(input)
        if self.merged:
            return output
        update = F.linear(F.linear(self.lora_dropout(input), self.lora_A), self.lora_B)
        return output + update * self.scaling

    def delta_weight(self):
        """The update (alpha / rank) B A as a Tensor of ``base.weight``'s shape (out_features, in_features)."""
        return (self.lora_B @ self.lora_A) * self.scaling


class LoRAEmbedding(_LoRA):
    """An Embedding ``base`` with its table frozen and a trainable rank-``rank`` update of the table.

    The looked-up rows are E[x] + (alpha / rank) (B A)^T[x], with ``lora_A`` (rank, num_embeddings)
    starting at zero and ``lora_B`` (embedding_dim, rank) drawn from N(0, 1), PEFT's choice for
    embeddings, so at first the output equals ``base``'s. Input: integer ids of any shape; output:
    that shape + (embedding_dim,). A token the base model barely saw has a small, uninformative
    embedding that no adapter after the lookup can sharpen; this one can. ``merge`` and ``unmerge``
    as in LoRALinear.

    Raises TypeError if ``base`` is not an Embedding, ValueError for a bad rank or alpha.

    Taught in "Lab: fine-tuning a language model" (book/part6/finetuning_lab.md).
    """

    def __init__(self, base, rank=8, alpha=8.0):
        if not isinstance(base, Embedding):
            raise TypeError(f"LoRAEmbedding: base must be an nn.Embedding, got {type(base).__name__}")
        super().__init__(base, rank, alpha)
        xp = backend.xp()
        self.lora_A = Parameter(xp.zeros((rank, base.num_embeddings), dtype=backend.float32))
        self.lora_B = Parameter(xp.empty((base.embedding_dim, rank), dtype=backend.float32))
        init.normal_(self.lora_B)

    def forward(self, input):
        output = self.base(input)
        if self.merged:
            return output
        update = F.embedding(input, self.lora_A.T, self.base.padding_idx) @ self.lora_B.T
        return output + update * self.scaling

    def delta_weight(self):
        """The update (alpha / rank) (B A)^T, of ``base.weight``'s shape (num_embeddings, embedding_dim)."""
        return (self.lora_B @ self.lora_A).T * self.scaling


def _matches(name, target_modules):
    """PEFT's rule: a module name matches a target equal to it or to its last dotted parts."""
    return any(name == target or name.endswith("." + target) for target in target_modules)


def apply_lora(model, target_modules, rank=8, alpha=8.0, dropout=0.0):
    """Freeze every parameter of ``model`` and wrap each Linear (LoRALinear) or Embedding (LoRAEmbedding)
    named in ``target_modules``, as PEFT's ``get_peft_model`` does.

    A submodule matches when its dotted name (``model.named_modules()``) equals a target or ends with
    "." + target: ``("out_proj", "linear1", "linear2")`` adapts those layers of every TransformerBlock.
    ``dropout`` is LoRALinear's. Changes ``model`` in place and returns the list of wrapped names.
    Raises TypeError for a string (give a list or tuple of names), ValueError if no layer matches.

    Taught in "Lab: fine-tuning a language model" (book/part6/finetuning_lab.md).
    """
    if isinstance(target_modules, str) or not all(isinstance(t, str) for t in target_modules):
        raise TypeError(f"apply_lora: target_modules must be a list or tuple of module names, got {target_modules!r}")
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    chosen = [(name, module) for name, module in model.named_modules()
              if isinstance(module, (Linear, Embedding)) and name and _matches(name, target_modules)]
    if not chosen:
        layers = [name for name, module in model.named_modules() if isinstance(module, (Linear, Embedding))]
        raise ValueError(
            f"apply_lora: no Linear or Embedding of the model matches {list(target_modules)}; its layers are {layers}"
        )
    modules = dict(model.named_modules())
    for name, module in chosen:
        parent_name, _, child = name.rpartition(".")
        adapter = LoRALinear(module, rank, alpha, dropout) if isinstance(module, Linear) else LoRAEmbedding(module, rank, alpha)
        setattr(modules[parent_name] if parent_name else model, child, adapter)
    return [name for name, _ in chosen]
