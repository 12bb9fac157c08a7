"""Attention: scaled dot-product attention, multi-head attention and sinusoidal positions.

Each query scores every key by a dot product scaled by 1/sqrt(d); a softmax turns the scores into
weights, and the output is the weighted average of the values. Names, shapes and mask conventions are
PyTorch's (``torch.nn.functional.scaled_dot_product_attention``, ``torch.nn.MultiheadAttention``).
Taught in "Attention and transformers" (``book/part2/attention.md``).
"""


from minidl import backend
from minidl.nn import init
from minidl.nn.linear import Linear
from minidl.nn.functional.attention import additive_mask, as_tensor, attend, causal_mask, sinusoidal_positions
from minidl.nn import functional as F
from minidl.nn.module import Module, Parameter


class MultiheadAttention(Module):
    """Attention in ``num_heads`` subspaces of size embed_dim / num_heads, concatenated and mixed.

    Parameters and their names are PyTorch's: ``in_proj_weight`` (3 E, E) stacks W_Q, W_K, W_V
    (Xavier-uniform), ``in_proj_bias`` (3 E,) starts at zero, ``out_proj`` is a Linear(E, E) whose bias
    starts at zero. Inputs are (L, N, E), or (N, L, E) with ``batch_first=True``, or unbatched (L, E).

    Taught in "Attention and transformers" (book/part2/attention.md).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads})"
            )
        if not 0 <= dropout <= 1:
            raise ValueError(f"MultiheadAttention: dropout probability has to be between 0 and 1, but got {dropout}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        xp = backend.xp()
        self.in_proj_weight = Parameter(xp.empty((3 * embed_dim, embed_dim), dtype=backend.float32))
        init.xavier_uniform_(self.in_proj_weight)
        # one assignment only: Module.__setattr__ would leave an earlier plain ``None`` shadowing it
        self.in_proj_bias = Parameter(xp.zeros((3 * embed_dim,), dtype=backend.float32)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        if bias:
            init.zeros_(self.out_proj.bias)

    def _project(self, x, part):
        """x W_part^T + b_part, for part 0 (query), 1 (key) or 2 (value)."""
        rows = slice(part * self.embed_dim, (part + 1) * self.embed_dim)
        bias = self.in_proj_bias[rows] if self.in_proj_bias is not None else None
        return F.linear(x, self.in_proj_weight[rows], bias)

    def _split_heads(self, x):
        """(N, L, E) -> (N, heads, L, head_dim)."""
        batch, length, _ = x.shape
        return x.reshape(batch, length, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """Returns (output, weights): output like ``query``; weights (N, L, S) averaged over heads,
        (N, heads, L, S) with ``average_attn_weights=False``, or None with ``need_weights=False``.

        As in PyTorch: a boolean ``attn_mask`` ((L, S) or (N * heads, L, S)) marks with True the pairs
        that are NOT allowed to attend (the opposite of ``scaled_dot_product_attention``); a float one is
        added to the scores. ``key_padding_mask`` (N, S) marks with True the keys to ignore.
        ``is_causal=True`` without a mask applies the causal mask (PyTorch requires the mask as well).
        A query with every key masked gets NaN with ``need_weights=True`` and zeros (before ``out_proj``)
        with ``need_weights=False``: PyTorch's explicit softmax and its fused attention, respectively.
        """
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = as_tensor(key_padding_mask).unsqueeze(0)
        if query.ndim != 3 or key.ndim != 3 or value.ndim != 3:
            raise ValueError(
                f"MultiheadAttention: query, key and value must be (L, N, E) (or (N, L, E) with "
                f"batch_first=True, or unbatched (L, E)); got {query.shape}, {key.shape}, {value.shape}"
            )
        if not self.batch_first or unbatched:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        for name, t in (("query", query), ("key", key), ("value", value)):
            if t.shape[-1] != self.embed_dim:
                raise ValueError(f"MultiheadAttention: {name} has {t.shape[-1]} features, expected embed_dim={self.embed_dim}")
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            raise ValueError(f"MultiheadAttention: key {key.shape} and value {value.shape} must match, with query's batch")
        batch, length, source = query.shape[0], query.shape[1], key.shape[1]
        mask = self._mask(attn_mask, key_padding_mask, is_causal, batch, length, source, query.dtype)
        q, k, v = (self._split_heads(self._project(t, part)) for part, t in enumerate((query, key, value)))
        heads, weights = attend(q, k, v, mask, self.dropout, None, self.training, masked_to_zero=not need_weights)
        output = self.out_proj(heads.permute(0, 2, 1, 3).reshape(batch, length, self.embed_dim))
        if not self.batch_first or unbatched:
            output = output.transpose(0, 1)
        if unbatched:
            output, weights = output.squeeze(1), weights.squeeze(0)
        if not need_weights:
            return output, None
        return output, (weights.mean(-3) if average_attn_weights else weights)

    def _mask(self, attn_mask, key_padding_mask, is_causal, batch, length, source, dtype):
        """One additive mask broadcastable to (N, heads, L, S), or None."""
        if attn_mask is None and is_causal:
            attn_mask = ~causal_mask(length, source, device=self.in_proj_weight.device)
        mask = None
        if attn_mask is not None:
            mask = additive_mask(attn_mask, allowed_when_true=False, dtype=dtype)
            if mask.shape == (length, source):
                pass
            elif mask.shape == (batch * self.num_heads, length, source):
                mask = mask.reshape(batch, self.num_heads, length, source)
            else:
                raise ValueError(
                    f"MultiheadAttention: attn_mask must have shape (L, S) = ({length}, {source}) or "
                    f"(N * num_heads, L, S) = ({batch * self.num_heads}, {length}, {source}); got {mask.shape}"
                )
        if key_padding_mask is not None:
            padding = additive_mask(key_padding_mask, allowed_when_true=False, dtype=dtype)
            if padding.shape != (batch, source):
                raise ValueError(f"MultiheadAttention: key_padding_mask must have shape (N, S) = ({batch}, {source}), got {padding.shape}")
            padding = padding.reshape(batch, 1, 1, source)
            mask = padding if mask is None else mask + padding
        return mask

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


class SinusoidalPositionalEncoding(Module):
    """Adds ``sinusoidal_positions`` to a sequence of embeddings (..., L, embed_dim); nothing is learned.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """

    def __init__(self, embed_dim, max_len=5000):
        super().__init__()
        self.embed_dim, self.max_len = embed_dim, max_len
        self.table = sinusoidal_positions(max_len, embed_dim)

    def forward(self, input):
        length = input.shape[-2] if input.ndim >= 2 else 0
        if input.ndim < 2 or input.shape[-1] != self.embed_dim or length > self.max_len:
            raise ValueError(
                f"SinusoidalPositionalEncoding: input must be (..., L, {self.embed_dim}) with L <= "
                f"max_len={self.max_len}, got {input.shape}"
            )
        return input + self.table[:length]

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, max_len={self.max_len}"
