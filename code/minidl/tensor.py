"""Tensors that remember how they were made, and reverse-mode automatic differentiation.

Each operation computes its result and, right beside it, a ``backward`` closure that turns the
gradient of the loss with respect to the result into gradients with respect to the inputs (the chain
rule, one step). ``Tensor.backward`` visits the recorded graph once, in reverse topological order.
Taught in the chapter "Gradient descent and backpropagation" (``book/part1/backprop.md``).
"""

import math
from collections import namedtuple

from minidl import autograd as _autograd
from minidl import backend
from minidl.autograd import is_grad_enabled, no_grad  # noqa: F401  (re-exported: minidl.no_grad)

ReductionResult = namedtuple("ReductionResult", ["values", "indices"])


def _default_dtype(data):
    """PyTorch's rule: Python floats become float32; arrays keep the dtype they were given."""
    if hasattr(data, "dtype"):
        return None
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
        raise TypeError("tensor(): got a list of Tensors; use minidl.stack(tensors) to join them")
    return backend.float32 if _holds_floats(data) else None


def _holds_floats(data):
    if isinstance(data, float):
        return True
    if isinstance(data, (list, tuple)):
        return any(_holds_floats(d) for d in data)
    return False


def _as_array(data, dtype=None):
    current = backend.current()
    if isinstance(data, Tensor):
        data = data.data
    if current.is_array(data):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    return current.from_host(data, dtype=dtype or _default_dtype(data))


