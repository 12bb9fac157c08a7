"""Gradient clipping (``torch.nn.utils``). Taught in "Vanishing and exploding gradients"."""

import math

from minidl.tensor import Tensor


def _with_grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale all gradients together so their joint norm is at most ``max_norm``.

    Returns the total norm before clipping, as a tensor (as PyTorch does).

    Taught in "Vanishing and exploding gradients" (book/part2/vanishing_gradients.md) and "Long short-term memory" (book/part2/lstm.md).
    """
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be non-negative, got {max_norm}")
    parameters = _with_grads(parameters)
    if not parameters:
        return Tensor(0.0)
    if norm_type == math.inf:
        total = max(float(abs(p.grad.data).max()) for p in parameters)
    else:
        total = sum(float((abs(p.grad.data) ** norm_type).sum()) for p in parameters) ** (1.0 / norm_type)
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for p in parameters:
            p.grad.data *= p.grad.dtype.type(scale)
    return Tensor(total)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient entry into [-clip_value, clip_value].

    Taught in "Vanishing and exploding gradients" (book/part2/vanishing_gradients.md).
    """
    for p in _with_grads(parameters):
        p.grad.data[...] = p.grad.data.clip(-clip_value, clip_value)
