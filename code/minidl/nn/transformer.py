"""The transformer block: self-attention and a position-wise MLP, each wrapped in a residual connection
with layer normalization. Parameter names follow ``torch.nn.TransformerEncoderLayer``.
Taught in "Attention and transformers" (``book/part2/attention.md``).

This module also gathers the sequence layers and functions (embedding, attention, layer norm) that
``minidl.nn`` and ``minidl.nn.functional`` re-export.
"""

import math

from minidl import backend
from minidl.nn.attention import MultiheadAttention, SinusoidalPositionalEncoding, causal_mask
from minidl.nn.attention import scaled_dot_product_attention
from minidl.nn.dropout import Dropout
from minidl.nn.embedding import Embedding, embedding
from minidl.nn.linear import Linear
from minidl.nn.module import Module
from minidl.nn.normalization import LayerNorm, layer_norm
from minidl.tensor import Tensor

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _erf(x):
    """erf(x) by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7, float32's resolution)."""
    xp = backend.xp()
    sign, a = xp.sign(x), xp.abs(x)
    t = 1 / (1 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1 - poly * xp.exp(-a * a))


def gelu(input, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF: a smooth ReLU used in transformers (as ``F.gelu``).

    ``approximate="tanh"`` uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as PyTorch does.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """
    xp = backend.xp()
    x = input.data
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x**3)
        tanh = xp.tanh(inner)
        out = 0.5 * x * (1 + tanh)

        def backward(g):
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return (g * (0.5 * (1 + tanh) + 0.5 * x * (1 - tanh * tanh) * d_inner),)
    elif approximate == "none":
        cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
        out = x * cdf

        def backward(g):
            density = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            return (g * (cdf + x * density),)
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Tensor._from_op(out.astype(x.dtype), (input,), backward)


class GELU(Module):
    """The GELU activation as a layer (``torch.nn.GELU``).

    Taught in "Attention and transformers" (book/part2/attention.md).
    """

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return gelu(input, self.approximate)


class TransformerBlock(Module):
    """One transformer layer on (N, L, embed_dim) inputs (batch first), PRE-NORM by default:

        x = x + Dropout(SelfAttention(LayerNorm(x)));  x = x + Dropout(MLP(LayerNorm(x)))

    ``norm_first=False`` gives the original post-norm layer, x = LayerNorm(x + Sublayer(x)). The MLP
    is Linear(embed_dim, hidden_dim), ReLU (or GELU), Linear(hidden_dim, embed_dim). Equal, weight for
    weight, to ``torch.nn.TransformerEncoderLayer(..., batch_first=True)``.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """

    def __init__(self, embed_dim, num_heads, hidden_dim, dropout=0.0, norm_first=True, activation="relu"):
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"TransformerBlock: activation must be 'relu' or 'gelu', got {activation!r}")
        self.norm_first, self.activation = norm_first, activation
        self.self_attn = MultiheadAttention(embed_dim, num_heads, dropout=dropout, batch_first=True)
        self.linear1 = Linear(embed_dim, hidden_dim)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(hidden_dim, embed_dim)
        self.norm1 = LayerNorm(embed_dim)
        self.norm2 = LayerNorm(embed_dim)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)

    def forward(self, x, attn_mask=None, key_padding_mask=None, is_causal=False):
        """``is_causal=True`` lets position i attend to positions 0..i only; masks follow MultiheadAttention."""
        if x.ndim != 3:
            raise ValueError(f"TransformerBlock: input must be (N, L, embed_dim), got shape {x.shape}")
        if is_causal and attn_mask is None:
            attn_mask = ~causal_mask(x.shape[1])
        if self.norm_first:
            x = x + self._attention(self.norm1(x), attn_mask, key_padding_mask)
            return x + self._mlp(self.norm2(x))
        x = self.norm1(x + self._attention(x, attn_mask, key_padding_mask))
        return self.norm2(x + self._mlp(x))

    def _attention(self, x, attn_mask, key_padding_mask):
        output, _ = self.self_attn(x, x, x, key_padding_mask=key_padding_mask, need_weights=False, attn_mask=attn_mask)
        return self.dropout1(output)

    def _mlp(self, x):
        hidden = self.linear1(x)
        hidden = gelu(hidden) if self.activation == "gelu" else hidden.relu()
        return self.dropout2(self.linear2(self.dropout(hidden)))

    def extra_repr(self):
        return f"norm_first={self.norm_first}, activation={self.activation!r}"
