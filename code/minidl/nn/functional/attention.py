"""Scaled dot-product attention, its masks, and sinusoidal positions, as functions."""

import math

from minidl import backend
from minidl.device import backend_for
from minidl.nn.functional.linear import dropout
from minidl.tensor import Tensor


def causal_mask(query_length, key_length=None, device=None):
    """A boolean (L, S) tensor, True on and below the diagonal: position i may look at 0..i only.

    True means "allowed", the convention of ``scaled_dot_product_attention``. Made on ``device``
    (None: the default device), as the scores it masks.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """
    key_length = query_length if key_length is None else key_length
    xp = backend_for(device).xp
    return Tensor(xp.tril(xp.ones((query_length, key_length), dtype=bool)))


def as_tensor(x):
    """``x`` as a Tensor (masks may be given as NumPy arrays or lists).

    Taught in "Attention and transformers" (book/part2/attention.md).
    """
    return x if isinstance(x, Tensor) else Tensor(x)


def additive_mask(mask, allowed_when_true, dtype):
    """0 where attention is allowed and -inf where it is not, from a boolean or float mask.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """
    mask = as_tensor(mask)
    if mask.dtype.kind == "b":
        xp = backend.xp(mask.data)
        keep = mask.data if allowed_when_true else ~mask.data
        return Tensor._from_op(xp.where(keep, 0.0, -math.inf).astype(dtype), (), None)
    if mask.dtype.kind != "f":
        raise TypeError(f"attention mask must be boolean or floating point, got dtype {mask.dtype}")
    return mask


def _softmax_over_keys(scores):
    """softmax along the last axis, except that a query whose every score is -inf gets weights 0.

    Such a query is fully masked: it may attend to nothing. Plain softmax gives it 0/0 = NaN; PyTorch's
    ``scaled_dot_product_attention`` gives it zero weights, hence a zero output and zero gradients.
    """
    xp = backend.xp(scores.data)
    top = scores.data.max(axis=-1, keepdims=True)
    masked = top == -math.inf
    weights = scores.data - xp.where(masked, 0, top)
    xp.exp(weights, out=weights)  # all zero in a masked row; in place, as the division below
    weights /= xp.where(masked, 1, weights.sum(axis=-1, keepdims=True))

    def backward(g):
        return (weights * (g - (g * weights).sum(axis=-1, keepdims=True)),)

    return Tensor._from_op(weights, (scores,), backward)


def attend(query, key, value, additive_mask=None, dropout_p=0.0, scale=None, training=True, masked_to_zero=True):
    """softmax(Q K^T * scale + mask) V, returning (output, weights); shapes (..., L, E) and (..., S, E).

    A fully masked query gets zero weights (``masked_to_zero``, PyTorch's fused attention) or NaN
    weights (plain softmax, what PyTorch's MultiheadAttention returns when it returns the weights).

    Taught in "Attention and transformers" (book/part2/attention.md).
    """
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * scale
    if additive_mask is not None:
        scores = scores + additive_mask
    weights = _softmax_over_keys(scores) if masked_to_zero else scores.softmax(-1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, training)
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
        attn_mask = causal_mask(length, source, device=query.device)
    if attn_mask is not None:
        attn_mask = as_tensor(attn_mask)
        if attn_mask.shape[-2:] != (length, source):
            raise ValueError(
                f"scaled_dot_product_attention: attn_mask must broadcast to (..., L, S) = (..., {length}, "
                f"{source}), got shape {attn_mask.shape}"
            )
        mask = additive_mask(attn_mask, allowed_when_true=True, dtype=query.dtype)
    output, _ = attend(query, key, value, mask, dropout_p, scale)
    return output


def sinusoidal_positions(length, dim):
    """The (length, dim) table PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(p / 10000^(2i/dim)).

    Each position gets a unique pattern of waves whose wavelengths grow geometrically, so nearby
    positions look alike and relative offsets are linear maps.

    Taught in "Attention and transformers" (book/part2/attention.md).
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
