"""Layer normalization (``torch.nn.LayerNorm``): standardize each example's features, then rescale.

Transformers put one before (pre-norm) or after (post-norm) every sublayer so activations keep a steady
scale however deep the stack. Taught in "Attention and transformers" (``book/part2/attention.md``).
"""

import math

from minidl import backend
from minidl.nn import init
from minidl.nn.module import Module, Parameter
from minidl.tensor import Tensor


def _normalized_shape(normalized_shape):
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(normalized_shape)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last ``len(normalized_shape)`` dimensions.

    The variance is the biased one (divide by n), as in PyTorch. Fused: the backward pass is the
    closed form dx = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / sqrt(var + eps).

    Taught in "Attention and transformers" (book/part2/attention.md).
    """
    shape = _normalized_shape(normalized_shape)
    if input.shape[input.ndim - len(shape):] != shape or input.ndim < len(shape):
        raise ValueError(
            f"layer_norm: input of shape {input.shape} must end with normalized_shape {shape}"
        )
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and param.shape != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape}, got {param.shape}")
    xp = backend.xp()
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    count = math.prod(shape)
    x = input.data
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    inv_std = 1 / xp.sqrt((centered * centered).mean(axis=axes, keepdims=True) + eps)
    normalized = centered * inv_std
    out = normalized
    if weight is not None:
        out = out * weight.data
    if bias is not None:
        out = out + bias.data
    lead = tuple(range(input.ndim - len(shape)))

    def backward(g):
        grad_normalized = g * weight.data if weight is not None else g
        grad_input = None
        if input.requires_grad:
            mean_grad = grad_normalized.sum(axis=axes, keepdims=True) / count
            mean_grad_x = (grad_normalized * normalized).sum(axis=axes, keepdims=True) / count
            grad_input = inv_std * (grad_normalized - mean_grad - normalized * mean_grad_x)
        grads = [grad_input]
        if weight is not None:
            grads.append((g * normalized).sum(axis=lead) if weight.requires_grad else None)
        if bias is not None:
            grads.append(g.sum(axis=lead) if bias.requires_grad else None)
        return tuple(grads)

    parents = (input,) + tuple(p for p in (weight, bias) if p is not None)
    return Tensor._from_op(out, parents, backward)


class LayerNorm(Module):
    """Normalize over the trailing ``normalized_shape`` dimensions, with a learned scale and shift.

    ``weight`` starts at ones and ``bias`` at zeros (as in PyTorch), so the layer starts as a pure
    standardization.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True):
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape)
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
