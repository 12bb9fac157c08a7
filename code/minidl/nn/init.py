"""Weight initialization (``torch.nn.init``): draws on the host so every backend gets the same numbers."""

import math

from minidl import backend


def _fill(tensor, host_values):
    tensor.data[...] = backend.of(tensor.data).from_host(host_values.astype(tensor.dtype))
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    """Fill ``tensor`` in place with draws from U(a, b)."""
    return _fill(tensor, backend.current().host_rng.uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill ``tensor`` in place with draws from N(mean, std^2).

    Taught in "Encoding language" (book/part2/embeddings.md).
    """
    return _fill(tensor, backend.current().host_rng.normal(mean, std, tensor.shape))


def zeros_(tensor):
    """Fill ``tensor`` in place with zeros."""
    tensor.data[...] = 0
    return tensor


def ones_(tensor):
    """Fill ``tensor`` in place with ones."""
    tensor.data[...] = 1
    return tensor


def _fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got {tensor.shape}")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def kaiming_uniform_(tensor, a=0.0, nonlinearity="leaky_relu"):
    """He initialization: U(-b, b) with b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2))."""
    fan_in, _ = _fan_in_and_fan_out(tensor)
    gain = math.sqrt(2.0 / (1 + a * a)) if nonlinearity == "leaky_relu" else math.sqrt(2.0)
    bound = gain * math.sqrt(3.0 / fan_in)
    return uniform_(tensor, -bound, bound)


def xavier_uniform_(tensor, gain=1.0):
    """Glorot initialization: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def default_uniform_(weight, bias):
    """PyTorch's default for Linear and Conv: kaiming_uniform_(a=sqrt(5)), bias U(+-1/sqrt(fan_in)).

    Taught in "Neural networks" (book/part1/networks.md) and "Convolution" (book/part3/convolution.md).
    """
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)
