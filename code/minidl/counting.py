"""Counting a model: its parameters, the multiply-adds of a forward pass, and its feature-map sizes.

These are the numbers chapters quote to compare models ("as many parameters, ten times the
arithmetic"), computed one way for the whole book. A multiply-add is one product added to a running
sum, the unit of a dot product; PyTorch's ``torch.utils.flop_counter`` counts each as two FLOPs.
"""

from minidl.nn.conv import Conv2d, ConvTranspose2d
from minidl.nn.functional.checks import pair
from minidl.nn.functional.conv import output_size
from minidl.nn.linear import Linear
from minidl.nn.module import Module
from minidl.tensor import Tensor, no_grad

__all__ = ["conv_output_size", "count_parameters", "multiply_adds"]


def count_parameters(model):
    """The number of trainable numbers in ``model``: ``sum(p.numel() for p in model.parameters())``.

    A parameter shared by two layers counts once, as ``parameters()`` yields it once. Returns an int;
    a ``TypeError`` if ``model`` is not a ``Module``.

    Taught in "Convolutional networks" (book/part3/cnn.md), "Encoding language" (book/part2/embeddings.md) and "Attention and transformers" (book/part2/attention.md).
    """
    if not isinstance(model, Module):
        raise TypeError(f"count_parameters: model must be a minidl.nn.Module, got {type(model).__name__}")
    return sum(parameter.numel() for parameter in model.parameters())


def conv_output_size(size, kernel_size, stride=1, padding=0):
    """Output height (or width) of a convolution or pooling window: floor((size + 2 padding - kernel) / stride) + 1.

    The formula ``nn.Conv2d`` and ``nn.MaxPool2d`` use (no dilation, PyTorch's default
    ``ceil_mode=False``). Each argument is an int, or a pair (height, width); the result is an int, or a
    pair if any argument is one. A ``TypeError`` names an argument that is neither; a ``ValueError`` one
    that is not positive (negative, for ``padding``), or a kernel larger than the padded input.

    Taught in "Convolution" (book/part3/convolution.md) and "Convolutional networks" (book/part3/cnn.md).
    """
    arguments = dict(size=size, kernel_size=kernel_size, stride=stride, padding=padding)
    for name, value in arguments.items():
        if not isinstance(value, (int, tuple, list)):
            raise TypeError(f"conv_output_size: {name} must be an int or a pair of ints, got {value!r}")
    pairs = any(not isinstance(value, int) for value in arguments.values())
    sizes = output_size(
        pair(size, "conv_output_size: size", 1),
        pair(kernel_size, "conv_output_size: kernel_size", 1),
        pair(stride, "conv_output_size: stride", 1),
        pair(padding, "conv_output_size: padding", 0),
        "conv_output_size",
    )
    return sizes if pairs else sizes[0]


def multiply_adds(model, input):
    """Multiply-adds of one forward pass of ``model`` on ``input``, per layer, in the order they ran.

    One rule for every layer with a weight: it costs ``weight.numel()`` multiply-adds per position it
    is applied at. ``Linear`` is applied at every row of its input, (N, in) or (N, L, in); ``Conv2d`` at
    every output pixel of every image; ``ConvTranspose2d`` at every input pixel (each input pixel
    scatters the whole kernel). Biases, activations, pooling and normalization are not counted: they
    cost one operation per output, small beside the weighted sums. Only layers called as modules are
    seen, so a layer that calls ``F.linear`` itself is not counted. The model runs once under
    ``no_grad``; for a per-example cost pass a batch of one.

    Returns a dict {layer name, as ``named_modules`` gives it: multiply-adds (int)}; a layer called
    twice is counted twice. ``sum(...values())`` is the total, half of PyTorch's FLOP count
    (``torch.utils.flop_counter.FlopCounterMode``) for these layers. A ``TypeError`` if ``model`` is not
    a ``Module`` or ``input`` not a ``Tensor``.

    Taught in "Convolutional networks" (book/part3/cnn.md) and "Detection and segmentation" (book/part3/detection.md).
    """
    if not isinstance(model, Module):
        raise TypeError(f"multiply_adds: model must be a minidl.nn.Module, got {type(model).__name__}")
    if not isinstance(input, Tensor):
        raise TypeError(f"multiply_adds: input must be a minidl Tensor, got {type(input).__name__}")
    counts, wrapped = {}, []

    def counted(name, layer):
        forward = layer.forward

        def forward_and_count(x, *args, **kwargs):
            output = forward(x, *args, **kwargs)
            if isinstance(layer, ConvTranspose2d):
                positions = x.numel() // x.shape[1]            # input pixels: N * H_in * W_in
            elif isinstance(layer, Conv2d):
                positions = output.numel() // output.shape[1]  # output pixels: N * H_out * W_out
            else:
                positions = output.numel() // output.shape[-1]  # rows: N (or N * L)
            counts[name] = counts.get(name, 0) + positions * layer.weight.numel()
            return output

        return forward_and_count

    try:
        for name, layer in model.named_modules():
            if isinstance(layer, (Conv2d, ConvTranspose2d, Linear)):
                layer.forward = counted(name, layer)           # an instance attribute shadows the method
                wrapped.append(layer)
        with no_grad():
            model(input)
    finally:
        for layer in wrapped:
            del layer.forward
    return counts
