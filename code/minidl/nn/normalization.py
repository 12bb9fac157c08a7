"""Layer normalization (``torch.nn.LayerNorm``): standardize each example's features, then rescale.

Transformers put one before (pre-norm) or after (post-norm) every sublayer so activations keep a steady
scale however deep the stack. Taught in "Attention and transformers" (``book/part2/attention.md``).
"""


from minidl import backend
from minidl.nn import init
from minidl.nn.functional.checks import normalized_shape_tuple
from minidl.nn.functional.normalization import layer_norm
from minidl.nn.module import Module, Parameter


class LayerNorm(Module):
    """Normalize over the trailing ``normalized_shape`` dimensions, with a learned scale and shift.

    ``weight`` starts at ones and ``bias`` at zeros (as in PyTorch), so the layer starts as a pure
    standardization.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True):
        super().__init__()
        self.normalized_shape = normalized_shape_tuple(normalized_shape)
        if any(n <= 0 for n in self.normalized_shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive, got {self.normalized_shape}")
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            xp = backend.xp()
            self.weight = Parameter(xp.empty(self.normalized_shape, dtype=backend.float32))
            self.bias = Parameter(xp.empty(self.normalized_shape, dtype=backend.float32))
            init.ones_(self.weight)
            init.zeros_(self.bias)
        else:
            self.weight = self.bias = None

    def forward(self, input):
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
