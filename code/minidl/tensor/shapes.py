"""Shape bookkeeping shared by the tensor operations: dimensions, reductions, broadcasting, indices."""

import math

from minidl import backend
from minidl.tensor.base import TensorBase


def unbroadcast(grad, shape):
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


def normalize_dim(dim, ndim):
    """``dim`` in [0, ndim), negative ones counted from the end; IndexError when out of range."""
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"dimension {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % max(ndim, 1)


def axes_of(dim):
    """``dim`` as NumPy's ``axis`` argument: a tuple for several dimensions, else unchanged."""
    return tuple(dim) if isinstance(dim, (list, tuple)) else dim


def reduced_count(shape, dim):
    """How many entries a reduction over ``dim`` combines into each result."""
    dims = range(len(shape)) if dim is None else dim if isinstance(dim, (list, tuple)) else (dim,)
    return math.prod(shape[normalize_dim(d, len(shape))] for d in dims) if shape else 1


def restore_dims(g, dim, ndim, keepdim):
    """Put back the dimensions a reduction removed, so ``g`` broadcasts against the input."""
    if dim is None or keepdim:
        return g
    dims = dim if isinstance(dim, (list, tuple)) else (dim,)
    return backend.xp(g).expand_dims(g, tuple(normalize_dim(d, ndim) for d in dims))


def shape_arg(shape):
    """A shape given as ``f(2, 3)`` or ``f((2, 3))``, as a tuple."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def is_scalar(obj):
    """A NumPy scalar or 0-d host array: it takes part in arithmetic like a Python number."""
    return hasattr(obj, "dtype") and getattr(obj, "shape", None) == () and not backend.current().is_array(obj)


def device_index(index, owner):
    """Move index arrays (lists, host arrays, Tensors) to backend ``owner`` (the indexed tensor's), leave
    slices and ints alone."""
    if isinstance(index, tuple):
        return tuple(device_index(i, owner) for i in index)
    if isinstance(index, TensorBase):
        index = index.data
    if getattr(index, "ndim", None) == 0 and index.dtype.kind in "iu":
        return int(index)  # a scalar index selects, it doesn't gather
    if isinstance(index, list) or (hasattr(index, "dtype") and not owner.is_array(index)):
        return owner.from_host(index)
    return index


def is_advanced_index(index):
    """Whether an index gathers (holds a backend array) rather than slicing."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(backend.is_array(p) for p in parts)


def restore_shape_without(shape, axes):
    """``shape`` with the reduced ``axes`` (a tuple, or None for all) removed."""
    if axes is None:
        return ()
    if not isinstance(axes, tuple):
        axes = (axes,)
    axes = {a % len(shape) for a in axes} if shape else set()
    return tuple(n for d, n in enumerate(shape) if d not in axes)
