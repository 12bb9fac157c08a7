"""Attention: scaled dot-product attention, multi-head attention and sinusoidal positions.

Each query scores every key by a dot product scaled by 1/sqrt(d); a softmax turns the scores into
weights, and the output is the weighted average of the values. Names, shapes and mask conventions are
PyTorch's (``torch.nn.functional.scaled_dot_product_attention``, ``torch.nn.MultiheadAttention``).
Taught in "Attention and transformers" (``book/part2/attention.md``).
"""

import math

from minidl import backend
from minidl.nn import init
from minidl.nn.linear import Linear
from minidl.nn.module import Module, Parameter
from minidl.tensor import Tensor


def _functional():
    from minidl.nn import functional  # imported late: functional imports this module at its end

    return functional


def causal_mask(query_length, key_length=None):
    """A boolean (L, S) tensor, True on and below the diagonal: position i may look at 0..i only.

    True means "allowed", the convention of ``scaled_dot_product_attention``.
    """
    key_length = query_length if key_length is None else key_length
    xp = backend.xp()
    return Tensor(xp.tril(xp.ones((query_length, key_length), dtype=bool)))


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _additive_mask(mask, allowed_when_true, dtype):
    """0 where attention is allowed and -inf where it is not, from a boolean or float mask."""
    mask = _as_tensor(mask)
    if mask.dtype.kind == "b":
        xp = backend.xp()
        keep = mask.data if allowed_when_true else ~mask.data
        return Tensor(xp.where(keep, 0.0, -math.inf).astype(dtype))
    if mask.dtype.kind != "f":
        raise TypeError(f"attention mask must be boolean or floating point, got dtype {mask.dtype}")
    return mask


def _softmax_over_keys(scores):
    """softmax along the last axis, except that a query whose every score is -inf gets weights 0.

    Such a query is fully masked: it may attend to nothing. Plain softmax gives it 0/0 = NaN; PyTorch's
    ``scaled_dot_product_attention`` gives it zero weights, hence a zero output and zero gradients.
    """
    xp = backend.xp()
    top = scores.data.max(axis=-1, keepdims=True)
    masked = top == -math.inf
    exps = xp.exp(scores.data - xp.where(masked, 0, top))  # all zero in a masked row
    weights = exps / xp.where(masked, 1, exps.sum(axis=-1, keepdims=True))

    def backward(g):
        return (weights * (g - (g * weights).sum(axis=-1, keepdims=True)),)

    return Tensor._from_op(weights, (scores,), backward)


def _attend(query, key, value, additive_mask=None, dropout_p=0.0, scale=None, training=True, masked_to_zero=True):
    """softmax(Q K^T * scale + mask) V, returning (output, weights); shapes (..., L, E) and (..., S, E).

    A fully masked query gets zero weights (``masked_to_zero``, PyTorch's fused attention) or NaN
    weights (plain softmax, what PyTorch's MultiheadAttention returns when it returns the weights).
    """
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * scale
    if additive_mask is not None:
        scores = scores + additive_mask
    weights = _softmax_over_keys(scores) if masked_to_zero else scores.softmax(-1)
    if dropout_p > 0:
        weights = _functional().dropout(weights, dropout_p, training)
    return weights @ value, weights


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(Q K^T / sqrt(d) + mask) V for query (..., L, d), key (..., S, d) and value (..., S, d_v).

    As in PyTorch: a boolean ``attn_mask`` marks with True the pairs that TAKE PART in attention; a
    float one is added to the scores. ``is_causal`` applies a lower-triangular mask (and may not be
    combined with ``attn_mask``); ``scale`` defaults to 1/sqrt(d). The score is a scaled dot product,
    not a cosine similarity: the lengths of queries and keys matter. A query that the mask lets attend
    to no key gets a zero output and zero gradients, as in PyTorch 2.13.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(
            f"scaled_dot_product_attention: query, key and value need shapes (..., L, d), (..., S, d) and "
            f"(..., S, d_v); got {query.shape}, {key.shape}, {value.shape}"
        )
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"scaled_dot_product_attention: query (..., L, d) and key (..., S, d) must share d, and key and "
            f"value (..., S, d_v) must share S; got {query.shape}, {key.shape}, {value.shape}"
        )
    if not 0 <= dropout_p <= 1:
        raise RuntimeError(
            f"scaled_dot_product_attention: dropout probability has to be between 0 and 1, but got {dropout_p}"
        )
    length, source = query.shape[-2], key.shape[-2]
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: give either attn_mask or is_causal=True, not both")
        attn_mask = causal_mask(length, source)
    if attn_mask is not None:
        attn_mask = _as_tensor(attn_mask)
        if attn_mask.shape[-2:] != (length, source):
            raise ValueError(
                f"scaled_dot_product_attention: attn_mask must broadcast to (..., L, S) = (..., {length}, "
                f"{source}), got shape {attn_mask.shape}"
            )
        mask = _additive_mask(attn_mask, allowed_when_true=True, dtype=query.dtype)
    output, _ = _attend(query, key, value, mask, dropout_p, scale)
    return output


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
        return _functional().linear(x, self.in_proj_weight[rows], bias)

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
                key_padding_mask = _as_tensor(key_padding_mask).unsqueeze(0)
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
        heads, weights = _attend(q, k, v, mask, self.dropout, None, self.training, masked_to_zero=not need_weights)
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
            attn_mask = ~causal_mask(length, source)
        mask = None
        if attn_mask is not None:
            mask = _additive_mask(attn_mask, allowed_when_true=False, dtype=dtype)
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
            padding = _additive_mask(key_padding_mask, allowed_when_true=False, dtype=dtype)
            if padding.shape != (batch, source):
                raise ValueError(f"MultiheadAttention: key_padding_mask must have shape (N, S) = ({batch}, {source}), got {padding.shape}")
            padding = padding.reshape(batch, 1, 1, source)
            mask = padding if mask is None else mask + padding
        return mask

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


def sinusoidal_positions(length, dim):
    """The (length, dim) table PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(p / 10000^(2i/dim)).

    Each position gets a unique pattern of waves whose wavelengths grow geometrically, so nearby
    positions look alike and relative offsets are linear maps. Taught in "Attention and transformers".
    """
    if length < 0 or dim <= 0:
        raise ValueError(f"sinusoidal_positions: length must be >= 0 and dim > 0, got {length}, {dim}")
    xp = backend.xp()
    positions = xp.arange(length, dtype=backend.float64)[:, None]
    frequencies = xp.exp(-math.log(10000.0) * xp.arange(0, dim, 2, dtype=backend.float64) / dim)
    angles = positions * frequencies
    table = xp.zeros((length, dim), dtype=backend.float64)
    table[:, 0::2] = xp.sin(angles)
    table[:, 1::2] = xp.cos(angles[:, : dim // 2])
    return Tensor(table.astype(backend.float32))


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
