"""Elementwise functions of tensors (exp, log, sin, tanh, sigmoid, relu, clamp, round, maximum, softmax) and their
derivatives. Integer inputs of a function with fractional values (exp, log, sin, ...) give float32, as in PyTorch."""

from minidl import backend
from minidl.tensor.base import TensorBase
from minidl.tensor.promotion import narrowed, promote, quiet, widened
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
        self = _floating(self)
        out = backend.xp(self.data).exp(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g * out,))

    def log(self):
        """The natural logarithm elementwise; the backward divides by x.

        Taught in "Losses" (book/part1/losses.md).
        """
        self = _floating(self)
        with quiet():  # log(0) = -inf and log(-1) = nan, silently, as in PyTorch
            out = backend.xp(self.data).log(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g / self.data,))

    def sqrt(self):
        """The square root elementwise; the backward multiplies by 1 / (2 sqrt(x))."""
        self = _floating(self)
        with quiet():
            out = backend.xp(self.data).sqrt(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g * 0.5 / out,))

    def abs(self):
        """|x| elementwise; the backward multiplies by sign(x).

        Taught in "Neural networks" (book/part1/networks.md).
        """
        xp = backend.xp(self.data)
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
        xp = backend.xp(self.data)
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
        self = _floating(self)
        out = backend.xp(self.data).tanh(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g * (1 - out * out),))

    def sigmoid(self):
        """sigma(z) = 1 / (1 + e^(-z)) elementwise; the backward multiplies by sigma(z)(1 - sigma(z)).

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        self = _floating(self)
        out = logistic(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g * out * (1 - out),))

    def relu(self):
        """max(0, z) elementwise; the backward passes the gradient where z > 0 and zero elsewhere.

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        x = self.data
        positive = x > 0
        out = _relu_array(x)

        def backward(g):  # g where x > 0, else 0: times the mask as g's dtype (same values, no mixed-type loop)
            return (g * positive.astype(g.dtype),)

        return TensorBase._from_op(out, (self,), backward, name="ReluBackward0", saved=(positive,))

    def softmax(self, dim):
        """e^(x_i) / sum_j e^(x_j) along ``dim``, computed after subtracting the max (same value, no overflow).

        float16 inputs are computed in float32 and rounded back, as PyTorch does, so a sum over more than
        65504 entries cannot overflow.

        Taught in "Losses" (book/part1/losses.md).
        """
        xp = backend.xp(self.data)
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
        xp = backend.xp(self.data)
        x = widened(self.data)
        shifted = x - x.max(axis=dim, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))

        dtype = self.dtype  # the backward keeps only the output, as PyTorch's

        def backward(g):
            g = widened(g)
            return (narrowed(g - xp.exp(out) * g.sum(axis=dim, keepdims=True), dtype),)

        return TensorBase._from_op(narrowed(out, dtype), (self,), backward)

    # ---- more elementwise functions, PyTorch-compatible -------------------------------------------
    def sin(self):
        """sin(x) elementwise (radians); the backward multiplies by cos(x)."""
        self = _floating(self)
        xp = backend.xp(self.data)
        return TensorBase._from_op(xp.sin(self.data), (self,), lambda g: (g * xp.cos(self.data),))

    def cos(self):
        """cos(x) elementwise (radians); the backward multiplies by -sin(x)."""
        self = _floating(self)
        xp = backend.xp(self.data)
        return TensorBase._from_op(xp.cos(self.data), (self,), lambda g: (-g * xp.sin(self.data),))

    def log2(self):
        """The base-2 logarithm elementwise; the backward divides by x ln 2."""
        self = _floating(self)
        with quiet():
            out = backend.xp(self.data).log2(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g / (self.data * _LN2),))

    def log10(self):
        """The base-10 logarithm elementwise; the backward divides by x ln 10."""
        self = _floating(self)
        with quiet():
            out = backend.xp(self.data).log10(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g / (self.data * _LN10),))

    def log1p(self):
        """log(1 + x), accurate for tiny x (where 1 + x would round to 1); the backward divides by 1 + x."""
        self = _floating(self)
        with quiet():
            out = backend.xp(self.data).log1p(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g / (1 + self.data),))

    def expm1(self):
        """e^x - 1, accurate for tiny x; the backward multiplies by e^x = out + 1."""
        self = _floating(self)
        out = backend.xp(self.data).expm1(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (g * (out + 1),))

    def rsqrt(self):
        """1 / sqrt(x) elementwise; the backward multiplies by -1 / (2 x^(3/2)) = -out^3 / 2."""
        self = _floating(self)
        with quiet():
            out = 1 / backend.xp(self.data).sqrt(self.data)
        return TensorBase._from_op(out, (self,), lambda g: (-0.5 * g * out * out * out,))

    def reciprocal(self):
        """1 / x elementwise (integers give float32); the backward multiplies by -1 / x^2 = -out^2."""
        self = _floating(self)
        with quiet():
            out = 1 / self.data
        return TensorBase._from_op(out, (self,), lambda g: (-g * out * out,))

    def square(self):
        """x^2 elementwise (integers stay integers, bool becomes int64); the backward multiplies by 2x."""
        if self.dtype == backend.bool_:
            self = self.long()
        return TensorBase._from_op(self.data * self.data, (self,), lambda g: (2 * g * self.data,))

    def floor(self):
        """The largest whole number <= x; integers come back unchanged. The gradient is 0, as in PyTorch."""
        return _flat(self, backend.xp(self.data).floor)

    def ceil(self):
        """The smallest whole number >= x; integers come back unchanged. The gradient is 0."""
        return _flat(self, backend.xp(self.data).ceil)

    def trunc(self):
        """x rounded toward zero; integers come back unchanged. The gradient is 0."""
        return _flat(self, backend.xp(self.data).trunc)

    def round(self, decimals=0):
        """x rounded to ``decimals`` places, halves to even (``round(2.5) = 2``), as PyTorch and NumPy.

        Integers come back unchanged (with ``decimals``: NotImplementedError, as in PyTorch). Gradient 0.
        """
        if decimals and self.dtype.kind in "iub":
            raise NotImplementedError(f'"round" with decimals is not implemented for {self.dtype} tensors (as in PyTorch)')
        return _flat(self, lambda data: backend.xp(self.data).round(data, decimals))

    def sign(self):
        """-1, 0 or 1 by the sign of x (0 for 0, nan for nan; bool unchanged). The gradient is 0."""
        if self.dtype == backend.bool_:
            return TensorBase._from_op(self.data.copy(), (), None)
        return _flat(self, backend.xp(self.data).sign, integers_unchanged=False)

    def maximum(self, other):
        """The larger of ``self`` and ``other`` elementwise (broadcast, promoted); a NaN wins.

        The gradient goes to the larger side, half to each on a tie, as in PyTorch.
        """
        return _pick(self, other, backend.xp(self.data).maximum, lambda a, b: a < b)

    def minimum(self, other):
        """The smaller of ``self`` and ``other`` elementwise (broadcast, promoted); a NaN wins.

        The gradient goes to the smaller side, half to each on a tie, as in PyTorch.
        """
        return _pick(self, other, backend.xp(self.data).minimum, lambda a, b: a > b)

    clamp = clip
    __abs__ = abs  # Python's abs(t)


