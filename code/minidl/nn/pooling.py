"""Pooling: downsample each feature map by the maximum (or the mean) of every small window.

Inputs are (N, C, H, W) or (C, H, W); options and output sizes are PyTorch's.
Taught in "Convolutional networks" (``book/part3/cnn.md``).
"""

from minidl.nn.functional.checks import pair
from minidl.nn.functional.pooling import avg_pool2d, max_pool2d
from minidl.nn.module import Module

__all__ = ["AvgPool2d", "MaxPool2d"]


class MaxPool2d(Module):
    """Max pooling: keeps the strongest response in each window and shrinks the map by ``stride``.

    Options as in PyTorch: ``padding`` (never wins), ``dilation`` and ``ceil_mode``.

    Taught in "Convolutional networks" (book/part3/cnn.md).
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode

    def forward(self, input):
        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Average pooling: the mean of each window (zero padding counts, as PyTorch's default).

    Taught in "Convolutional networks" (book/part3/cnn.md).
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, "AvgPool2d: kernel_size", 1)
        self.stride = self.kernel_size if stride is None else pair(stride, "AvgPool2d: stride", 1)
        self.padding = pair(padding, "AvgPool2d: padding", 0)

    def forward(self, input):
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