class Tensor:
    """An array (``.data``, from the backend) plus what autodiff needs: ``.grad`` and the graph.

    ``data`` is the backend array (assignable in place); ``grad`` is a Tensor of dL/dx after
    ``backward`` (None before); ``requires_grad`` says whether operations on it are recorded.

    Taught in "The perceptron" (book/part1/perceptron.md) and "Gradient descent and backpropagation" (book/part1/backprop.md).
    """

    __array_ufunc__ = None  # make ``numpy_array * tensor`` call Tensor.__rmul__
    __slots__ = ("data", "_grad", "grad_fn", "_requires_grad", "_grad_accumulator", "__weakref__")

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _as_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self._grad_accumulator = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _from_op(cls, data, parents, backward, name=None, saved=None):
        """A new tensor holding ``data``, recorded as the result of an operation on ``parents``.

        See ``minidl.autograd.record`` for ``backward``, ``name`` and ``saved``.
        """
        out = cls.__new__(cls)
        if not backend.current().is_array(data):  # NumPy turns 0-d results into scalars
            data = backend.xp().asarray(data)
        out.data = data
        out._grad = None
        out._requires_grad = False
        out._grad_accumulator = None
        out.grad_fn = None
        return _autograd.record(out, parents, backward, name, saved)

    def _edge(self):
        """The node that a gradient for this tensor goes to: its operation's, or its leaf accumulator."""
        if self.grad_fn is not None:
            return self.grad_fn
        if not self._requires_grad:
            return None
        if self._grad_accumulator is None:
            self._grad_accumulator = _autograd.AccumulateGrad(self)
        return self._grad_accumulator

    @property
    def grad(self):
        """dL/d(this tensor) after ``backward``: a Tensor of the same shape and dtype, or None.

        Assigning it checks what PyTorch checks: a Tensor (or None) of this shape and dtype, else
        TypeError or RuntimeError, so an optimizer never broadcasts a wrong-shaped gradient.

        Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor of size "
                    f"'{list(self.shape)}'. Please ensure that the gradient and the tensor are the same size"
                )
            if value.dtype != self.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{value.dtype}' to a tensor with dtype "
                    f"'{self.dtype}'; cast it first with .to({self.dtype})"
                )
        self._grad = value

    @property
    def requires_grad(self):
        """Whether operations on this tensor are recorded for ``backward``.

        Only floating-point leaves can be set to require a gradient; a result of recorded
        operations always requires one. Raises RuntimeError otherwise, with PyTorch's messages.

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        return self.grad_fn is not None or self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to use a "
                    "computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach()."
                )
            return
        if value and self.data.dtype.kind not in "fc":
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients "
                f"(this tensor's dtype is {self.data.dtype}; convert it with .float() first)"
            )
        self._requires_grad = value
        if not value:
            self._grad_accumulator = None

    # ---- properties ----------------------------------------------------------------------------
    @property
    def shape(self):
        """The sizes of the dimensions, a tuple of ints.

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        return tuple(self.data.shape)

    @property
    def dtype(self):
        """The element type of ``.data`` (float32 by default; float64 for gradient checks).

        Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        return self.data.dtype

    @property
    def ndim(self):
        """The number of dimensions.

        Taught in "Attention and transformers" (book/part2/attention.md).
        """
        return self.data.ndim

    @property
    def is_leaf(self):
        """True for tensors not made by a recorded operation (inputs, parameters): their ``.grad`` is kept.

        Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        return self.grad_fn is None

    @property
    def T(self):
        """The dimensions in reverse order; the transpose W^T of a matrix.

        Taught in "Neural networks" (book/part1/networks.md).
        """
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim=None):
        """The shape, or the size of dimension ``dim`` (PyTorch's spelling)."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        """The number of elements, e.g. to count a model's parameters.

        Taught in "Neural networks" (book/part1/networks.md).
        """
        return int(self.data.size)

    def dim(self):
        """The number of dimensions (PyTorch's spelling of ``ndim``)."""
        return self.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __hash__(self):
        return id(self)

    # ---- conversion ----------------------------------------------------------------------------
    def item(self):
        """The value of a one-element tensor as a Python number (e.g. a loss, to print or plot).

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted (shape {self.shape})")
        return self.data.item()

    def tolist(self):
        """The values as (nested) Python lists.

        Taught in "Lab: generating music" (book/part2/music_lab.md).
        """
        return self.data.tolist()

    def numpy(self):
        """A host NumPy array (a copy on GPU backends). Detach first, as in PyTorch.

        Taught in "Recurrent neural networks" (book/part2/rnn.md).
        """
        if self.requires_grad:
            raise RuntimeError("numpy(): can't convert a tensor that requires grad; use .detach().numpy()")
        return backend.current().to_host(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        return bool(self.item())

    def __repr__(self):
        text = repr(backend.current().to_host(self.data))
        body = text[len("array(") :].rsplit(", dtype=", 1)[0].rstrip(")")
        body = body.replace("\n", "\n ")
        extras = []
        if self.dtype not in (backend.float32, backend.int64, backend.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.requires_grad:
            extras.append("requires_grad=True" if self.is_leaf else f"grad_fn=<{self.grad_fn.name()}>")
        return "tensor(" + ", ".join([body] + extras) + ")"

    def detach(self):
        """The same data, cut from the graph.

        Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        return Tensor._from_op(self.data, (), None)

    def requires_grad_(self, requires_grad=True):
        """Start (or stop) recording operations on this tensor for ``backward``; returns the tensor.

        Taught in "Attention and transformers" (book/part2/attention.md).
        """
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Keep ``.grad`` on this intermediate result after ``backward`` (leaves always keep it).

        Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        if self.grad_fn is None and not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn._retained = self
        return self

    @property
    def retains_grad(self):
        """True for a non-leaf tensor whose ``retain_grad()`` was called."""
        return self.grad_fn is not None and self.grad_fn._retained is self

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        """Cast to ``dtype``: ``x.to(minidl.float64)``, ``x.to(other_tensor)``, as in PyTorch.

        A cast between floating dtypes stays in the graph (the gradient is cast back); a cast to an
        integer or bool dtype cuts it, as in PyTorch. Devices are not chosen per tensor: every tensor
        lives on the backend picked by ``minidl.use_backend`` or ``MINIDL_BACKEND``, so a device string
        names that backend's device (``"cpu"`` on NumPy, ``"cuda"`` on CuPy) or raises RuntimeError.
        Returns ``self`` when nothing changes and ``copy`` is False; TypeError for a non-dtype.
        """
        del non_blocking  # accepted for PyTorch compatibility; copies here are synchronous
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, str):
                device = arg
            else:
                dtype = arg
        if device is not None:
            _check_device(device)
        target = self.dtype if dtype is None else _as_dtype(dtype)
        if target == self.dtype and not copy:
            return self
        data = self.data.astype(target)
        if target.kind not in "fc":  # integer and bool results have no gradient
            return Tensor._from_op(data, (), None)
        source = self.dtype
        return Tensor._from_op(data, (self,), lambda g: (g.astype(source),))

    def float(self):
        """Cast to float32 (differentiable)."""
        return self.to(backend.float32)

    def double(self):
        """Cast to float64 (differentiable).

        Taught in "Losses" (book/part1/losses.md).
        """
        return self.to(backend.float64)

    def half(self):
        """Cast to float16 (differentiable)."""
        return self.to(backend.xp().float16)

    def long(self):
        """Cast to int64, e.g. for class indices; the result is out of the graph."""
        return self.to(backend.int64)

    def int(self):
        """Cast to int32; the result is out of the graph."""
        return self.to(backend.xp().int32)

    def bool(self):
        """Cast to bool (nonzero is True); the result is out of the graph."""
        return self.to(backend.bool_)

    def clone(self):
        """A copy of the data that stays in the graph (the gradient passes through unchanged)."""
        return Tensor._from_op(self.data.copy(), (self,), lambda g: (g,))

    # ---- autodiff ------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires a gradient.

        ``self`` must be a scalar (a loss) unless ``gradient``, of self's shape, is given. The graph's
        saved values are freed afterwards; pass ``retain_graph=True`` to go through it again.
        Raises RuntimeError, with PyTorch's message, for a tensor without a graph, a second pass
        through a freed graph, or a saved value changed in place since the forward pass.

        Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        if create_graph:
            raise NotImplementedError(
                "backward(create_graph=True): minidl does not record the backward pass, so it has no "
                "higher-order derivatives; differentiate twice with finite differences instead"
            )
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        xp = backend.xp()
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; this tensor has shape "
                    f"{self.shape}, so pass gradient= of that shape (or call .sum() first)"
                )
            gradient = xp.ones_like(self.data)
        else:
            gradient = _as_array(gradient, self.dtype)
            if gradient.shape != self.data.shape:
                raise RuntimeError(
                    f"backward(): gradient has shape {tuple(gradient.shape)}, expected {self.shape}"
                )
        _autograd.run_backward(self._edge(), gradient, retain_graph=bool(retain_graph))

    def _accumulate(self, grad):
        """Add ``grad`` into ``self.grad``, which owns its memory: a first gradient is copied, never kept."""
        grad = backend.xp().asarray(grad)
        if grad.shape != self.data.shape:
            raise RuntimeError(
                f"backward: the gradient computed for a tensor of shape {self.shape} has shape "
                f"{tuple(grad.shape)}"
            )
        if self.grad is None:
            self._grad = Tensor._from_op(grad.astype(self.data.dtype, copy=True), (), None)
        else:
            self.grad.data += grad

    # ---- arithmetic ----------------------------------------------------------------------------
    def _lift(self, other):
        """Make ``other`` a Tensor; scalars take this tensor's dtype when it is floating point."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (bool, int, float)) or _is_scalar(other):
            floating = self.data.dtype.kind == "f"
            dtype = self.dtype if floating or isinstance(other, (bool, int)) else backend.float32
            return Tensor(backend.xp().asarray(other, dtype=dtype))
        return Tensor(other)

    def __add__(self, other):
        self, other = _promote(self, other)

        first, second = self.shape, other.shape  # addition keeps no values for backward, only shapes

        def backward(g):
            return _unbroadcast(g, first), _unbroadcast(g, second)

        return Tensor._from_op(self.data + other.data, (self, other), backward)

    def __sub__(self, other):
        _refuse_bool_subtraction(self, other)
        self, other = _promote(self, other)

        first, second = self.shape, other.shape

        def backward(g):
            return _unbroadcast(g, first), _unbroadcast(-g, second)

        return Tensor._from_op(self.data - other.data, (self, other), backward)

    def __mul__(self, other):
        self, other = _promote(self, other)

        first, second = self.shape, other.shape
        # keep a factor only where the other side needs a gradient, as PyTorch saves them
        first_factor = self.data if other.requires_grad else None
        second_factor = other.data if self.requires_grad else None

        def backward(g):
            grad_first = None if second_factor is None else _unbroadcast(g * second_factor, first)
            grad_second = None if first_factor is None else _unbroadcast(g * first_factor, second)
            return grad_first, grad_second

        return Tensor._from_op(self.data * other.data, (self, other), backward)

    def __truediv__(self, other):
        self, other = _promote(self, other)
        if self.dtype.kind in "iub":  # true division of integers gives float32, as in PyTorch
            self, other = self.float(), other.float()

        def backward(g):
            grad_self = _unbroadcast(g / other.data, self.shape)
            grad_other = _unbroadcast(-g * self.data / (other.data * other.data), other.shape)
            return grad_self, grad_other

        with _quiet():  # x / 0 is inf or nan, silently, as in PyTorch
            return Tensor._from_op(self.data / other.data, (self, other), backward)

    def __pow__(self, exponent):
        """x ** e. The gradients follow PyTorch exactly at the edges:

        d/dx = e x^(e-1), but 0 wherever e == 0 (x^0 = 1 is flat, even at x = 0 where 0 * 0^-1 is nan);
        d/de = x^e log x, but 0 where x == 0 and e >= 0; a negative base gives nan (log of a negative).
        """
        exponent_is_tensor = isinstance(exponent, Tensor)
        self, exponent = _promote(self, exponent)
        xp = backend.xp()
        if self.dtype == backend.bool_:  # PyTorch: bool tensor ** bool number is bool, a bool exponent tensor fails
            if exponent_is_tensor:
                raise NotImplementedError("pow: a bool exponent tensor is not supported (as in PyTorch); use .long()")
            out = (self.data.astype(backend.int64) ** exponent.data.astype(backend.int64)).astype(self.dtype)
            return Tensor._from_op(out, (), None)
        with _quiet():
            out = self.data**exponent.data

        def backward(g):
            grad_base = grad_exponent = None
            with _quiet():
                if self.requires_grad:
                    slope = exponent.data * self.data ** (exponent.data - 1)
                    grad_base = _unbroadcast(_zero_where(exponent.data == 0, g * slope), self.shape)
                if exponent.requires_grad:
                    grad = g * out * xp.log(self.data)
                    flat = (self.data == 0) & (exponent.data >= 0)
                    grad_exponent = _unbroadcast(_zero_where(flat, grad), exponent.shape)
            return grad_base, grad_exponent

        return Tensor._from_op(out, (self, exponent), backward)

    def __floordiv__(self, other):
        """floor(a / b) elementwise, Python's ``//`` (PyTorch's ``floor_divide``); see ``_floor_divide``."""
        return _floor_divide(*_promote(self, other))

    def floor_divide(self, other):
        """floor(self / other) elementwise, as ``self // other``; PyTorch gives it no derivative."""
        return self // other

    def __mod__(self, other):
        """a - b floor(a / b): Python's ``%``, the sign of the divisor (PyTorch's ``remainder``)."""
        return _remainder(*_promote(self, other))

    def remainder(self, other):
        """self % other with the divisor's sign (Python's rule); gradient 1 and -floor(self / other)."""
        return self % other

    def __radd__(self, other):
        return Tensor.__add__(*_promote(other, self))

    def __rsub__(self, other):
        _refuse_bool_subtraction(self, other)
        return Tensor.__sub__(*_promote(other, self))

    def __rmul__(self, other):
        return Tensor.__mul__(*_promote(other, self))

    def __rtruediv__(self, other):
        return Tensor.__truediv__(*_promote(other, self))

    def __rpow__(self, other):
        return Tensor.__pow__(*_promote(other, self))

    def __rfloordiv__(self, other):
        return _floor_divide(*_promote(other, self))

    def __rmod__(self, other):
        # PyTorch's remainder(Scalar, Tensor) has no derivative for the divisor; neither has this
        return _remainder(*_promote(other, self), divisor_gradient=not _is_number(other))

    # ---- in place, as in PyTorch ------------------------------------------------------------------
    # An in-place change writes into this tensor's memory and bumps its version counter. Inside a
    # recorded graph the tensor then becomes the output of a new node whose input is its old value,
    # so code that kept a reference sees the new value and earlier users keep the old graph.
    def _in_place(self, out_of_place, *args, leaf_message=None):
        recording = _autograd.is_grad_enabled() and (
            self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)
        )
        if recording:
            self._check_in_place(leaf_message)
            source = self._snapshot()
            result = out_of_place(source, *args)
        else:
            with no_grad():
                result = out_of_place(self, *args)
        if result.shape != self.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape {list(result.shape)}")
        if _category(result.dtype) > _category(self.dtype):
            raise RuntimeError(f"result type {result.dtype} can't be cast to the desired output type {self.dtype}")
        try:
            self.data[...] = result.data
        except ValueError:  # a read-only broadcast view, as made by expand()
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor refers to a single "
                "memory location. Please clone() the tensor before performing the operation."
            ) from None
        _autograd.bump_version(self.data)
        if recording:
            if self.grad_fn is not None and self.grad_fn._retained is self:
                self.grad_fn._retained, result.grad_fn._retained = None, self
            self.grad_fn = result.grad_fn
        return self

    def _check_in_place(self, leaf_message=None):
        if self.grad_fn is None and self._requires_grad:
            raise RuntimeError(
                (leaf_message or "a leaf Variable that requires grad is being used in an in-place operation.")
                + " (To update a parameter, do it inside `with minidl.no_grad():`, as an optimizer does.)"
            )
        if _autograd.is_view(self.data):
            raise NotImplementedError(
                "in-place change of a view inside a recorded graph: PyTorch rewrites the graph of the "
                "viewed tensor (CopySlices); minidl does not. Change the tensor out of place "
                "(y = y + 1) or make the view its own tensor first with .clone()"
            )

    def _snapshot(self):
        """A tensor holding a copy of the current value, at this tensor's current place in the graph."""
        old = Tensor.__new__(Tensor)
        old.data, old._grad, old.grad_fn = self.data.copy(), None, self.grad_fn
        old._requires_grad, old._grad_accumulator = self._requires_grad, self._grad_accumulator
        return old

    def __iadd__(self, other):
        return self._in_place(Tensor.__add__, other)

    def __isub__(self, other):
        return self._in_place(Tensor.__sub__, other)

    def __imul__(self, other):
        return self._in_place(Tensor.__mul__, other)

    def __itruediv__(self, other):
        return self._in_place(Tensor.__truediv__, other)

    def add_(self, other):
        """``self += other`` in place; returns self."""
        return self._in_place(Tensor.__add__, other)

    def sub_(self, other):
        """``self -= other`` in place; returns self."""
        return self._in_place(Tensor.__sub__, other)

    def mul_(self, other):
        """``self *= other`` in place; returns self."""
        return self._in_place(Tensor.__mul__, other)

    def div_(self, other):
        """``self /= other`` in place; returns self."""
        return self._in_place(Tensor.__truediv__, other)

    def zero_(self):
        """Fill with zeros in place (e.g. ``p.grad.zero_()``); returns self."""
        return self.fill_(0)

    def fill_(self, value):
        """Set every entry to ``value`` (a number or a one-element tensor) in place; returns self."""

        def filled(old, value):
            value = old._lift(value)
            if value.data.size != 1:
                raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} dimensions.")
            out = backend.xp().full(old.data.shape, value.data.reshape(()), dtype=old.dtype)

            def backward(g):
                xp = backend.xp()
                return xp.zeros_like(g), g.sum().reshape(value_shape).astype(value_dtype)

            value_shape, value_dtype = value.shape, value.dtype
            return Tensor._from_op(out, (old, value), backward, name="FillBackward0", saved=())

        return self._in_place(filled, value)

    def clamp_(self, min=None, max=None):
        """Clamp into [min, max] in place; returns self."""
        return self._in_place(lambda old: old.clamp(min, max))

    def copy_(self, src):
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor in place; returns self."""

        def copied(old, src):
            src = old._lift(src)
            try:
                out = backend.xp().broadcast_to(src.data, old.shape).astype(old.dtype)
            except ValueError:
                raise RuntimeError(f"copy_(): src of shape {src.shape} can't be broadcast to shape {old.shape}") from None
            src_shape, src_dtype = src.shape, src.dtype

            def backward(g):
                return backend.xp().zeros_like(g), _unbroadcast(g, src_shape).astype(src_dtype)

            return Tensor._from_op(out, (old, src), backward, name="CopyBackwards", saved=())

        return self._in_place(copied, src)

    def __setitem__(self, index, value):
        index = _device_index(index)

        def put(old, value):
            value = old._lift(value)
            out = old.data.copy()
            try:
                out[index] = value.data
            except (ValueError, IndexError) as error:
                raise type(error)(f"tensor[index] = value: {error}") from None
            value_shape, value_dtype = value.shape, value.dtype

            def backward(g):
                kept = g.copy()
                kept[index] = 0
                written = g[index]
                if written.ndim < len(value_shape):
                    written = written.reshape((1,) * (len(value_shape) - written.ndim) + written.shape)
                grad_value = _unbroadcast(written, value_shape)
                return kept, grad_value.astype(value_dtype) if value_dtype.kind in "fc" else None

            return Tensor._from_op(out, (old, value), backward, name="CopySlices")

        self._in_place(put, value, leaf_message="a view of a leaf Variable that requires grad is being used in an in-place operation.")

    def __neg__(self):
        if self.dtype == backend.bool_:
            raise RuntimeError(
                "Negation, the `-` operator, on a bool tensor is not supported (as in PyTorch); "
                "use `~` to invert a mask"
            )
        return Tensor._from_op(-self.data, (self,), lambda g: (-g,))

    def __pos__(self):
        return self

    def __matmul__(self, other):
        other = self._lift(other)
        _check_matmul(self.shape, other.shape)
        return Tensor._from_op(self.data @ other.data, (self, other), _matmul_backward(self, other))

    def __rmatmul__(self, other):
        return self._lift(other) @ self

    def matmul(self, other):
        """The matrix product ``self @ other``; the backward gives g B^T and A^T g.

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        return self @ other

    # comparisons give boolean tensors and no gradient; both sides are first promoted, as in PyTorch
    def __eq__(self, other):
        if other is None:
            return False
        return _untracked(self, other, lambda a, b: a == b)

    def __ne__(self, other):
        if other is None:
            return True
        return _untracked(self, other, lambda a, b: a != b)

    def __lt__(self, other):
        return _untracked(self, other, lambda a, b: a < b)

    def __le__(self, other):
        return _untracked(self, other, lambda a, b: a <= b)

    def __gt__(self, other):
        return _untracked(self, other, lambda a, b: a > b)

    def __ge__(self, other):
        return _untracked(self, other, lambda a, b: a >= b)

    def __invert__(self):
        return Tensor._from_op(~self.data, (), None)

    def __and__(self, other):
        return _untracked(self, other, lambda a, b: a & b)

    def __or__(self, other):
        return _untracked(self, other, lambda a, b: a | b)

    # ---- indexing ------------------------------------------------------------------------------
    def __getitem__(self, index):
        index = _device_index(index)
        shape, dtype = self.data.shape, self.data.dtype

        def backward(g):
            grad = backend.xp().zeros(shape, dtype=dtype)
            if _is_advanced(index):
                backend.current().scatter_add(grad, index, g)  # a repeated index adds up
            else:
                grad[index] = g
            return (grad,)

        return Tensor._from_op(self.data[index], (self,), backward)

    # ---- reductions ----------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        """The sum over ``dim`` (all dimensions by default); the gradient is broadcast back to every entry.

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        shape = self.data.shape

        def backward(g):
            return (backend.xp().broadcast_to(_restore_dims(g, dim, len(shape), keepdim), shape),)

        return Tensor._from_op(self.data.sum(axis=_axes(dim), keepdims=keepdim), (self,), backward)

    def mean(self, dim=None, keepdim=False):
        """The mean over ``dim`` (all dimensions by default), e.g. the average loss over a batch.

        Taught in "Losses" (book/part1/losses.md) and "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        if self.data.dtype.kind not in "fc":
            raise RuntimeError(f"mean(): needs a floating-point tensor (got {self.dtype}); use .float()")
        return self.sum(dim, keepdim) / _count(self.shape, dim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """The variance over ``dim``: sum((x - mean)^2) / (n - correction), PyTorch's signature.

        ``correction`` is 1 by default (Bessel's, the same as ``unbiased=True``); ``unbiased=False``
        means 0. Where n - correction <= 0 the result is inf or nan, as in PyTorch. Floating tensors
        only (RuntimeError otherwise); giving both ``unbiased`` and ``correction`` is a TypeError.
        """
        dim, dof = _degrees_of_freedom("var", self, dim, unbiased, correction)
        axes = _axes(dim)
        centered = self.data - self.data.mean(axis=axes, keepdims=True)
        with _quiet():
            out = (centered * centered).sum(axis=axes, keepdims=keepdim) / dof

        def backward(g):  # d/dx_i of sum (x - mean)^2 / dof = 2 (x_i - mean) / dof
            with _quiet():
                return (2 * centered * (_restore_dims(g, dim, self.ndim, keepdim) / dof),)

        return Tensor._from_op(out, (self,), backward)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """The standard deviation over ``dim``: the square root of ``var`` (same arguments).

        The gradient g / (2 std) is 0, not inf * 0 = nan, where std is 0 (a constant row), as in PyTorch.
        """
        if isinstance(dim, bool):  # std(False): the unbiased flag given first, as PyTorch allows
            dim, unbiased = None, dim
        _degrees_of_freedom("std", self, dim, unbiased, correction)  # errors name std, not var
        variance = self.var(dim, unbiased, keepdim, correction=correction)
        xp = backend.xp()
        out = xp.sqrt(variance.data)

        def backward(g):
            zero = out == 0
            return (_zero_where(zero, g / (2 * xp.where(zero, 1, out))),)

        return Tensor._from_op(out, (variance,), backward)

    def max(self, dim=None, keepdim=False):
        """The largest entry; with ``dim``, a (values, indices) pair as in PyTorch.

        NaN counts as the largest value (the result is nan and the index points at the first NaN).
        Without ``dim`` the gradient is shared evenly by all entries equal to the maximum; with ``dim``
        it goes to the returned index.

        Taught in "Losses" (book/part1/losses.md).
        """
        return self._extreme("max", dim, keepdim)

    def min(self, dim=None, keepdim=False):
        """The smallest entry; with ``dim``, a (values, indices) pair; NaN wins, as in ``max``."""
        return self._extreme("min", dim, keepdim)

    def _extreme(self, name, dim, keepdim):
        """max or min: one value and a shared gradient without ``dim``, (values, indices) with it."""
        xp = backend.xp()
        if dim is None:
            if self.data.size == 0:
                raise RuntimeError(
                    f"{name}(): expected a reduction dim to be specified for an empty tensor (shape "
                    f"{self.shape}); give dim="
                )
            out = getattr(self.data, name)()  # a NaN anywhere makes the result nan

            def backward_all(g):
                ties = (self.data == out) | (xp.isnan(self.data) & xp.isnan(out))
                # an even share for each tie, as in PyTorch; counted in int64 and divided in float64,
                # so 70,000 float16 ties don't overflow float16 (whose largest value is 65504)
                share = (g.astype(backend.float64) / ties.sum()).astype(self.dtype)
                return (ties * share,)

            return Tensor._from_op(out, (self,), backward_all)
        dim = _normalize_dim(dim, self.ndim)
        if self.ndim and self.shape[dim] == 0:
            raise IndexError(f"{name}(): expected reduction dim {dim} to have non-zero size (shape {self.shape})")
        indices = _arg_extreme(self.data, name == "max", dim)
        expanded = xp.expand_dims(indices, dim)
        values = xp.take_along_axis(self.data, expanded, axis=dim)
        if not keepdim:
            values = values.squeeze(dim)

        def backward(g):
            positions = xp.arange(self.shape[dim]).reshape([-1 if d == dim else 1 for d in range(self.ndim)])
            winner = positions == expanded
            return (winner * _restore_dims(g, dim, self.ndim, keepdim),)

        result = Tensor._from_op(values, (self,), backward)
        return ReductionResult(result, Tensor._from_op(indices if not keepdim else expanded, (), None))

    def argmax(self, dim=None, keepdim=False):
        """The index of the largest entry along ``dim``, e.g. the predicted class; no gradient.

        Without ``dim``, the index into the flattened tensor. A NaN counts as the largest, as in PyTorch.

        Taught in "Neural networks" (book/part1/networks.md).
        """
        return self._index_of_extreme(True, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        """The index of the smallest entry along ``dim`` (flattened without ``dim``); NaN wins; no gradient."""
        return self._index_of_extreme(False, dim, keepdim)

    def _index_of_extreme(self, largest, dim, keepdim):
        xp = backend.xp()
        name = "argmax" if largest else "argmin"
        if dim is None:
            if self.data.size == 0:
                raise IndexError(f"{name}(): expected a reduction dim to be specified for an empty tensor; give dim=")
            index = xp.asarray(_arg_extreme(self.data, largest, None))
            return Tensor._from_op(index.reshape((1,) * self.ndim) if keepdim else index, (), None)
        dim = _normalize_dim(dim, self.ndim)
        indices = _arg_extreme(self.data, largest, dim)
        return Tensor._from_op(xp.expand_dims(indices, dim) if keepdim else indices, (), None)

    # ---- elementwise functions -----------------------------------------------------------------
    def exp(self):
        """e^x elementwise; the backward multiplies by e^x.

        Taught in "Losses" (book/part1/losses.md).
        """
        out = backend.xp().exp(self.data)
        return Tensor._from_op(out, (self,), lambda g: (g * out,))

    def log(self):
        """The natural logarithm elementwise; the backward divides by x.

        Taught in "Losses" (book/part1/losses.md).
        """
        return Tensor._from_op(backend.xp().log(self.data), (self,), lambda g: (g / self.data,))

    def sqrt(self):
        """The square root elementwise; the backward multiplies by 1 / (2 sqrt(x))."""
        out = backend.xp().sqrt(self.data)
        return Tensor._from_op(out, (self,), lambda g: (g * 0.5 / out,))

    def abs(self):
        """|x| elementwise; the backward multiplies by sign(x).

        Taught in "Neural networks" (book/part1/networks.md).
        """
        xp = backend.xp()
        return Tensor._from_op(xp.abs(self.data), (self,), lambda g: (g * xp.sign(self.data),))

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
        x, *bounds = _promote(self, *given)
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
            grads = [_unbroadcast(g * keep, x.shape)]
            if low is not None:
                active = x.data < low.data
                if high is not None:
                    active = active & (low.data < high.data)
                grads.append(_unbroadcast(g * active, low.shape))
            if high is not None:
                active = x.data > high.data
                if low is not None:
                    active = active | (high.data < low.data)
                grads.append(_unbroadcast(g * active, high.shape))
            return tuple(grads)

        parents = (x,) + tuple(bound for bound in (low, high) if bound is not None)
        return Tensor._from_op(out, parents, backward)

    clamp = clip

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
        return Tensor._from_op(out, (self,), lambda g: (g * (1 - out * out),))

    def sigmoid(self):
        """sigma(z) = 1 / (1 + e^(-z)) elementwise; the backward multiplies by sigma(z)(1 - sigma(z)).

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        xp = backend.xp()
        # exp(-log(1 + e^-x)): never forms e^-x alone, so it cannot overflow, and the far-left tail
        # keeps its digits (sigma(-40) = 4.2e-18, where 0.5 (1 + tanh(x / 2)) cancels to 0)
        out = xp.exp(-xp.logaddexp(0, -self.data))
        return Tensor._from_op(out, (self,), lambda g: (g * out * (1 - out),))

    def relu(self):
        """max(0, z) elementwise; the backward passes the gradient where z > 0 and zero elsewhere.

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        positive = self.data > 0
        return Tensor._from_op(self.data * positive, (self,), lambda g: (g * positive,))

    def softmax(self, dim):
        """softmax along ``dim``, as ``F.softmax``.

        Taught in "Attention and transformers" (book/part2/attention.md).
        """
        from minidl.nn import functional

        return functional.softmax(self, dim)

    def log_softmax(self, dim):
        """log-softmax along ``dim``, as ``F.log_softmax``.

        Taught in "Losses" (book/part1/losses.md).
        """
        from minidl.nn import functional

        return functional.log_softmax(self, dim)

    # ---- shape ---------------------------------------------------------------------------------
    def reshape(self, *shape):
        """The same entries in a new shape (one dimension may be -1); ``view`` is the same method.

        Taught in "Losses" (book/part1/losses.md).
        """
        shape = _shape_arg(shape)
        source = self.data.shape
        if sum(n == -1 for n in shape) > 1:
            raise RuntimeError(f"reshape: only one dimension can be inferred (-1), got shape {shape}")
        try:
            out = self.data.reshape(shape)
        except ValueError:
            raise RuntimeError(
                f"reshape: cannot reshape a tensor of shape {self.shape} ({self.numel()} elements) into {shape}"
            ) from None
        return Tensor._from_op(out, (self,), lambda g: (g.reshape(source),))

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dimensions ``start_dim`` to ``end_dim`` into one, e.g. feature maps into a vector.

        Taught in "Encoding language" (book/part2/embeddings.md).
        """
        if self.ndim == 0:
            return self.reshape(1)
        start, end = _normalize_dim(start_dim, self.ndim), _normalize_dim(end_dim, self.ndim)
        shape = self.shape[:start] + (-1,) + self.shape[end + 1 :]
        return self.reshape(shape)

    def permute(self, *dims):
        """Reorder the dimensions; the backward applies the inverse permutation.

        Taught in "Attention and transformers" (book/part2/attention.md).
        """
        given = _shape_arg(dims)
        if len(given) != self.ndim:
            raise RuntimeError(
                f"permute(): the tensor has {self.ndim} dimensions (shape {self.shape}) but dims {given} "
                f"name {len(given)}; give each dimension exactly once"
            )
        dims = tuple(_normalize_dim(d, self.ndim) for d in given)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"permute(): duplicate dims are not allowed, got {given}")
        inverse = tuple(sorted(range(len(dims)), key=dims.__getitem__))
        return Tensor._from_op(self.data.transpose(dims), (self,), lambda g: (g.transpose(inverse),))

    def transpose(self, dim0, dim1):
        """Swap dimensions ``dim0`` and ``dim1``."""
        dims = list(range(self.ndim))
        dim0, dim1 = _normalize_dim(dim0, self.ndim), _normalize_dim(dim1, self.ndim)
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    def squeeze(self, dim=None):
        """Remove dimensions of size 1 (only ``dim`` if given).

        Taught in "Attention and transformers" (book/part2/attention.md).
        """
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dim = _normalize_dim(dim, self.ndim)
        if self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1 :])

    def unsqueeze(self, dim):
        """Insert a dimension of size 1 at ``dim``.

        Taught in "Attention and transformers" (book/part2/attention.md).
        """
        dim = _normalize_dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def unbind(self, dim=0):
        """The slices along ``dim`` as a tuple; see ``minidl.unbind``."""
        return unbind(self, dim)

    def expand(self, *shape):
        """Broadcast size-1 dimensions to ``shape`` without copying; the backward sums over them."""
        shape = _shape_arg(shape)
        lead = len(shape) - self.ndim
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        source = self.shape
        out = backend.xp().broadcast_to(self.data, shape)
        return Tensor._from_op(out, (self,), lambda g: (_unbroadcast(g, source),))

    def gather(self, dim, index):
        """The entries of ``self`` that ``index`` picks along ``dim``; see ``minidl.gather``."""
        return gather(self, dim, index)


