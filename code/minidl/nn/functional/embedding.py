"""Looking up rows of an embedding table, and one-hot vectors."""

from minidl import backend
from minidl.tensor import Tensor
from minidl.nn.functional.checks import check_class_indices


def padding_index(padding_idx, num_embeddings, name):
    """``padding_idx`` in [0, num_embeddings) (a negative one counts from the end, as in PyTorch), or None.

    Taught in "Encoding language" (book/part2/embeddings.md).
    """
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
    padding_idx = padding_index(padding_idx, count, "embedding")
    if input.data.size:
        low, high = int(input.data.min()), int(input.data.max())
        if low < 0 or high >= count:
            raise IndexError(
                f"embedding: indices must lie in [0, {count - 1}] for num_embeddings={count}; "
                f"got values from {low} to {high}"
            )
    rows = weight[input]  # advanced indexing: its backward is a scatter-add
    return rows if padding_idx is None else _no_gradient_at(rows, input.data == padding_idx)


def one_hot(indices, num_classes):
    """A float32 matrix with a 1 in column ``indices[i]`` of row i.

    Taught in "Encoding language" (book/part2/embeddings.md).
    """
    indices = indices if isinstance(indices, Tensor) else Tensor(indices)
    check_class_indices(indices, num_classes, "one_hot")
    xp = backend.xp(indices.data)
    out = (indices.data[..., None] == xp.arange(num_classes)).astype(backend.float32)
    return Tensor._from_op(out, (), None)
