"""Tensor factories named as in PyTorch (``zeros``, ``randn``, ...), on the current backend."""

from minidl import backend
from minidl.tensor import Tensor
from minidl.tensor.shapes import shape_arg


def _leaf(data, requires_grad):
    return Tensor(data, requires_grad=requires_grad)


def zeros(*shape, dtype=backend.float32, requires_grad=False):
    """A tensor of zeros of the given shape (float32 unless ``dtype`` says otherwise), e.g. a bias or a state.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    return _leaf(backend.xp().zeros(shape_arg(shape), dtype=dtype), requires_grad)


def ones(*shape, dtype=backend.float32, requires_grad=False):
    """A tensor of ones of the given shape (float32 unless ``dtype`` says otherwise).

    Taught in "Losses" (book/part1/losses.md).
    """
    return _leaf(backend.xp().ones(shape_arg(shape), dtype=dtype), requires_grad)


def zeros_like(t, requires_grad=False):
    """Zeros with the shape and dtype of ``t``."""
    return zeros(t.shape, dtype=t.dtype, requires_grad=requires_grad)


def ones_like(t, requires_grad=False):
    """Ones with the shape and dtype of ``t``."""
    return ones(t.shape, dtype=t.dtype, requires_grad=requires_grad)


def rand(*shape, dtype=backend.float32, requires_grad=False):
    """Uniform on [0, 1), drawn from the library's seeded generator."""
    return _leaf(backend.current().uniform(shape_arg(shape), dtype), requires_grad)


def randn(*shape, dtype=backend.float32, requires_grad=False):
    """Standard normal, drawn from the library's seeded generator.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    return _leaf(backend.current().normal(shape_arg(shape), dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None):
    """Like ``range`` as a tensor; int64 for integer arguments, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = backend.int64 if all(isinstance(v, int) for v in (start, end, step)) else backend.float32
    return Tensor(backend.xp().arange(start, end, step, dtype=dtype))
