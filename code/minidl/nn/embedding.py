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


def embedding(input, weight):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the integer indices ``input``.

    The result has shape ``input.shape + (embedding_dim,)``. The backward pass scatter-adds, so
    repeated indices accumulate their gradients.

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
    if input.data.size:
        low, high = int(input.data.min()), int(input.data.max())
        if low < 0 or high >= count:
            raise IndexError(
                f"embedding: indices must lie in [0, {count - 1}] for num_embeddings={count}; "
                f"got values from {low} to {high}"
            )
    return weight[input]  # advanced indexing: its backward is a scatter-add


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors of size ``embedding_dim``, initialized N(0, 1).

    ``Embedding(V, d)(indices)`` equals ``one_hot(indices, V) @ weight`` without building the one-hot
    matrix.

    Taught in "Encoding language" (book/part2/embeddings.md).
    """

    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(
                f"Embedding: num_embeddings and embedding_dim must be positive, got {num_embeddings}, {embedding_dim}"
            )
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        xp = backend.xp()
        self.weight = Parameter(xp.empty((num_embeddings, embedding_dim), dtype=backend.float32))
        init.normal_(self.weight)

    def forward(self, input):
        return embedding(input, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"
