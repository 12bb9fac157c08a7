"""Gradient clipping (``torch.nn.utils``). Taught in "Vanishing and exploding gradients"."""

import math

from minidl import backend
from minidl.tensor import Tensor


def _with_grads(parameters):
    """The parameters that have a gradient, each once (a parameter listed twice is still one)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    unique = {id(p): p for p in parameters if p.grad is not None}
    return list(unique.values())


def _vector_norm(values, norm_type):
    """||values||_p over all entries: (sum |v|^p)^(1/p); max |v| for p = inf, min |v| for -inf, the
    count of nonzero entries for p = 0 (``torch.linalg.vector_norm``). float16 is summed in float32."""
    xp = backend.xp(values)
    magnitudes = xp.abs(values.astype(backend.float32) if values.dtype == "float16" else values)
    if magnitudes.size == 0:
        total = xp.zeros((), dtype=magnitudes.dtype)
    elif norm_type == math.inf:
        total = magnitudes.max()
    elif norm_type == -math.inf:
        total = magnitudes.min()
    elif norm_type == 0:
        total = (magnitudes != 0).sum()
    else:
        total = (magnitudes**norm_type).sum() ** (1.0 / norm_type)
    return xp.asarray(total).astype(values.dtype)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so their joint norm is at most ``max_norm``; return that norm.

    As in PyTorch: total = ||(||g_1||_p, ..., ||g_k||_p)||_p, the p-norm of every gradient entry
    together (``norm_type`` may be inf); each gradient is multiplied by min(1, max_norm / (total + 1e-6)).
    A NaN or infinite total raises RuntimeError with ``error_if_nonfinite=True``; otherwise the
    multiplication goes ahead, as in PyTorch, and makes the gradients NaN (or 0 where finite, for an
    infinite total). Returns the total as a 0-d tensor of the gradients' dtype.

    Stricter than PyTorch, which would silently corrupt the update: a negative ``max_norm`` raises
    ValueError (PyTorch flips every gradient's sign), and a gradient array shared by two parameters is
    scaled once (PyTorch scales it once per parameter).

    Taught in "Vanishing and exploding gradients" (book/part2/vanishing_gradients.md) and "Long short-term memory" (book/part2/lstm.md).
    """
    max_norm, norm_type = float(max_norm), float(norm_type)
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be non-negative, got {max_norm}")
    parameters = _with_grads(parameters)
    if not parameters:
        return Tensor(0.0)
    xp = backend.xp(parameters[0].grad.data)
    total = _vector_norm(xp.stack([_vector_norm(p.grad.data, norm_type) for p in parameters]), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
            "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
            "anyway, set `error_if_nonfinite=False`"
        )
    scale = xp.minimum(max_norm / (total + 1e-6), 1.0)  # NaN stays NaN, as in PyTorch
    for grad in {id(p.grad.data): p.grad.data for p in parameters}.values():  # shared arrays once
        grad *= scale.astype(grad.dtype)
    return Tensor._from_op(total, (), None)


def clip_grad_value_(parameters, clip_value):
    """Clamp every entry of every gradient into [-clip_value, clip_value].

    Taught in "Vanishing and exploding gradients" (book/part2/vanishing_gradients.md).
    """
    for p in _with_grads(parameters):
        p.grad.data[...] = p.grad.data.clip(-clip_value, clip_value)
