"""The dense (fully connected) layer and shape helpers. Taught in "Neural networks" (``book/part1/networks.md``)."""

import math

from minidl import backend
from minidl.nn import functional as F
from minidl.nn import init
from minidl.nn.functional.checks import check_input_tensor, check_size, is_int
from minidl.nn.module import Module, Parameter


class Linear(Module):
    """y = x W^T + b: every output is a weighted sum of every input, plus a bias.

    ``weight`` has shape (out_features, in_features), ``bias`` (out_features,), initialized as PyTorch does.
    Sizes must be positive ints (TypeError, ValueError); the input a floating-point Tensor whose last
    dimension is ``in_features`` (TypeError for an array or a tuple, ValueError for a wrong width).

    Taught in "Neural networks" (book/part1/networks.md).
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = check_size("Linear", "in_features", in_features)
        self.out_features = check_size("Linear", "out_features", out_features)
        xp = backend.xp()
        self.weight = Parameter(xp.empty((self.out_features, self.in_features), dtype=backend.float32))
        self.bias = Parameter(xp.empty((self.out_features,), dtype=backend.float32)) if bias else None
        init.default_uniform_(self.weight, self.bias)

    def forward(self, input):
        check_input_tensor(self, input)
        if input.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"{self!r}: input has shape {input.shape}; expected its last dimension to be "
                f"in_features={self.in_features}"
            )
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flatten dimensions start_dim..end_dim into one (by default all but the batch dimension).

    Taught in "Convolutional networks" (book/part3/cnn.md).
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        check_input_tensor(self, input)
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``, the inverse of Flatten (``torch.nn.Unflatten``).

    E.g. ``Unflatten(1, (1, 28, 28))`` turns (N, 784) vectors into (N, 1, 28, 28) images, as a
    decoder does before its transposed convolutions. ``unflattened_size`` is a tuple (or list) of
    ints, one of which may be -1 (inferred). TypeError for anything else, IndexError for a ``dim``
    out of range, RuntimeError for sizes whose product is not the size of dimension ``dim``.
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(
                f"unflattened_size must be a tuple of ints, but found type {type(unflattened_size).__name__}"
            )
        for position, size in enumerate(unflattened_size):
            if not is_int(size):
                raise TypeError(
                    f"unflattened_size must be tuple of ints, but found element of type {type(size).__name__} "
                    f"at pos {position}"
                )
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input):
        check_input_tensor(self, input)
        if not -max(input.ndim, 1) <= self.dim < max(input.ndim, 1):
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-max(input.ndim, 1)}, "
                f"{max(input.ndim, 1) - 1}], but got {self.dim})"
            )
        dim = self.dim % max(input.ndim, 1)
        sizes = list(self.unflattened_size)
        if not sizes:
            raise RuntimeError("unflatten: sizes must be non-empty")
        if sizes.count(-1) > 1:
            raise RuntimeError(f"unflatten: only one dimension can be inferred (-1), got sizes {sizes}")
        known = math.prod(n for n in sizes if n != -1)
        length = input.shape[dim]
        if (-1 not in sizes and known != length) or (-1 in sizes and (known == 0 or length % known)):
            raise RuntimeError(
                f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {self.dim} ({length}) "
                "in the input tensor"
            )
        return input.reshape(input.shape[:dim] + tuple(sizes) + input.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Identity(Module):
    """Returns its input unchanged: a placeholder where a layer is optional (e.g. no nonlinearity).

    Taught in "Neural networks" (book/part1/networks.md).
    """
    def forward(self, input):
        return input
