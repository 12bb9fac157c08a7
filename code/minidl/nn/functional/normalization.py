"""Layer and batch normalization as functions: standardize, then scale and shift, with fused gradients."""

import math

from minidl import backend
from minidl.nn.functional.checks import normalized_shape_tuple
from minidl.tensor import Tensor, no_grad


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
    xp = backend.xp(input.data)
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


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalize each channel (dimension 1) over the batch and positions, then scale and shift (``F.batch_norm``).

    ``input`` has shape (N, C, *) (C channels, any number of positions); ``running_mean``,
    ``running_var``, ``weight`` and ``bias`` have C entries or are None. With ``training`` the
    statistics are the batch's, per channel over the N * prod(*) values: mean m and biased variance
    v (divide by n), and the running statistics, where given, move towards them in place:
    running = (1 - momentum) running + momentum stat, with the UNBIASED variance v n / (n - 1), as
    PyTorch. Without ``training`` the running statistics normalize. Then
    y = (x - m) / sqrt(v + eps) * weight + bias. The gradient is fused (one node, as PyTorch's
    NativeBatchNormBackward0): with x_hat the normalized input and g_hat = g * weight,
    dx = (g_hat - mean(g_hat) - x_hat mean(g_hat x_hat)) / sqrt(v + eps) in training (the statistics
    depend on x), dx = g_hat / sqrt(v + eps) in evaluation; no gradient reaches the running statistics.

    Same dtype as ``input``; a float16 input may have float32 statistics and parameters (computed in
    float32, as PyTorch). Errors, as PyTorch's: ValueError for a single value per channel in
    training, RuntimeError for statistics or parameters without C entries, for missing running
    statistics in evaluation and for mixed dtypes.
    """
    shape = _check_batch_norm_input(input, running_mean, running_var, weight, bias, training)
    axes = (0,) + tuple(range(2, input.ndim))
    count = input.numel() // input.shape[1]
    work = _working_dtype(input, running_mean, running_var, weight, bias)
    x = input.data.astype(work, copy=False)
    xp = backend.xp(input.data)
    if training:
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        with no_grad():  # the running statistics are state, not part of the graph
            if running_mean is not None:
                running_mean.copy_(Tensor._from_op((1 - momentum) * running_mean.data + momentum * mean.reshape(-1), (), None))
            if running_var is not None:
                unbiased = var.reshape(-1) * (count / max(count - 1, 1))
                running_var.copy_(Tensor._from_op((1 - momentum) * running_var.data + momentum * unbiased, (), None))
    else:
        centered = x - running_mean.data.reshape(shape)
        var = running_var.data.reshape(shape)
    inv_std = 1 / xp.sqrt(var + eps)
    normalized = centered * inv_std
    out = normalized
    if weight is not None:
        out = out * weight.data.reshape(shape)
    if bias is not None:
        out = out + bias.data.reshape(shape)
    needs_input = input.requires_grad
    input_dtype = input.dtype

    def backward(g):
        g = g.astype(work, copy=False)
        grad_normalized = g * weight.data.reshape(shape) if weight is not None else g
        grad_input = None
        if needs_input:
            if training:
                mean_grad = grad_normalized.mean(axis=axes, keepdims=True)
                mean_grad_x = (grad_normalized * normalized).mean(axis=axes, keepdims=True)
                grad_input = inv_std * (grad_normalized - mean_grad - normalized * mean_grad_x)
            else:
                grad_input = grad_normalized * inv_std
            grad_input = grad_input.astype(input_dtype, copy=False)
        grads = [grad_input]
        if weight is not None:
            grads.append((g * normalized).sum(axis=axes).reshape(weight.shape) if weight.requires_grad else None)
        if bias is not None:
            grads.append(g.sum(axis=axes).reshape(bias.shape) if bias.requires_grad else None)
        return tuple(grads)

    parents = (input,) + tuple(p for p in (weight, bias) if p is not None)
    return Tensor._from_op(out.astype(input.dtype, copy=False), parents, backward, name="NativeBatchNormBackward0")


def _check_batch_norm_input(input, running_mean, running_var, weight, bias, training):
    """The shape (1, C, 1, ...) that per-channel vectors take to broadcast against ``input``; PyTorch's
    errors for a wrong number of entries, missing running statistics or one value per channel."""
    if input.ndim < 2:
        raise ValueError(
            f"batch_norm: input must have shape (N, C, *) with a batch and a channel dimension, got shape {input.shape}"
        )
    channels = input.shape[1]
    vectors = {"running_mean": running_mean, "running_var": running_var, "weight": weight, "bias": bias}
    for name, vector in vectors.items():
        if vector is not None and vector.numel() != channels:
            raise RuntimeError(
                f"{name} should contain {channels} elements not {vector.numel()} "
                f"(one per channel: input of shape {input.shape} has {channels} channels in dimension 1)"
            )
    if training and input.numel() // max(channels, 1) == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {input.shape}; "
            "a batch of one example with no positions has no spread to normalize by: use a larger batch, "
            "or call .eval() to normalize with the running statistics"
        )
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError(
            "running_mean must be defined in evaluation mode (running_var too): pass them, or training=True "
            "to normalize with the batch's statistics"
        )
    return (1, channels) + (1,) * (input.ndim - 2)


def _working_dtype(input, *vectors):
    """The dtype the statistics are computed in: the input's, or float32 for a float16 input with
    float32 statistics and parameters (PyTorch's one mixed case); RuntimeError for any other mix."""
    dtypes = {v.dtype for v in vectors if v is not None}
    if all(d == input.dtype for d in dtypes):
        return input.dtype
    if input.dtype == "float16" and all(d == backend.float32 for d in dtypes):
        return backend.float32
    raise RuntimeError(
        f"mixed dtype (CPU): all inputs must share same datatype. The input is {input.dtype} but the statistics "
        f"and parameters are {sorted(str(d) for d in dtypes)}; convert one side, e.g. x.float()"
    )
