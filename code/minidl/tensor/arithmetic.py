"""Arithmetic on tensors (+ - * / ** // % @, comparisons) with PyTorch's promotion and gradients."""

from minidl import backend
from minidl.tensor.base import TensorBase
from minidl.tensor.promotion import as_array, is_number, mixed_devices, promote, quiet, untracked, zero_where
from minidl.tensor.shapes import is_scalar
from minidl.tensor.shapes import unbroadcast


class Arithmetic(TensorBase):
    """The arithmetic operators of Tensor; each returns a new tensor with its backward rule beside it.

    Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
    """

    __slots__ = ()

    def _lift(self, other):
        """Make ``other`` a Tensor; scalars take this tensor's dtype when it is floating point."""
        if isinstance(other, TensorBase):
            return other
        if isinstance(other, (bool, int, float)) or is_scalar(other):
            floating = self.data.dtype.kind == "f"
            dtype = self.dtype if floating or isinstance(other, (bool, int)) else backend.float32
            return self._from_op(backend.xp(self.data).asarray(other, dtype=dtype), (), None)
        return self._from_op(as_array(other, None, backend.of(self.data)), (), None)

    def __add__(self, other):
        self, other = promote(self, other)

        first, second = self.shape, other.shape  # addition keeps no values for backward, only shapes

        def backward(g):
            return unbroadcast(g, first), unbroadcast(g, second)

        return TensorBase._from_op(self.data + other.data, (self, other), backward)

    def __sub__(self, other):
        _refuse_bool_subtraction(self, other)
        self, other = promote(self, other)

        first, second = self.shape, other.shape

        def backward(g):
            return unbroadcast(g, first), unbroadcast(-g, second)

        return TensorBase._from_op(self.data - other.data, (self, other), backward)

    def __mul__(self, other):
        self, other = promote(self, other)

        first, second = self.shape, other.shape
        # keep a factor only where the other side needs a gradient, as PyTorch saves them
        first_factor = self.data if other.requires_grad else None
        second_factor = other.data if self.requires_grad else None

        def backward(g):
            grad_first = None if second_factor is None else unbroadcast(g * second_factor, first)
            grad_second = None if first_factor is None else unbroadcast(g * first_factor, second)
            return grad_first, grad_second

        return TensorBase._from_op(self.data * other.data, (self, other), backward)

    def __truediv__(self, other):
        self, other = promote(self, other)
        if self.dtype.kind in "iub":  # true division of integers gives float32, as in PyTorch
            self, other = self.float(), other.float()

        def backward(g):
            grad_self = unbroadcast(g / other.data, self.shape)
            grad_other = unbroadcast(-g * self.data / (other.data * other.data), other.shape)
            return grad_self, grad_other

        with quiet():  # x / 0 is inf or nan, silently, as in PyTorch
            return TensorBase._from_op(self.data / other.data, (self, other), backward)

    def __pow__(self, exponent):
        """x ** e. The gradients follow PyTorch exactly at the edges:

        d/dx = e x^(e-1), but 0 wherever e == 0 (x^0 = 1 is flat, even at x = 0 where 0 * 0^-1 is nan);
        d/de = x^e log x, but 0 where x == 0 and e >= 0; a negative base gives nan (log of a negative).
        """
        exponent_is_tensor = isinstance(exponent, TensorBase)
        self, exponent = promote(self, exponent)
        xp = backend.xp(self.data)
        if self.dtype == backend.bool_:  # PyTorch: bool tensor ** bool number is bool, a bool exponent tensor fails
            if exponent_is_tensor:
                raise NotImplementedError("pow: a bool exponent tensor is not supported (as in PyTorch); use .long()")
            out = (self.data.astype(backend.int64) ** exponent.data.astype(backend.int64)).astype(self.dtype)
            return TensorBase._from_op(out, (), None)
        with quiet():
            out = self.data**exponent.data

        def backward(g):
            grad_base = grad_exponent = None
            with quiet():
                if self.requires_grad:
                    slope = exponent.data * self.data ** (exponent.data - 1)
                    grad_base = unbroadcast(zero_where(exponent.data == 0, g * slope), self.shape)
                if exponent.requires_grad:
                    grad = g * out * xp.log(self.data)
                    flat = (self.data == 0) & (exponent.data >= 0)
                    grad_exponent = unbroadcast(zero_where(flat, grad), exponent.shape)
            return grad_base, grad_exponent

        return TensorBase._from_op(out, (self, exponent), backward)

    def __floordiv__(self, other):
        """floor(a / b) elementwise, Python's ``//`` (PyTorch's ``floor_divide``); see ``_floor_divide``."""
        return _floor_divide(*promote(self, other))

    def floor_divide(self, other):
        """floor(self / other) elementwise, as ``self // other``; PyTorch gives it no derivative."""
        return self // other

    def __mod__(self, other):
        """a - b floor(a / b): Python's ``%``, the sign of the divisor (PyTorch's ``remainder``)."""
        return _remainder(*promote(self, other))

    def remainder(self, other):
        """self % other with the divisor's sign (Python's rule); gradient 1 and -floor(self / other)."""
        return self % other

    def __radd__(self, other):
        return Arithmetic.__add__(*promote(other, self))

    def __rsub__(self, other):
        _refuse_bool_subtraction(self, other)
        return Arithmetic.__sub__(*promote(other, self))

    def __rmul__(self, other):
        return Arithmetic.__mul__(*promote(other, self))

    def __rtruediv__(self, other):
        return Arithmetic.__truediv__(*promote(other, self))

    def __rpow__(self, other):
        return Arithmetic.__pow__(*promote(other, self))

    def __rfloordiv__(self, other):
        return _floor_divide(*promote(other, self))

    def __rmod__(self, other):
        # PyTorch's remainder(Scalar, Tensor) has no derivative for the divisor; neither has this
        return _remainder(*promote(other, self), divisor_gradient=not is_number(other))

    def __neg__(self):
        if self.dtype == backend.bool_:
            raise RuntimeError(
                "Negation, the `-` operator, on a bool tensor is not supported (as in PyTorch); "
                "use `~` to invert a mask"
            )
        return TensorBase._from_op(-self.data, (self,), lambda g: (-g,))

    def __pos__(self):
        return self

    def __matmul__(self, other):
        other = self._lift(other)
        if backend.on_gpu(self.data) != backend.on_gpu(other.data):
            raise mixed_devices(self.data, other.data)  # matmul has no 0-d operands, so no exception
        _check_matmul(self.shape, other.shape)
        return TensorBase._from_op(self.data @ other.data, (self, other), _matmul_backward(self, other))

    def __rmatmul__(self, other):
        return self._lift(other) @ self

    def matmul(self, other):
        """The matrix product ``self @ other``; the backward gives g B^T and A^T g.

        Taught in "The perceptron" (book/part1/perceptron.md) and "Convolution" (book/part3/convolution.md).
        """
        return self @ other

    # ---- the operators by name, as PyTorch's methods (x.add(y), x.pow(2)) -------------------------
    def add(self, other, *, alpha=1):
        """self + alpha * other (broadcast, promoted), as ``torch.add``; the same gradient as ``+``."""
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        """self - alpha * other (broadcast, promoted), as ``torch.sub``; the same gradient as ``-``."""
        return self - (other if alpha == 1 else other * alpha)

    def mul(self, other):
        """self * other elementwise (broadcast, promoted); the same gradient as ``*``."""
        return self * other

    def div(self, other, *, rounding_mode=None):
        """self / other elementwise; ``rounding_mode`` "trunc" or "floor" rounds the quotient (integers
        stay integers) and has gradient 0, as in PyTorch. RuntimeError for another mode."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise RuntimeError(
                f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found {rounding_mode!r}"
            )
        a, b = promote(self, other)
        _check_division(a, b, "div")
        xp = backend.xp(self.data)
        with quiet():
            if rounding_mode == "floor":
                out = xp.floor_divide(a.data, b.data)
            elif a.dtype.kind in "iu":  # exact: |a| // |b| with the quotient's sign
                out = xp.sign(a.data) * xp.sign(b.data) * (xp.abs(a.data) // xp.abs(b.data))
            else:
                out = xp.trunc(a.data / b.data)
        return TensorBase._from_op(out, (a, b), lambda g: (xp.zeros(a.shape, g.dtype), xp.zeros(b.shape, g.dtype)))

    def true_divide(self, other):
        """self / other, always a true (floating) division; as ``div`` without a rounding mode."""
        return self / other

    def pow(self, exponent):
        """self ** exponent elementwise; see ``__pow__`` for the gradient at the edges."""
        return self**exponent

    def neg(self):
        """-self elementwise; the gradient is -g. RuntimeError for a bool tensor, as in PyTorch."""
        return -self

    def mm(self, mat2):
        """The product of two matrices (2-D only, unlike ``matmul``); RuntimeError otherwise, as in PyTorch."""
        if self.ndim != 2:
            raise RuntimeError(f"self must be a matrix (mm: got a tensor of shape {self.shape})")
        if not isinstance(mat2, TensorBase) or mat2.ndim != 2:
            raise RuntimeError(f"mat2 must be a matrix (mm: got {getattr(mat2, 'shape', type(mat2).__name__)})")
        return self @ mat2

    def eq(self, other):
        """self == other elementwise (bool, no gradient)."""
        return self == other

    def ne(self, other):
        """self != other elementwise (bool, no gradient)."""
        return self != other

    def lt(self, other):
        """self < other elementwise (bool, no gradient)."""
        return self < other

    def le(self, other):
        """self <= other elementwise (bool, no gradient)."""
        return self <= other

    def gt(self, other):
        """self > other elementwise (bool, no gradient)."""
        return self > other

    def ge(self, other):
        """self >= other elementwise (bool, no gradient)."""
        return self >= other

    subtract, multiply, divide, negative = sub, mul, div, neg
    greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne

    # comparisons give boolean tensors and no gradient; both sides are first promoted, as in PyTorch
    def __eq__(self, other):
        if other is None:
            return False
        return untracked(self, other, lambda a, b: a == b)

    def __ne__(self, other):
        if other is None:
            return True
        return untracked(self, other, lambda a, b: a != b)

    def __lt__(self, other):
        return untracked(self, other, lambda a, b: a < b)

    def __le__(self, other):
        return untracked(self, other, lambda a, b: a <= b)

    def __gt__(self, other):
        return untracked(self, other, lambda a, b: a > b)

    def __ge__(self, other):
        return untracked(self, other, lambda a, b: a >= b)

    def __invert__(self):
        return TensorBase._from_op(~self.data, (), None)

    def __and__(self, other):
        return untracked(self, other, lambda a, b: a & b)

    def __or__(self, other):
        return untracked(self, other, lambda a, b: a | b)



def _check_matmul(a, b):
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {a} and {b}")
    inner_b = b[0] if len(b) == 1 else b[-2]
    if a[-1] != inner_b:
        raise ValueError(
            f"matmul: shapes {a} and {b} don't line up: the first's last dimension ({a[-1]}) must equal "
            f"the second's {'only' if len(b) == 1 else 'second-to-last'} dimension ({inner_b})"
        )


def _matmul_backward(a, b):
    """dL/dA = G B^T and dL/dB = A^T G, with 1-D operands promoted to matrices and back."""

    def backward(g):
        a_data = a.data[None, :] if a.ndim == 1 else a.data
        b_data = b.data[:, None] if b.ndim == 1 else b.data
        if b.ndim == 1:
            g = backend.xp(g).expand_dims(g, -1)
        if a.ndim == 1:
            g = backend.xp(g).expand_dims(g, -2)
        grad_a = grad_b = None
        if a.requires_grad:
            grad_a = unbroadcast(g @ b_data.swapaxes(-1, -2), a_data.shape).reshape(a.shape)
        if b.requires_grad:
            grad_b = unbroadcast(a_data.swapaxes(-1, -2) @ g, b_data.shape).reshape(b.shape)
        return grad_a, grad_b

    return backward


def _refuse_bool_subtraction(*operands):
    if any(x.dtype == backend.bool_ if isinstance(x, TensorBase) else isinstance(x, (bool, backend.bool_)) for x in operands):
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor or number is not supported (as in PyTorch); "
            "use `~` to invert a mask, `^` for the difference of two masks, or convert with .long()"
        )


def _check_division(a, b, name):
    if a.dtype == backend.bool_:
        raise NotImplementedError(f"{name}: not implemented for bool tensors (as in PyTorch); convert with .long()")
    if a.dtype.kind in "iu" and bool((b.data == 0).any()):
        raise RuntimeError(f"{name}: integer division by zero (the divisor has a zero entry); PyTorch raises ZeroDivisionError")


def _floor_divide(a, b):
    """floor(a / b) of promoted operands. PyTorch defines no derivative (the function is a staircase):
    the result is in the graph, and a backward pass through it raises RuntimeError, as in PyTorch."""
    _check_division(a, b, "floor_divide")
    with quiet():
        out = backend.xp(a.data).floor_divide(a.data, b.data)

    def backward(g):
        raise RuntimeError(
            "derivative for floor_divide (//) is not implemented, as in PyTorch: floor(a / b) is piecewise "
            "constant; detach() the result, or use a / b if a gradient should flow"
        )

    return TensorBase._from_op(out, (a, b), backward)


def _remainder(a, b, divisor_gradient=True):
    """a - b floor(a / b) of promoted operands: the sign of b, as Python's % and PyTorch's remainder.

    d/da = 1 and d/db = -floor(a / b). PyTorch has no derivative for the divisor when the dividend is
    a Python number (``2.0 % x``); ``divisor_gradient=False`` raises there as it does.
    """
    _check_division(a, b, "remainder")
    xp = backend.xp(a.data)
    with quiet():
        out = xp.remainder(a.data, b.data)

    def backward(g):
        grad_b = None
        if b.requires_grad:
            if not divisor_gradient:
                raise RuntimeError(
                    "derivative of number % tensor with respect to the tensor is not implemented, as in "
                    "PyTorch's remainder(Scalar, Tensor); write minidl.tensor(number) % tensor instead"
                )
            with quiet():
                grad_b = unbroadcast(-g * xp.floor_divide(a.data, b.data), b.shape)
        return unbroadcast(g, a.shape), grad_b

    return TensorBase._from_op(out, (a, b), backward)