# ---- functions of several tensors --------------------------------------------------------------
def tensor(data, requires_grad=False, dtype=None):
    """A new leaf tensor: floats become float32 unless given as a float64 array (as in PyTorch).

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def cat(tensors, dim=0):
    """Join tensors along an existing dimension.

    Taught in "Detection and segmentation" (book/part3/detection.md).
    """
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat(): expected a non-empty list of tensors")
    dim = _normalize_dim(dim, tensors[0].ndim)
    bounds = [0]
    for t in tensors:
        bounds.append(bounds[-1] + t.shape[dim])
    try:
        out = backend.xp().concatenate([t.data for t in tensors], axis=dim)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ValueError(f"cat(): shapes {shapes} must agree except in dimension {dim}") from None

    def backward(g):
        slicer = [slice(None)] * g.ndim
        grads = []
        for start, stop in zip(bounds[:-1], bounds[1:]):
            slicer[dim] = slice(start, stop)
            grads.append(g[tuple(slicer)])
        return tuple(grads)

    return Tensor._from_op(out, tuple(tensors), backward)


def stack(tensors, dim=0):
    """Join same-shape tensors along a new dimension.

    Taught in "Losses" (book/part1/losses.md).
    """
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if len({t.shape for t in tensors}) > 1:
        raise ValueError(f"stack(): all tensors must have the same shape, got {[t.shape for t in tensors]}")
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def unbind(input, dim=0):
    """The slices of ``input`` along ``dim``, as a tuple (PyTorch's ``torch.unbind``).

    The slices write their gradients into one shared array that a single node hands down, so
    unbinding a sequence of length T costs O(T) in the backward pass; indexing step by step would
    give every step a zero gradient of the whole sequence, O(T^2).
    """
    dim = _normalize_dim(dim, input.ndim)
    prefix = (slice(None),) * dim
    if not (input.requires_grad and _autograd.is_grad_enabled()):
        return tuple(Tensor._from_op(input.data[prefix + (t,)], (), None) for t in range(input.shape[dim]))
    shared = {}
    hub = Tensor._from_op(input.data, (input,), lambda _token: (shared.pop("grad"),))

    def piece(t):
        def backward(g):
            if "grad" not in shared:
                shared["grad"] = backend.xp().zeros_like(input.data)
            shared["grad"][prefix + (t,)] += g
            return (backend.xp().zeros((), dtype=g.dtype),)  # a token: the hub has a gradient to hand down

        return Tensor._from_op(input.data[prefix + (t,)], (hub,), backward)

    return tuple(piece(t) for t in range(input.shape[dim]))


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other``; gradients flow to the chosen side.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """
    condition = condition.data if isinstance(condition, Tensor) else _as_array(condition)
    input, other = _promote(input, other)  # PyTorch's promotion: where(mask, x, 0.0) keeps x's float32
    out = backend.xp().where(condition, input.data, other.data)

    def backward(g):
        return (
            _unbroadcast(g * condition, input.shape),
            _unbroadcast(g * ~condition, other.shape),
        )

    return Tensor._from_op(out, (input, other), backward)


def gather(input, dim, index):
    """Pick entries along ``dim``: ``out[i][j] = input[index[i][j]][j]`` for dim 0, ``input[i][index[i][j]]``
    for dim 1 (PyTorch's ``torch.gather``), e.g. the probability of each sample's own class.

    ``index`` is an int64 (or int32) tensor with as many dimensions as ``input`` and no larger than it
    outside ``dim``; the result has ``index``'s shape and ``input``'s dtype. The backward adds the
    gradient back into the picked places (a repeated index adds up). A bad index is a RuntimeError
    (negative indices are out of bounds, as in PyTorch); a bad ``dim`` an IndexError.
    """
    xp = backend.xp()
    index = index.data if isinstance(index, Tensor) else _as_array(index)
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"gather(): index must be an int64 or int32 tensor, got dtype {index.dtype}")
    if index.ndim != input.ndim:
        raise RuntimeError(
            f"gather(): index has {index.ndim} dimensions (shape {tuple(index.shape)}) but input has "
            f"{input.ndim} (shape {input.shape}); they must have the same number"
        )
    if input.ndim == 0:
        return gather(input.reshape(1), 0, index.reshape(1)).reshape(())
    dim = _normalize_dim(dim, input.ndim)
    for d, (n, limit) in enumerate(zip(index.shape, input.shape)):
        if d != dim and n > limit:
            raise RuntimeError(
                f"gather(): index of shape {tuple(index.shape)} is larger than input of shape {input.shape} "
                f"in dimension {d}; only dimension {dim} (dim) may be larger"
            )
    if index.size:
        low, high = int(index.min()), int(index.max())
        if low < 0 or high >= input.shape[dim]:
            raise RuntimeError(
                f"gather(): index {low if low < 0 else high} is out of bounds for dimension {dim} with size "
                f"{input.shape[dim]}"
            )
    # one integer array per dimension: index along dim, the position itself along the others
    places = tuple(
        index if d == dim else xp.arange(n).reshape([-1 if e == d else 1 for e in range(index.ndim)])
        for d, n in enumerate(index.shape)
    )

    def backward(g):
        grad = xp.zeros(input.shape, dtype=g.dtype)
        backend.current().scatter_add(grad, places, g)
        return (grad,)

    return Tensor._from_op(input.data[places], (input,), backward)


