"""Layer normalization as a function."""

import math

from minidl import backend
from minidl.nn.functional.checks import normalized_shape_tuple
from minidl.tensor import Tensor


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last ``len(normalized_shape)`` dimensions.

    The variance is the biased one (divide by n), as in PyTorch. Fused: the backward pass is the
    closed form dx = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / sqrt(var + eps).
    """
    shape = normalized_shape_tuple(normalized_shape)
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
