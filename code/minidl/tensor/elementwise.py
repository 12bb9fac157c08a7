"""Elementwise functions of tensors (exp, log, tanh, sigmoid, relu, clamp, softmax) and their derivatives."""

from minidl import backend
from minidl.tensor.base import TensorBase
from minidl.tensor.promotion import narrowed, promote, widened
from minidl.tensor.shapes import unbroadcast


class Elementwise(TensorBase):
    """The elementwise functions of Tensor; each backward multiplies by the local derivative.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """

    __slots__ = ()

    def exp(self):
        """e^x elementwise; the backward multiplies by e^x.

        Taught in "Losses" (book/part1/losses.md).
        """
        out = backend.xp().exp(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g * out,))

    def log(self):
        """The natural logarithm elementwise; the backward divides by x.

        Taught in "Losses" (book/part1/losses.md).
        """
        return TensorBase._from_op(backend.xp().log(self.data), (self,), lambda g: (g / self.data,))

    def sqrt(self):
        """The square root elementwise; the backward multiplies by 1 / (2 sqrt(x))."""
        out = backend.xp().sqrt(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g * 0.5 / out,))

    def abs(self):
        """|x| elementwise; the backward multiplies by sign(x).

        Taught in "Neural networks" (book/part1/networks.md).
        """
        xp = backend.xp()
        return TensorBase._from_op(xp.abs(self.data), (self,), lambda g: (g * xp.sign(self.data),))

    def clip(self, min=None, max=None):
        """Clamp into [min, max], computed as min(max(x, min), max) like PyTorch's ``clamp``.

        ``min`` and ``max`` are numbers or tensors (broadcast against ``self``; dtypes promote as in
        arithmetic). Where min > max the result is max. The gradient follows PyTorch's tie rule: the
        input gets it where min <= x <= max (a value on the boundary counts as inside), a bound only
        where it is strictly the active one. RuntimeError if both bounds are None.
        """
        if min is None and max is None:
            raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
        given = [bound for bound in (min, max) if bound is not None]
        x, *bounds = promote(self, *given)
        low = bounds.pop(0) if min is not None else None
        high = bounds.pop(0) if max is not None else None
        xp = backend.xp()
        out = x.data
        if low is not None:
            out = xp.maximum(out, low.data)  # maximum and minimum let a NaN through, as PyTorch does
        if high is not None:
            out = xp.minimum(out, high.data)

        def backward(g):
            keep = xp.ones_like(out, dtype=bool)
            if low is not None:
                keep = keep & (x.data >= low.data)
            if high is not None:
                keep = keep & (x.data <= high.data)
            grads = [unbroadcast(g * keep, x.shape)]
            if low is not None:
                active = x.data < low.data
                if high is not None:
                    active = active & (low.data < high.data)
                grads.append(unbroadcast(g * active, low.shape))
            if high is not None:
                active = x.data > high.data
                if low is not None:
                    active = active | (high.data < low.data)
                grads.append(unbroadcast(g * active, high.shape))
            return tuple(grads)

        parents = (x,) + tuple(bound for bound in (low, high) if bound is not None)
        return TensorBase._from_op(out, parents, backward)

    def clamp_min(self, min):
        """max(x, min) elementwise: ``clamp(min=min)``."""
        return self.clip(min=min)

    def clamp_max(self, max):
        """min(x, max) elementwise: ``clamp(max=max)``."""
        return self.clip(max=max)

    def tanh(self):
        """tanh(z) elementwise; the backward multiplies by 1 - tanh(z)^2.

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        out = backend.xp().tanh(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g * (1 - out * out),))

    def sigmoid(self):
        """sigma(z) = 1 / (1 + e^(-z)) elementwise; the backward multiplies by sigma(z)(1 - sigma(z)).

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        out = logistic(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g * out * (1 - out),))

    def relu(self):
        """max(0, z) elementwise; the backward passes the gradient where z > 0 and zero elsewhere.

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        positive = self.data > 0
        return TensorBase._from_op(self.data * positive, (self,), lambda g: (g * positive,))

    def softmax(self, dim):
        """e^(x_i) / sum_j e^(x_j) along ``dim``, computed after subtracting the max (same value, no overflow).

        float16 inputs are computed in float32 and rounded back, as PyTorch does, so a sum over more than
        65504 entries cannot overflow.

        Taught in "Losses" (book/part1/losses.md).
        """
        xp = backend.xp()
        x = widened(self.data)
        exps = xp.exp(x - x.max(axis=dim, keepdims=True))
        out = exps / exps.sum(axis=dim, keepdims=True)

        dtype = self.dtype  # the backward keeps only the output, as PyTorch's

        def backward(g):
            g = widened(g)
            return (narrowed(out * (g - (g * out).sum(axis=dim, keepdims=True)), dtype),)

        return TensorBase._from_op(narrowed(out, dtype), (self,), backward)

    def log_softmax(self, dim):
        """x_i - log sum_j e^(x_j), via the log-sum-exp trick so large logits don't overflow.

        float16 inputs are computed in float32 and rounded back, as PyTorch does.

        Taught in "Losses" (book/part1/losses.md).
        """
        xp = backend.xp()
        x = widened(self.data)
        shifted = x - x.max(axis=dim, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))

        dtype = self.dtype  # the backward keeps only the output, as PyTorch's

        def backward(g):
            g = widened(g)
            return (narrowed(g - xp.exp(out) * g.sum(axis=dim, keepdims=True), dtype),)

        return TensorBase._from_op(narrowed(out, dtype), (self,), backward)

    clamp = clip


def logistic(x):
    """sigma(x) = 1 / (1 + e^(-x)) of a backend array, computed as e^(-log(1 + e^(-x))).

    Same shape and dtype as ``x``. It never forms e^(-x) alone, so it cannot overflow, and the far-left
    tail keeps its digits: sigma(-40) = 4.2e-18, where 0.5 (1 + tanh(x / 2)) cancels to 0.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    xp = backend.xp()
    return xp.exp(-xp.logaddexp(0, -x))
