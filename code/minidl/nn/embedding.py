"""Embeddings: a learned vector per token, looked up by index (``torch.nn.Embedding``).

Multiplying a one-hot row vector by a matrix picks one row of the matrix, so an embedding layer is a
linear layer on one-hot inputs computed as a lookup. Its gradient adds into the looked-up rows, once per
occurrence: a token that appears twice in a batch gets two contributions.
Taught in "Encoding language" (``book/part2/embeddings.md``).
"""

from minidl import backend
from minidl.nn import init
from minidl.nn.functional.embedding import embedding, padding_index
from minidl.nn.module import Module, Parameter


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
        self.padding_idx = padding_index(padding_idx, num_embeddings, "Embedding")
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
