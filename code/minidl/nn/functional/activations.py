"""Activation functions (relu, sigmoid, tanh, softmax, gelu, ...) and their derivatives."""

import math

from minidl import backend
from minidl.tensor import Tensor
from minidl.tensor.elementwise import logistic
from minidl.tensor.promotion import narrowed

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def relu(input):
    """max(0, x): unbounded above, zero gradient below.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    return input.relu()


def sigmoid(input):
    """1 / (1 + e^(-x)), squashing into (0, 1).

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    return input.sigmoid()


def tanh(input):
    """tanh(z), the hyperbolic tangent; its derivative is 1 - tanh(z)^2.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    return input.tanh()


def logsigmoid(input):
    """log sigma(x) = min(x, 0) - log(1 + e^(-|x|)): finite for every x, where log(sigmoid(x)) gives -inf.

    The gradient is 1 - sigma(x) = sigma(-x): 1 far to the left (where log sigma(x) ~ x), 0 far to
    the right. Same values and gradients as PyTorch's ``F.logsigmoid``; shape and dtype of the input.

    Taught in "Losses" (book/part1/losses.md).
    """
    xp = backend.xp()
    x = input.data
    out = xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))
    return Tensor._from_op(out, (input,), lambda g: (g * logistic(-x),))


def softplus(input, beta=1.0, threshold=20.0):
    """(1/beta) log(1 + e^(beta x)), a smooth ReLU; x itself where beta x > ``threshold`` (as PyTorch).

    Computed as (max(z, 0) + log(1 + e^(-|z|))) / beta with z = beta x, which cannot overflow: for
    large x it is x. (PyTorch overflows to inf when ``threshold`` is set above exp's range; the library
    does not.) The gradient is sigma(beta x), and 1 above the threshold. ``beta = 0`` raises ValueError.

    Taught in "Losses" (book/part1/losses.md).
    """
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero (the formula divides by it), got 0")
    xp = backend.xp()
    x = input.data
    z = x * beta
    linear = z > threshold
    out = xp.where(linear, x, (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta)
    return Tensor._from_op(narrowed(out, x.dtype), (input,), lambda g: (g * xp.where(linear, 1, logistic(z)),))


def softmax(input, dim):
    """e^(x_i) / sum_j e^(x_j) along ``dim``, as ``input.softmax(dim)`` (the tensor layer computes it).

    Taught in "Losses" (book/part1/losses.md).
    """
    return input.softmax(dim)


def log_softmax(input, dim):
    """x_i - log sum_j e^(x_j) along ``dim``, as ``input.log_softmax(dim)`` (the tensor layer computes it).

    Taught in "Losses" (book/part1/losses.md).
    """
    return input.log_softmax(dim)


def _erf(x):
    """erf(x) by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7, float32's resolution)."""
    xp = backend.xp()
    sign, a = xp.sign(x), xp.abs(x)
    t = 1 / (1 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1 - poly * xp.exp(-a * a))


def gelu(input, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF: a smooth ReLU used in transformers (as ``F.gelu``).

    ``approximate="tanh"`` uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as PyTorch does.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """
    xp = backend.xp()
    x = input.data
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x**3)
        tanh = xp.tanh(inner)
        out = 0.5 * x * (1 + tanh)

        def backward(g):
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return (g * (0.5 * (1 + tanh) + 0.5 * x * (1 - tanh * tanh) * d_inner),)
    elif approximate == "none":
        cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
        out = x * cdf

        def backward(g):
            density = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            return (g * (cdf + x * density),)
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Tensor._from_op(out.astype(x.dtype), (input,), backward)
