"""The dense (fully connected) layer and shape helpers. Taught in "Neural networks" (``book/part1/networks.md``)."""

from minidl import backend
from minidl.nn import functional as F
from minidl.nn import init
from minidl.nn.functional.checks import check_input_tensor, check_size
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


class Identity(Module):
    """Returns its input unchanged: a placeholder where a layer is optional (e.g. no nonlinearity).

    Taught in "Neural networks" (book/part1/networks.md).
    """
    def forward(self, input):
        return input
