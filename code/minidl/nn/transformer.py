"""The transformer block: self-attention and a position-wise MLP, each wrapped in a residual connection
with layer normalization. Parameter names follow ``torch.nn.TransformerEncoderLayer``.
Taught in "Attention and transformers" (``book/part2/attention.md``).

This module also gathers the sequence layers and functions (embedding, attention, layer norm) that
``minidl.nn`` and ``minidl.nn.functional`` re-export.
"""

from minidl.nn import functional as F
from minidl.nn.attention import MultiheadAttention
from minidl.nn.dropout import Dropout
from minidl.nn.linear import Linear
from minidl.nn.module import Module
from minidl.nn.normalization import LayerNorm


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
            attn_mask = ~F.causal_mask(x.shape[1], device=x.device)
        if self.norm_first:
            x = x + self._attention(self.norm1(x), attn_mask, key_padding_mask)
            return x + self._mlp(self.norm2(x))
        x = self.norm1(x + self._attention(x, attn_mask, key_padding_mask))
        return self.norm2(x + self._mlp(x))

    def _attention(self, x, attn_mask, key_padding_mask, query=None):
        query = x if query is None else query  # self-attention; a subset of the queries for last_position
        output, _ = self.self_attn(query, x, x, key_padding_mask=key_padding_mask, need_weights=False,
                                   attn_mask=attn_mask)
        return self.dropout1(output)

    def _mlp(self, x):
        hidden = self.linear1(x)
        hidden = F.gelu(hidden) if self.activation == "gelu" else hidden.relu()
        return self.dropout2(self.linear2(self.dropout(hidden)))

    def extra_repr(self):
        return f"norm_first={self.norm_first}, activation={self.activation!r}"


def last_position(block, x):
    """``block(x, is_causal=True)[:, -1:]``, computing only what the last position needs: its query
    attends to every key (so no mask), and the MLP and the norms act on that position alone. Shape
    (N, 1, embed_dim) for x (N, L, embed_dim). What a language model needs of its top block to sample
    the next token (``GPT.generate``).

    Taught in "Language models" (book/part6/language_models.md).
    """
    if block.norm_first:
        normed = block.norm1(x)
        last = x[:, -1:] + block._attention(normed, None, None, query=normed[:, -1:])
        return last + block._mlp(block.norm2(last))
    last = block.norm1(x[:, -1:] + block._attention(x, None, None, query=x[:, -1:]))
    return block.norm2(last + block._mlp(last))
