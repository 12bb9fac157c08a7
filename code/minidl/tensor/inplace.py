"""In-place operations on tensors, as PyTorch defines them: version counters and a rewritten graph."""

import operator

from minidl import autograd
from minidl import backend
from minidl.tensor.base import TensorBase
from minidl.tensor.promotion import category, move
from minidl.tensor.shapes import device_index, unbroadcast


class InPlace(TensorBase):
    """The in-place operations of Tensor (``+=``, ``zero_``, ``copy_``, ``t[i] = v``)."""

    __slots__ = ()

    # An in-place change writes into this tensor's memory and bumps its version counter. Inside a
    # recorded graph the tensor then becomes the output of a new node whose input is its old value,
    # so code that kept a reference sees the new value and earlier users keep the old graph.
    def _in_place(self, out_of_place, *args, leaf_message=None):
        recording = autograd.is_grad_enabled() and (
            self.requires_grad or any(isinstance(a, TensorBase) and a.requires_grad for a in args)
        )
        if recording:
            self._check_in_place(leaf_message)
            source = self._snapshot()
            result = out_of_place(source, *args)
        else:
            with autograd.no_grad():
                result = out_of_place(self, *args)
        if result.shape != self.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape {list(result.shape)}")
        if category(result.dtype) > category(self.dtype):
            raise RuntimeError(f"result type {result.dtype} can't be cast to the desired output type {self.dtype}")
        try:
            self.data[...] = result.data
        except ValueError:  # a read-only broadcast view, as made by expand()
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor refers to a single "
                "memory location. Please clone() the tensor before performing the operation."
            ) from None
        autograd.bump_version(self.data)
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
        if autograd.is_view(self.data):
            raise NotImplementedError(
                "in-place change of a view inside a recorded graph: PyTorch rewrites the graph of the "
                "viewed tensor (CopySlices); minidl does not. Change the tensor out of place "
                "(y = y + 1) or make the view its own tensor first with .clone()"
            )

    def _snapshot(self):
        """A tensor holding a copy of the current value, at this tensor's current place in the graph."""
        old = self._from_op(self.data.copy(), (), None)
        old.grad_fn = self.grad_fn
        old._requires_grad, old._grad_accumulator = self._requires_grad, self._grad_accumulator
        return old

    def add_(self, other):
        """``self += other`` in place; returns self."""
        return self._in_place(operator.add, other)

    def sub_(self, other):
        """``self -= other`` in place; returns self."""
        return self._in_place(operator.sub, other)

    def mul_(self, other):
        """``self *= other`` in place; returns self."""
        return self._in_place(operator.mul, other)

    def div_(self, other):
        """``self /= other`` in place; returns self."""
        return self._in_place(operator.truediv, other)

    __iadd__, __isub__, __imul__, __itruediv__ = add_, sub_, mul_, div_  # x += y is x.add_(y)

    def zero_(self):
        """Fill with zeros in place (e.g. ``p.grad.zero_()``); returns self."""
        return self.fill_(0)

    def fill_(self, value):
        """Set every entry to ``value`` (a number or a one-element tensor) in place; returns self."""

        def filled(old, value):
            value = old._lift(value)
            if value.data.size != 1:
                raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} dimensions.")
            out = backend.xp(old.data).full(old.data.shape, value.data.reshape(()), dtype=old.dtype)

            def backward(g):
                xp = backend.xp(g)
                return xp.zeros_like(g), g.sum().reshape(value_shape).astype(value_dtype)

            value_shape, value_dtype = value.shape, value.dtype
            return TensorBase._from_op(out, (old, value), backward, name="FillBackward0", saved=())

        return self._in_place(filled, value)

    def clamp_(self, min=None, max=None):
        """Clamp into [min, max] in place; returns self."""
        return self._in_place(lambda old: old.clamp(min, max))

    def copy_(self, src):
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor in place; returns self."""

        def copied(old, src):
            src = move(old._lift(src), backend.of(old.data))  # copy_ copies across devices, as in PyTorch
            try:
                out = backend.xp(old.data).broadcast_to(src.data, old.shape).astype(old.dtype)
            except ValueError:
                raise RuntimeError(f"copy_(): src of shape {src.shape} can't be broadcast to shape {old.shape}") from None
            src_shape, src_dtype = src.shape, src.dtype

            def backward(g):
                return backend.xp(g).zeros_like(g), unbroadcast(g, src_shape).astype(src_dtype)

            return TensorBase._from_op(out, (old, src), backward, name="CopyBackwards", saved=())

        return self._in_place(copied, src)

    def __setitem__(self, index, value):
        index = device_index(index, backend.of(self.data))

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
                grad_value = unbroadcast(written, value_shape)
                return kept, grad_value.astype(value_dtype) if value_dtype.kind in "fc" else None

            return TensorBase._from_op(out, (old, value), backward, name="CopySlices")

        self._in_place(put, value, leaf_message="a view of a leaf Variable that requires grad is being used in an in-place operation.")