def to_numpy(x):
    """A host NumPy array from a Tensor or a backend array (detached), e.g. for plotting.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    if isinstance(x, Tensor):
        x = x.data
    current = backend.current()
    return current.to_host(x) if current.is_array(x) else current.to_host(current.from_host(x))


# ---- helpers -----------------------------------------------------------------------------------
def _category(dtype):
    """PyTorch's type categories, in promotion order: bool < integer < floating point < complex."""
    return {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}[dtype.kind]


def _unbroadcast(grad, shape):
    """Sum a gradient back down to ``shape``: the adjoint of NumPy broadcasting."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


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
            g = backend.xp().expand_dims(g, -1)
        if a.ndim == 1:
            g = backend.xp().expand_dims(g, -2)
        grad_a = grad_b = None
        if a.requires_grad:
            grad_a = _unbroadcast(g @ b_data.swapaxes(-1, -2), a_data.shape).reshape(a.shape)
        if b.requires_grad:
            grad_b = _unbroadcast(a_data.swapaxes(-1, -2) @ g, b_data.shape).reshape(b.shape)
        return grad_a, grad_b

    return backward


def _is_scalar(obj):
    return hasattr(obj, "dtype") and getattr(obj, "shape", None) == () and not backend.current().is_array(obj)


def _device_index(index):
    """Move index arrays (lists, host arrays, Tensors) to the backend, leave slices and ints alone."""
    if isinstance(index, tuple):
        return tuple(_device_index(i) for i in index)
    if isinstance(index, Tensor):
        index = index.data
    if getattr(index, "ndim", None) == 0 and index.dtype.kind in "iu":
        return int(index)  # a scalar index selects, it doesn't gather
    if isinstance(index, list) or (hasattr(index, "dtype") and not backend.current().is_array(index)):
        return backend.current().from_host(index)
    return index


def _is_advanced(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(backend.current().is_array(p) for p in parts)


def _normalize_dim(dim, ndim):
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"dimension {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % max(ndim, 1)


def _axes(dim):
    return tuple(dim) if isinstance(dim, (list, tuple)) else dim


def _count(shape, dim):
    """How many entries a reduction over ``dim`` combines into each result."""
    dims = range(len(shape)) if dim is None else dim if isinstance(dim, (list, tuple)) else (dim,)
    return math.prod(shape[_normalize_dim(d, len(shape))] for d in dims) if shape else 1


def _restore_dims(g, dim, ndim, keepdim):
    """Put back the dimensions a reduction removed, so ``g`` broadcasts against the input."""
    if dim is None or keepdim:
        return g
    dims = dim if isinstance(dim, (list, tuple)) else (dim,)
    return backend.xp().expand_dims(g, tuple(_normalize_dim(d, ndim) for d in dims))


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


# ---- type promotion, as in PyTorch ----------------------------------------------------------------
_CATEGORIES = "biufc"  # bool < integer (unsigned and signed together) < floating < complex


def _category(dtype):
    return _CATEGORIES.index(dtype.kind) if dtype.kind in "bfc" else 1 if dtype.kind in "iu" else -1


def _is_number(obj):
    """A Python number, a NumPy scalar or a 0-d host array: it takes part in promotion like a Python number."""
    return isinstance(obj, (bool, int, float)) or _is_scalar(obj)


def _number_dtype(number):
    """The dtype a number brings to promotion: bool, int64 or the default float32, as in PyTorch."""
    if hasattr(number, "dtype"):  # a NumPy scalar counts by its category, like the Python number
        kind = number.dtype.kind
    else:
        kind = "b" if isinstance(number, bool) else "i" if isinstance(number, int) else "f"
    return backend.xp().dtype(backend.bool_ if kind == "b" else backend.int64 if kind in "iu" else backend.float32)


def _promote_dtypes(dtypes):
    """The common dtype within one rank: the higher category wins outright (int64 with float32 is
    float32, not NumPy's float64); within a category the wider type wins."""
    result = None
    for dtype in dtypes:
        if result is None or _category(dtype) > _category(result):
            result = dtype
        elif _category(dtype) == _category(result):
            result = backend.xp().promote_types(result, dtype)
    return result


def _result_dtype(*operands):
    """PyTorch's result type: operands rank as dimensioned tensors, then 0-d tensors, then numbers.

    A lower rank changes the dtype only if it brings a higher category (bool < integer < floating):
    float32 tensor + float64 0-d tensor is float32, but int64 tensor + float32 0-d tensor is float32
    and int64 tensor + 2.5 is float32, the default float dtype.
    """
    ranks = ([], [], [])
    for x in operands:
        if isinstance(x, Tensor):
            ranks[0 if x.ndim else 1].append(x.dtype)
        else:
            ranks[2].append(_number_dtype(x))
    result = None
    for rank in ranks:  # dimensioned, 0-d, numbers: a lower rank wins only with a higher category
        dtype = _promote_dtypes(rank)
        if dtype is not None and (result is None or _category(dtype) > _category(result)):
            result = dtype
    return result


_PYTHON_NUMBER_CATEGORY = {bool: 0, int: 1, float: 2}


def _promote(*operands):
    """The operands as Tensors of their common dtype (``_result_dtype``); float casts stay differentiable."""
    if len(operands) == 2:  # fast paths for the common cases: same dtypes, or a tensor and a plain number
        a, b = operands
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            if a.dtype == b.dtype:
                return a, b
        elif isinstance(a, Tensor) and _PYTHON_NUMBER_CATEGORY.get(type(b), 9) <= _category(a.dtype):
            return a, _lift_number(b, a.dtype)
        elif isinstance(b, Tensor) and _PYTHON_NUMBER_CATEGORY.get(type(a), 9) <= _category(b.dtype):
            return _lift_number(a, b.dtype), b
    operands = [x if isinstance(x, Tensor) or _is_number(x) else Tensor(x) for x in operands]
    dtype = _result_dtype(*operands)
    return tuple(
        (x if x.dtype == dtype else x.to(dtype)) if isinstance(x, Tensor) else _lift_number(x, dtype) for x in operands
    )


def _lift_number(number, dtype):
    return Tensor._from_op(backend.xp().asarray(number, dtype=dtype), (), None)


def _untracked(a, b, operation):
    """A comparison or bitwise operation of promoted operands: a result without gradient."""
    a, b = _promote(a, b)
    return Tensor._from_op(operation(a.data, b.data), (), None)


def _as_dtype(dtype):
    try:
        return backend.xp().dtype(dtype)
    except TypeError:
        raise TypeError(f"to(): expected a dtype such as minidl.float32 or a tensor, got {dtype!r}") from None


_BACKEND_DEVICES = {"numpy": "cpu", "cupy": "cuda", "gpusim": "cuda"}


def _check_device(device):
    """Accept only the device of the current backend: minidl has no per-tensor devices (yet)."""
    name = backend.current().name
    here = _BACKEND_DEVICES.get(name)
    if str(device) in (here, f"{here}:0"):
        return
    raise RuntimeError(
        f"to(device={device!r}): minidl does not move single tensors between devices; every tensor lives on "
        f"the current backend {name!r} (device {here!r}). Choose the backend before making tensors with "
        f"minidl.use_backend('cupy') or minidl.use_backend('numpy'), or the MINIDL_BACKEND environment variable"
    )


# ---- numerics helpers ------------------------------------------------------------------------------
def _quiet():
    """Silence NumPy's floating-point warnings where the IEEE result (inf, nan) is the answer PyTorch
    gives silently, e.g. 0 ** -1 = inf or log(0) = -inf; CuPy never warns and has no errstate."""
    errstate = getattr(backend.xp(), "errstate", None)
    return errstate(all="ignore") if errstate is not None else contextlib.nullcontext()


def _zero_where(condition, values):
    """``values`` with exact zeros where ``condition`` holds (multiplying by a mask would keep nan and inf)."""
    xp = backend.xp()
    return xp.where(condition, xp.zeros((), dtype=values.dtype), values)


def _arg_extreme(data, largest, axis):
    """argmax (or argmin) along ``axis`` where a NaN beats every number, the first one among ties,
    as in NumPy and PyTorch; spelled out so every backend agrees."""
    xp = backend.xp()
    index = (xp.argmax if largest else xp.argmin)(data, axis=axis)
    if data.dtype.kind in "fc":
        nan = xp.isnan(data)
        index = xp.where(nan.any(axis=axis), xp.argmax(nan, axis=axis), index)
    return index


def _degrees_of_freedom(name, tensor, dim, unbiased, correction):
    """``dim`` and n - correction for var and std, with PyTorch's argument rules."""
    if isinstance(dim, bool):  # var(False): the unbiased flag given first, as PyTorch allows
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}(): give unbiased or correction, not both (correction=1 is unbiased=True)")
    if tensor.dtype.kind not in "fc":
        raise RuntimeError(f"{name}(): std and var only support floating-point tensors, got {tensor.dtype}; use .float()")
    if correction is None:
        correction = 0 if unbiased is False else 1
    return dim, max(0, _count(tensor.shape, dim) - correction)


