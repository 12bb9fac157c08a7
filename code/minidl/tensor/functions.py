"""Functions of several tensors, as in PyTorch's ``torch`` namespace: tensor, cat, stack, unbind, where, gather."""

from minidl import backend
from minidl.tensor.base import TensorBase
from minidl.tensor.core import Tensor
from minidl.tensor.shaping import gather, unbind  # noqa: F401  (torch.unbind and torch.gather)
from minidl.tensor.promotion import as_array, promote
from minidl.tensor.shapes import normalize_dim, unbroadcast


def tensor(data, requires_grad=False, dtype=None):
    """A new leaf tensor: floats become float32 unless given as a float64 array (as in PyTorch).

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def cat(tensors, dim=0):
    """Join tensors along an existing dimension.

    Taught in "Detection and segmentation" (book/part3/detection.md).
    """
    tensors = [t if isinstance(t, TensorBase) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat(): expected a non-empty list of tensors")
    dim = normalize_dim(dim, tensors[0].ndim)
    bounds = [0]
    for t in tensors:
        bounds.append(bounds[-1] + t.shape[dim])
    try:
        out = backend.xp().concatenate([t.data for t in tensors], axis=dim)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ValueError(f"cat(): shapes {shapes} must agree except in dimension {dim}") from None

    def backward(g):
        slicer = [slice(None)] * g.ndim
        grads = []
        for start, stop in zip(bounds[:-1], bounds[1:]):
            slicer[dim] = slice(start, stop)
            grads.append(g[tuple(slicer)])
        return tuple(grads)

    return TensorBase._from_op(out, tuple(tensors), backward)


def stack(tensors, dim=0):
    """Join same-shape tensors along a new dimension.

    Taught in "Losses" (book/part1/losses.md).
    """
    tensors = [t if isinstance(t, TensorBase) else Tensor(t) for t in tensors]
    if len({t.shape for t in tensors}) > 1:
        raise ValueError(f"stack(): all tensors must have the same shape, got {[t.shape for t in tensors]}")
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other``; gradients flow to the chosen side.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """
    condition = condition.data if isinstance(condition, TensorBase) else as_array(condition)
    input, other = promote(input, other)  # PyTorch's promotion: where(mask, x, 0.0) keeps x's float32
    out = backend.xp().where(condition, input.data, other.data)

    def backward(g):
        return (
            unbroadcast(g * condition, input.shape),
            unbroadcast(g * ~condition, other.shape),
        )

    return TensorBase._from_op(out, (input, other), backward)


def to_numpy(x):
    """A host NumPy array from a Tensor or a backend array (detached), e.g. for plotting.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    if isinstance(x, TensorBase):
        x = x.data
    current = backend.current()
    return current.to_host(x) if current.is_array(x) else current.to_host(current.from_host(x))
