"""Activation functions (relu, leaky_relu, elu, silu, sigmoid, tanh, softmax, gelu, ...) and their derivatives.

The in-place forms (``inplace=True``) write the result into the input, as PyTorch's do.
"""

import math

from minidl import backend
from minidl.tensor import Tensor
from minidl.tensor.elementwise import logistic
from minidl.tensor.promotion import narrowed

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def relu(input, inplace=False):
    """max(0, x): unbounded above, zero gradient below (and at 0, as PyTorch).

    ``inplace=True`` overwrites ``input`` with the result and returns it, as ``torch.relu_``: the
    input's version counter moves on, and a leaf that requires a gradient raises RuntimeError.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    return _maybe_in_place(input, inplace, lambda x: x.relu())


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, else negative_slope * x: a ReLU whose negative side keeps a small gradient.

    The gradient is 1 where x > 0 and ``negative_slope`` elsewhere (at 0 too, as PyTorch). Shape and
    dtype of the input; ``inplace`` as in ``relu`` (and, as PyTorch, its backward pass raises
    RuntimeError for a negative slope, where the input can't be recovered from the output).
    """

    def leaky(x):
        xp = backend.xp(x.data)
        positive = x.data > 0
        slope = x.data.dtype.type(negative_slope)

        def backward(g):
            _check_in_place_slope(inplace, negative_slope, "leakyReLu")
            return (g * xp.where(positive, 1, slope).astype(g.dtype),)

        out = xp.where(positive, x.data, x.data * slope)
        return Tensor._from_op(out, (x,), backward, name="LeakyReluBackward1" if inplace else "LeakyReluBackward0")

    return _maybe_in_place(input, inplace, leaky)


def elu(input, alpha=1.0, inplace=False):
    """x where x > 0, else alpha (e^x - 1): smooth at 0 for alpha = 1, with negative outputs down to -alpha.

    The gradient is 1 where x > 0 and alpha e^x elsewhere (alpha at 0, as PyTorch); computed with
    expm1 so small negative x lose no digits. Shape and dtype of the input; ``inplace`` as in
    ``leaky_relu`` (a negative ``alpha`` can't be differentiated in place).
    """

    def exponential_linear(x):
        xp = backend.xp(x.data)
        positive = x.data > 0
        alpha_ = x.data.dtype.type(alpha)
        negative_part = xp.expm1(xp.minimum(x.data, 0)) * alpha_

        def backward(g):  # alpha e^x = negative_part + alpha
            _check_in_place_slope(inplace, alpha, "elu")
            return (g * xp.where(positive, 1, negative_part + alpha_).astype(g.dtype),)

        out = xp.where(positive, x.data, negative_part)
        return Tensor._from_op(out, (x,), backward, name="EluBackward1" if inplace else "EluBackward0")

    return _maybe_in_place(input, inplace, exponential_linear)


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish): smooth, slightly negative below 0, x for large x.

    The gradient is s (1 + x (1 - s)) with s = sigmoid(x). Shape and dtype of the input; ``inplace``
    as in ``relu``.
    """

    def swish(x):
        s = logistic(x.data)
        return Tensor._from_op(x.data * s, (x,), lambda g: (g * s * (1 + x.data * (1 - s)),), name="SiluBackward0")

    return _maybe_in_place(input, inplace, swish)


def _maybe_in_place(input, inplace, function):
    """``function(input)``, or with ``inplace`` its value written into ``input`` (which is returned), as
    PyTorch's in-place activations: the input's version counter moves on, the graph is rewritten."""
    if inplace:
        return input._in_place(function)
    return function(input)


def _check_in_place_slope(inplace, slope, name):
    """PyTorch's error for the backward pass of an in-place activation with a negative slope."""
    if inplace and slope < 0:
        raise RuntimeError(
            f"In-place {name} backward calculation is triggered with a negative slope which is not supported. "
            "This is caused by calling in-place forward function with a negative slope, please call "
            "out-of-place version instead."
        )


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
    xp = backend.xp(input.data)
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
    xp = backend.xp(input.data)
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
    """erf(x) of an array by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7, float32's resolution):

        erf(x) = sign(x) (1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^(-x^2)),  t = 1 / (1 + p |x|).

    Computed in place in two arrays, each operation in the order the formula reads, so the roundings are
    those of the one-line expression without its dozen temporary arrays.
    """
    xp = backend.xp(x)
    a = xp.abs(x)
    t = a * 0.3275911
    t += 1
    xp.divide(1, t, out=t)
    poly = t * 1.061405429
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += coefficient
        poly *= t
    a *= a  # x^2, then e^(-x^2) in the same array
    xp.negative(a, out=a)
    xp.exp(a, out=a)
    poly *= a
    xp.subtract(1, poly, out=poly)
    poly *= xp.sign(x)
    return poly


def gelu(input, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF: a smooth ReLU used in transformers (as ``F.gelu``).

    ``approximate="tanh"`` uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as PyTorch does.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """
    xp = backend.xp(input.data)
    x = input.data
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * x**3)
        tanh = xp.tanh(inner)
        out = 0.5 * x * (1 + tanh)

        def backward(g):
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return (g * (0.5 * (1 + tanh) + 0.5 * x * (1 - tanh * tanh) * d_inner),)
    elif approximate == "none":
        cdf = _erf(x / math.sqrt(2))
        cdf += 1
        cdf *= 0.5
        out = x * cdf

        def backward(g):  # g (Phi(x) + x phi(x)), phi(x) = e^(-x^2 / 2) / sqrt(2 pi), computed in place
            slope = x * -0.5
            slope *= x
            xp.exp(slope, out=slope)
            slope /= math.sqrt(2 * math.pi)
            slope *= x
            slope += cdf
            slope *= g
            return (slope,)
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Tensor._from_op(out.astype(x.dtype, copy=False), (input,), backward)
