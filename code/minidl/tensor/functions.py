"""Functions of several tensors, as in PyTorch's ``torch`` namespace: tensor, as_tensor, from_numpy, cat, stack,
unbind, where, gather."""

from minidl import backend
from minidl.tensor.base import TensorBase
from minidl.tensor.core import Tensor
from minidl.tensor.shaping import gather, unbind  # noqa: F401  (torch.unbind and torch.gather)
from minidl.tensor.promotion import as_array, as_dtype, check_device, is_number, number_dtype, promote, promote_dtypes
from minidl.tensor.shapes import normalize_dim, unbroadcast


def tensor(data, requires_grad=False, dtype=None, *, device=None):
    """A new leaf tensor holding a copy of ``data``, as ``torch.tensor``: changing ``data`` later leaves it alone.

    ``data`` is a number, a (nested) list, a NumPy or backend array, or a Tensor (copied and detached).
    Floats become float32 unless given as a float64 array (as in PyTorch). A list may hold one-element
    tensors among its numbers (``minidl.tensor([loss_a, loss_b])``); their dtypes take part in choosing
    the result's. ValueError, with PyTorch's message, for a list holding a tensor of several elements
    (join those with ``minidl.stack``). ``device`` may only name the current backend's device.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    if device is not None:
        check_device(device)
    data, dtype = _unpack_tensors(data, dtype)
    source = data.data if isinstance(data, TensorBase) else data
    array = as_array(data, dtype)
    if backend.current().is_array(source) and backend.xp().may_share_memory(array, source):
        array = array.copy()  # the only copy: from a list or a host array to a device, as_array made one
    return Tensor(array, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing its memory where it can, as ``torch.as_tensor``.

    A Tensor of the wanted dtype comes back itself (another dtype: ``data.to(dtype)``, in the graph); a
    backend array, or on the NumPy backend a NumPy array, of the wanted dtype is wrapped without a copy,
    so changes to one show in the other. Anything else is converted as by ``minidl.tensor``.
    """
    if device is not None:
        check_device(device)
    if isinstance(data, TensorBase):
        return data if dtype is None or as_dtype(dtype) == data.dtype else data.to(dtype)
    data, dtype = _unpack_tensors(data, dtype)
    return Tensor(data, dtype=dtype)


_FROM_NUMPY_DTYPES = ("float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint64, uint32, "
                      "uint16, uint8, and bool")


def from_numpy(ndarray):
    """A tensor sharing the memory of the NumPy array ``ndarray`` (same shape and dtype), as ``torch.from_numpy``.

    Changing one changes the other. Only the NumPy backend keeps tensors in host memory: on a GPU backend
    this raises TypeError (copy the array over with ``minidl.tensor(ndarray)`` instead). TypeError too,
    with PyTorch's messages, for something other than a NumPy array or an array of strings or objects.
    """
    if not (hasattr(ndarray, "__array_interface__") and hasattr(ndarray, "dtype")):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype.kind not in "biufc":
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{ndarray.dtype.type.__name__}. The only supported types are: "
            + _FROM_NUMPY_DTYPES + "."
        )
    current = backend.current()
    if current.name != "numpy":
        raise TypeError(
            f"from_numpy(): a tensor from NumPy shares the array's host memory, but minidl runs on the "
            f"{current.name!r} backend, whose tensors live on the device; copy the array there with "
            f"minidl.tensor(ndarray) instead"
        )
    return Tensor(ndarray)


def _unpack_tensors(data, dtype):
    """A list holding tensors as nested numbers, and the dtype PyTorch infers from them (``dtype`` wins).

    Anything else comes back unchanged. Each tensor must hold one element, as in ``torch.tensor``.
    """
    if not (isinstance(data, (list, tuple)) and _holds_tensor(data)):
        return data, dtype
    dtypes = []
    numbers = _numbers(data, dtypes)
    return numbers, dtype if dtype is not None else promote_dtypes(dtypes)


def _holds_tensor(data):
    if isinstance(data, TensorBase):
        return True
    return isinstance(data, (list, tuple)) and any(_holds_tensor(d) for d in data)


def _numbers(data, dtypes):
    """``data`` with each tensor replaced by its number; the dtype of every entry is added to ``dtypes``."""
    if isinstance(data, (list, tuple)):
        return [_numbers(d, dtypes) for d in data]
    if isinstance(data, TensorBase):
        if data.data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        dtypes.append(data.dtype)
        return data.data.item()
    if is_number(data):
        dtypes.append(number_dtype(data))
    return data


def cat(tensors, dim=0):
    """Join tensors along an existing dimension.

    Taught in "Detection and segmentation" (book/part3/detection.md).
    """
    tensors = [t if isinstance(t, TensorBase) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat(): expected a non-empty list of tensors")
    dim = normalize_dim(dim, tensors[0].ndim)
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

    return TensorBase._from_op(out, tuple(tensors), backward)


def stack(tensors, dim=0):
    """Join same-shape tensors along a new dimension.

    Taught in "Losses" (book/part1/losses.md).
    """
    tensors = [t if isinstance(t, TensorBase) else Tensor(t) for t in tensors]
    if len({t.shape for t in tensors}) > 1:
        raise ValueError(f"stack(): all tensors must have the same shape, got {[t.shape for t in tensors]}")
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other``; gradients flow to the chosen side.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """
    condition = condition.data if isinstance(condition, TensorBase) else as_array(condition)
    input, other = promote(input, other)  # PyTorch's promotion: where(mask, x, 0.0) keeps x's float32
    out = backend.xp().where(condition, input.data, other.data)

    def backward(g):
        return (
            unbroadcast(g * condition, input.shape),
            unbroadcast(g * ~condition, other.shape),
        )

    return TensorBase._from_op(out, (input, other), backward)


def to_numpy(x):
    """A host NumPy array from a Tensor or a backend array (detached), e.g. for plotting.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    if isinstance(x, TensorBase):
        x = x.data
    current = backend.current()
    return current.to_host(x) if current.is_array(x) else current.to_host(current.from_host(x))
