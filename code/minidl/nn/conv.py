"""Convolution layers: ``Conv2d`` and the transposed convolution ``ConvTranspose2d`` (NCHW, as PyTorch).

A convolution slides a small kernel over the image; at each position it multiplies the kernel and the
patch under it element-wise, then sums. ``conv2d_naive`` does exactly that with two loops; ``conv2d``
gathers every patch into the columns of one matrix ("im2col") and does the whole layer as one matrix
multiplication, which is the same sum, computed many times faster.
Taught in "Convolution" (``book/part3/convolution.md``) and "Convolutional networks" (``book/part3/cnn.md``).
"""


from minidl import backend
from minidl.nn import init
from minidl.nn.functional.checks import check_image_input, check_input_tensor, check_size, pair
from minidl.nn.functional.conv import conv2d, conv_transpose2d
from minidl.nn.module import Module, Parameter

__all__ = ["Conv2d", "ConvTranspose2d"]


# ---- layers ------------------------------------------------------------------------------------
class Conv2d(Module):
    """A bank of ``out_channels`` learned filters, each of shape (in_channels, kh, kw), slid over the input.

    ``weight`` (out_channels, in_channels, kh, kw) and ``bias`` (out_channels,), initialized as PyTorch does.
    Channel counts must be positive ints and sizes ints or pairs of ints (TypeError otherwise, ValueError
    when out of range); the input a floating-point Tensor of shape (N, in_channels, H, W).

    Taught in "Convolution" (book/part3/convolution.md) and "Convolutional networks" (book/part3/cnn.md).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.in_channels = in_channels = check_size("Conv2d", "in_channels", in_channels)
        self.out_channels = out_channels = check_size("Conv2d", "out_channels", out_channels)
        self.kernel_size = pair(kernel_size, "Conv2d: kernel_size", 1)
        self.stride = pair(stride, "Conv2d: stride", 1)
        self.padding = pair(padding, "Conv2d: padding", 0)
        xp = backend.xp()
        self.weight = Parameter(xp.empty((out_channels, in_channels) + self.kernel_size, dtype=backend.float32))
        self.bias = Parameter(xp.empty((out_channels,), dtype=backend.float32)) if bias else None
        init.default_uniform_(self.weight, self.bias)

    def forward(self, input):
        _check_layer_input(self, input)
        return conv2d(input, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, bias={self.bias is not None}"
        )


class ConvTranspose2d(Module):
    """Learned upsampling: the transposed convolution, with ``weight`` (in_channels, out_channels, kh, kw).

    With kernel_size = stride = 2 it doubles the height and width, as segmentation decoders do.
    Arguments are checked as for ``Conv2d``; ``output_padding`` must be smaller than ``stride``.

    Taught in "Detection and segmentation" (book/part3/detection.md).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, bias=True):
        super().__init__()
        self.in_channels = in_channels = check_size("ConvTranspose2d", "in_channels", in_channels)
        self.out_channels = out_channels = check_size("ConvTranspose2d", "out_channels", out_channels)
        self.kernel_size = pair(kernel_size, "ConvTranspose2d: kernel_size", 1)
        self.stride = pair(stride, "ConvTranspose2d: stride", 1)
        self.padding = pair(padding, "ConvTranspose2d: padding", 0)
        self.output_padding = pair(output_padding, "ConvTranspose2d: output_padding", 0)
        if any(o >= s for o, s in zip(self.output_padding, self.stride)):
            raise ValueError(
                f"ConvTranspose2d: output_padding {self.output_padding} must be smaller than stride {self.stride}"
            )
        xp = backend.xp()
        self.weight = Parameter(xp.empty((in_channels, out_channels) + self.kernel_size, dtype=backend.float32))
        self.bias = Parameter(xp.empty((out_channels,), dtype=backend.float32)) if bias else None
        init.default_uniform_(self.weight, self.bias)

    def forward(self, input):
        _check_layer_input(self, input)
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, self.output_padding)

    def extra_repr(self):
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, output_padding={self.output_padding}, bias={self.bias is not None}"
        )


def _check_layer_input(layer, input):
    check_input_tensor(layer, input)
    check_image_input(input, repr(layer))
    if input.shape[1] != layer.in_channels:
        raise ValueError(
            f"{layer!r}: input has shape {input.shape}, i.e. {input.shape[1]} channels; "
            f"expected in_channels={layer.in_channels} in dimension 1 of (N, C, H, W)"
        )