_LN2 = 0.6931471805599453
_LN10 = 2.302585092994046


def _floating(x):
    """``x`` as float32 if its dtype is bool or integer (PyTorch's result type of exp, log, sin, ...)."""
    return x if x.dtype.kind in "fc" else x.float()


def _flat(x, function, integers_unchanged=True):
    """``function`` of a piecewise-constant kind (floor, round, sign): gradient 0; integers (and bool) come
    back unchanged if ``integers_unchanged``, as floor and round leave them."""
    if integers_unchanged and x.dtype.kind in "iub":
        return TensorBase._from_op(x.data.copy(), (), None)
    out = function(x.data)
    return TensorBase._from_op(out, (x,), lambda g: (backend.xp(x.data).zeros_like(g),))


def _pick(a, b, choose, loses):
    """maximum or minimum of promoted operands; ``loses(a, b)`` says where ``a`` is not chosen.

    PyTorch's gradient: g, halved where a == b, and zero on the side that lost (both get it at a NaN).
    """
    a, b = promote(a, b)
    out = choose(a.data, b.data)

    def backward(g):
        xp = backend.xp(g)
        shared = xp.where(a.data == b.data, g / 2, g)
        zero = xp.zeros((), dtype=g.dtype)
        return (
            unbroadcast(xp.where(loses(a.data, b.data), zero, shared), a.shape),
            unbroadcast(xp.where(loses(b.data, a.data), zero, shared), b.shape),
        )

    return TensorBase._from_op(out, (a, b), backward)


_SAME_SIZE_INTEGER = {2: "int16", 4: "int32", 8: "int64"}
_BITS_FROM = 16384  # elements from which ReLU's integer maximum beats NumPy's float maximum


def _relu_array(x):
    """max(x, 0) of an array: +0.0 for negatives, NaN kept, as ``torch.relu``; -0.0 also gives +0.0
    (NumPy's ``maximum`` does too), where ``torch.relu`` keeps -0.0, a difference no comparison sees.

    On the host, NumPy's ``maximum`` checks every element for NaN and is several times slower than an
    integer maximum. A float's bits read as a signed integer keep the float's order for every number
    with the sign bit clear and are negative for every number with it set, so the integer max(bits, 0)
    is exactly max(x, 0) for any array without a NaN (whose sign bit could be either); those, and
    every GPU array, take ``maximum`` itself. So do small arrays (a DQN's single state), where the NaN
    check and the two views would cost more calls than they save.
    """
    xp = backend.xp(x)
    if x.size >= _BITS_FROM and x.dtype.kind == "f" and not backend.on_gpu(x) and not xp.isnan(x).any():
        bits = getattr(xp, _SAME_SIZE_INTEGER[x.dtype.itemsize])
        return xp.maximum(x.view(bits), 0).view(x.dtype)
    return xp.maximum(x, 0)


def logistic(x):
    """sigma(x) = 1 / (1 + e^(-x)) of a backend array, computed as e^(-log(1 + e^(-x))).

    Same shape and dtype as ``x``. It never forms e^(-x) alone, so it cannot overflow, and the far-left
    tail keeps its digits: sigma(-40) = 4.2e-18, where 0.5 (1 + tanh(x / 2)) cancels to 0.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    xp = backend.xp(x.data)
    return xp.exp(-xp.logaddexp(0, -x))