def _refuse_bool_subtraction(*operands):
    if any(x.dtype == backend.bool_ if isinstance(x, Tensor) else isinstance(x, (bool, backend.bool_)) for x in operands):
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
    with _quiet():
        out = backend.xp().floor_divide(a.data, b.data)

    def backward(g):
        raise RuntimeError(
            "derivative for floor_divide (//) is not implemented, as in PyTorch: floor(a / b) is piecewise "
            "constant; detach() the result, or use a / b if a gradient should flow"
        )

    return Tensor._from_op(out, (a, b), backward)


def _remainder(a, b, divisor_gradient=True):
    """a - b floor(a / b) of promoted operands: the sign of b, as Python's % and PyTorch's remainder.

    d/da = 1 and d/db = -floor(a / b). PyTorch has no derivative for the divisor when the dividend is
    a Python number (``2.0 % x``); ``divisor_gradient=False`` raises there as it does.
    """
    _check_division(a, b, "remainder")
    xp = backend.xp()
    with _quiet():
        out = xp.remainder(a.data, b.data)

    def backward(g):
        grad_b = None
        if b.requires_grad:
            if not divisor_gradient:
                raise RuntimeError(
                    "derivative of number % tensor with respect to the tensor is not implemented, as in "
                    "PyTorch's remainder(Scalar, Tensor); write minidl.tensor(number) % tensor instead"
                )
            with _quiet():
                grad_b = _unbroadcast(-g * xp.floor_divide(a.data, b.data), b.shape)
        return _unbroadcast(g, a.shape), grad_b

    return Tensor._from_op(out, (a, b), backward)
