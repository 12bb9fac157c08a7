"""A GPT: a decoder-only transformer that predicts the next token, as in GPT-2 and nanoGPT.

Token and position embeddings are added, pass through causal pre-norm transformer blocks
(``minidl.nn.TransformerBlock``), a final LayerNorm, and a linear map to logits whose weight IS the
token embedding table (weight tying). ``generate`` samples a continuation one token at a time with
temperature and top-k (``minidl.sampling.sample``).
Taught in "Language models" (``book/part6/language_models.md``).
"""

import math

from minidl.creation import arange
from minidl.nn import init
from minidl.nn.container import ModuleList
from minidl.nn.dropout import Dropout
from minidl.nn.embedding import Embedding
from minidl.nn.linear import Linear
from minidl.nn.module import Module
from minidl.nn.normalization import LayerNorm
from minidl.nn.transformer import TransformerBlock, last_position
from minidl.sampling import sample
from minidl.tensor import Tensor, cat, no_grad

__all__ = ["GPT"]


class GPT(Module):
    """Next-token logits (N, T, vocab_size) from token ids (N, T), T <= ``context_length``.

    h_0 = E[x_t] + P[t];  h_l = Block_l(h_{l-1}) with a causal mask;  logits = LayerNorm(h_L) E^T.
    ``lm_head.weight`` and ``token_embedding.weight`` are one Parameter (V, embed_dim), so the output
    layer scores each token by its similarity to the token's own embedding and the model has
    V * embed_dim fewer parameters. Initialization is GPT-2's: every weight matrix N(0, 0.02^2), except
    the two per block that write into the residual stream (``out_proj``, ``linear2``): N(0, 0.02^2 /
    (2 * num_layers)), so that the sum of 2 * num_layers residual additions keeps its scale; biases
    zero. ``hidden_dim`` (default 4 * embed_dim) is the MLP's width, ``activation`` its nonlinearity
    ("relu" or "gelu").

    Raises ValueError for a non-positive size or an ``embed_dim`` not divisible by ``num_heads``;
    ``forward`` raises TypeError for non-integer ids and ValueError for a shape other than (N, T) or
    T > ``context_length``.

    Taught in "Language models" (book/part6/language_models.md), "Lab: fine-tuning a language model" (book/part6/finetuning_lab.md) and "What changes at scale" (book/part6/scale.md).
    """

    def __init__(self, vocab_size, context_length, embed_dim=64, num_heads=4, num_layers=2, hidden_dim=None,
                 dropout=0.0, activation="relu"):
        super().__init__()
        hidden_dim = 4 * embed_dim if hidden_dim is None else hidden_dim
        sizes = dict(vocab_size=vocab_size, context_length=context_length, embed_dim=embed_dim,
                     num_heads=num_heads, num_layers=num_layers, hidden_dim=hidden_dim)
        for name, size in sizes.items():
            if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                raise ValueError(f"GPT: {name} must be a positive int, got {size!r}")
        if embed_dim % num_heads:
            raise ValueError(f"GPT: embed_dim ({embed_dim}) must be a multiple of num_heads ({num_heads})")
        self.vocab_size, self.context_length, self.embed_dim = vocab_size, context_length, embed_dim
        self.token_embedding = Embedding(vocab_size, embed_dim)
        self.position_embedding = Embedding(context_length, embed_dim)
        self.dropout = Dropout(dropout)
        self.blocks = ModuleList(
            [TransformerBlock(embed_dim, num_heads, hidden_dim, dropout=dropout, activation=activation)
             for _ in range(num_layers)]
        )
        self.norm = LayerNorm(embed_dim)
        self.lm_head = Linear(embed_dim, vocab_size, bias=False)
        self.lm_head.weight = self.token_embedding.weight  # weight tying: one Parameter, two uses
        self._init_as_gpt2(num_layers)

    def _init_as_gpt2(self, num_layers):
        init.normal_(self.token_embedding.weight, std=0.02)
        init.normal_(self.position_embedding.weight, std=0.02)
        for block in self.blocks:
            init.normal_(block.self_attn.in_proj_weight, std=0.02)
            init.normal_(block.linear1.weight, std=0.02)
            for projection in (block.self_attn.out_proj, block.linear2):  # the layers that write into the residual stream
                init.normal_(projection.weight, std=0.02 / math.sqrt(2 * num_layers))
            for bias in (block.linear1.bias, block.linear2.bias):
                init.zeros_(bias)

    def forward(self, idx):
        """Logits (N, T, vocab_size) for the token ids ``idx`` (N, T); position t sees tokens 0..t only."""
        self._check_ids(idx)
        positions = arange(idx.shape[1])
        h = self.dropout(self.token_embedding(idx) + self.position_embedding(positions))
        for block in self.blocks:
            h = block(h, is_causal=True)
        return self.lm_head(self.norm(h))

    def _check_ids(self, idx):
        if not isinstance(idx, Tensor) or idx.dtype.kind not in "iu":
            kind = idx.dtype if isinstance(idx, Tensor) else type(idx).__name__
            raise TypeError(f"GPT: idx must be a Tensor of integer token ids, got {kind}")
        if idx.ndim != 2 or not 1 <= idx.shape[1] <= self.context_length:
            raise ValueError(
                f"GPT: idx must have shape (N, T) with 1 <= T <= context_length={self.context_length}, "
                f"got {idx.shape}"
            )

    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        """``idx`` (N, T) followed by ``max_new_tokens`` sampled tokens: (N, T + max_new_tokens), int64.

        Each step feeds the last ``context_length`` tokens, takes the logits at the last position and
        draws the next token from softmax(logits / temperature), among the ``top_k`` likeliest if given
        (``minidl.sampling.sample``, seeded by ``minidl.manual_seed`` or ``generator``). Runs in eval
        mode without recording a graph, and restores the training mode it found.
        """
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"GPT.generate: max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for _ in range(max_new_tokens):
                    logits = self._last_logits(idx[:, -self.context_length:])
                    next_token = sample(logits, temperature=temperature, top_k=top_k, generator=generator)
                    idx = cat([idx, next_token.reshape(-1, 1)], dim=1)
        finally:
            self.train(was_training)
        return idx

    def _last_logits(self, idx):
        """``self(idx)[:, -1]``, the logits (N, vocab_size) at the last position, which is all ``generate``
        needs: no position depends on a later one, so the top block and the output layer run for the last
        position only (``last_position``); the blocks below it run as in ``forward``."""
        self._check_ids(idx)
        h = self.dropout(self.token_embedding(idx) + self.position_embedding(arange(idx.shape[1])))
        for block in self.blocks[:-1]:
            h = block(h, is_causal=True)
        return self.lm_head(self.norm(last_position(self.blocks[-1], h)))[:, -1]

    def extra_repr(self):
        return f"vocab_size={self.vocab_size}, context_length={self.context_length}, embed_dim={self.embed_dim}"
