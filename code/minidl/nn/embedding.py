"""Embeddings: a learned vector per token, looked up by index (``torch.nn.Embedding``).

Multiplying a one-hot row vector by a matrix picks one row of the matrix, so an embedding layer is a
linear layer on one-hot inputs computed as a lookup. Its gradient adds into the looked-up rows, once per
occurrence: a token that appears twice in a batch gets two contributions.
Taught in "Encoding language" (``book/part2/embeddings.md``).
"""

from minidl import backend
from minidl.nn import init
from minidl.nn.module import Module, Parameter
from minidl.tensor import Tensor


def _padding_index(padding_idx, num_embeddings, name):
    """``padding_idx`` in [0, num_embeddings) (a negative one counts from the end, as in PyTorch), or None."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise AssertionError(  # PyTorch's error type for this check
            f"{name}: Padding_idx must be within num_embeddings: got padding_idx={padding_idx} for "
            f"num_embeddings={num_embeddings}, allowed [{-num_embeddings}, {num_embeddings - 1}]"
        )
    return padding_idx % num_embeddings


def _no_gradient_at(rows, positions):
    """``rows`` unchanged, but no gradient flows back through the looked-up rows at ``positions``."""
    return Tensor._from_op(rows.data, (rows,), lambda g: (g * ~positions[..., None],))


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the integer indices ``input``.

    The result has shape ``input.shape + (embedding_dim,)``. The backward pass scatter-adds, so
    repeated indices accumulate their gradients. Lookups of ``padding_idx`` (negative counts from the
    end) pass no gradient to that row, whose value is left as it is, as in PyTorch.

    Taught in "Encoding language" (book/part2/embeddings.md).
    """
    input = input if isinstance(input, Tensor) else Tensor(input)
    if input.dtype.kind not in "iu":
        raise TypeError(
            f"embedding: input must hold integer indices (got dtype {input.dtype}); convert with .long()"
        )
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must have shape (num_embeddings, embedding_dim), got {weight.shape}")
    count = weight.shape[0]
    padding_idx = _padding_index(padding_idx, count, "embedding")
    if input.data.size:
        low, high = int(input.data.min()), int(input.data.max())
        if low < 0 or high >= count:
            raise IndexError(
                f"embedding: indices must lie in [0, {count - 1}] for num_embeddings={count}; "
                f"got values from {low} to {high}"
            )
    rows = weight[input]  # advanced indexing: its backward is a scatter-add
    return rows if padding_idx is None else _no_gradient_at(rows, input.data == padding_idx)


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors of size ``embedding_dim``, initialized N(0, 1).

    ``Embedding(V, d)(indices)`` equals ``one_hot(indices, V) @ weight`` without building the one-hot
    matrix. The row ``padding_idx`` (e.g. of a padding token) starts at zero and is never trained.

    Taught in "Encoding language" (book/part2/embeddings.md).
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None):
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(
                f"Embedding: num_embeddings and embedding_dim must be positive, got {num_embeddings}, {embedding_dim}"
            )
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings, "Embedding")
        xp = backend.xp()
        self.weight = Parameter(xp.empty((num_embeddings, embedding_dim), dtype=backend.float32))
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input):
        return embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
