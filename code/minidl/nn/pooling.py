"""Pooling: downsample each feature map by the maximum (or the mean) of every small window.

Taught in "Convolutional networks" (``book/part3/cnn.md``).
"""

from minidl import backend
from minidl.nn.conv import _check_input, _crop, _output_size, _pair, pad2d
from minidl.nn.module import Module
from minidl.tensor import Tensor

__all__ = ["AvgPool2d", "MaxPool2d", "avg_pool2d", "max_pool2d"]


def _pool_arguments(input, kernel_size, stride, padding, name):
    _check_input(input, name)
    kernel = _pair(kernel_size, f"{name}: kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, f"{name}: stride", 1)
    padding = _pair(padding, f"{name}: padding", 0)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{name}: padding {padding} must be at most half of kernel_size {kernel}")
    return kernel, stride, padding, _output_size(input.shape[2:], kernel, stride, padding, name)


def _window_slices(kernel, stride, out_size):
    """For each offset (i, j) inside the window, the slice picking that entry of every window at once."""
    (kh, kw), (sh, sw), (h_out, w_out) = kernel, stride, out_size
    for i in range(kh):
        for j in range(kw):
            yield (Ellipsis, slice(i, i + sh * h_out, sh), slice(j, j + sw * w_out, sw))


def max_pool2d(input, kernel_size, stride=None, padding=0):
    """The largest value in each window (stride defaults to kernel_size, so windows don't overlap).

    The gradient flows only to the entry that was the maximum (the first one, if several tie).

    Taught in "Convolutional networks" (book/part3/cnn.md).
    """
    kernel, stride, padding, out_size = _pool_arguments(input, kernel_size, stride, padding, "max_pool2d")
    xp = backend.xp()
    padded = pad2d(input.data, padding, value=-float("inf"))
    offsets = list(_window_slices(kernel, stride, out_size))  # the kh*kw entries of every window
    out = padded[offsets[0]].copy()
    for offset in offsets[1:]:
        out = xp.maximum(out, padded[offset])

    def backward(g):
        grad = xp.zeros(padded.shape, dtype=g.dtype)
        unclaimed = xp.ones(out.shape, dtype=bool)  # windows whose maximum has not been found yet
        for offset in offsets:
            winner = (padded[offset] == out) & unclaimed  # the first maximum wins ties
            grad[offset] += winner * g  # += : overlapping windows add up
            unclaimed &= ~winner
        return (_crop(grad, padding),)

    return Tensor._from_op(out, (input,), backward)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    """The mean of each window; zero padding counts towards the mean, as PyTorch's default does.

    Taught in "Convolutional networks" (book/part3/cnn.md).
    """
    kernel, stride, padding, out_size = _pool_arguments(input, kernel_size, stride, padding, "avg_pool2d")
    xp = backend.xp()
    padded = pad2d(input.data, padding)
    offsets = list(_window_slices(kernel, stride, out_size))
    size = kernel[0] * kernel[1]
    out = padded[offsets[0]].copy()
    for offset in offsets[1:]:
        out += padded[offset]
    out /= size

    def backward(g):
        grad = xp.zeros(padded.shape, dtype=g.dtype)
        share = g / size  # each entry of a window gets an equal share of the window's gradient
        for offset in offsets:
            grad[offset] += share
        return (_crop(grad, padding),)

    return Tensor._from_op(out, (input,), backward)


class MaxPool2d(Module):
    """Max pooling: keeps the strongest response in each window and shrinks the map by ``stride``.

    Taught in "Convolutional networks" (book/part3/cnn.md).
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "MaxPool2d: kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "MaxPool2d: stride", 1)
        self.padding = _pair(padding, "MaxPool2d: padding", 0)

    def forward(self, input):
        return max_pool2d(input, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Average pooling: the mean of each window.

    Taught in "Convolutional networks" (book/part3/cnn.md).
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "AvgPool2d: kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "AvgPool2d: stride", 1)

    def forward(self, input):
        return avg_pool2d(input, self.kernel_size, self.stride)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"
