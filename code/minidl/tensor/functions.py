"""Functions of several tensors, as in PyTorch's ``torch`` namespace: tensor, as_tensor, from_numpy, cat, stack,
unbind, where, gather."""

from minidl import backend
from minidl.tensor.base import TensorBase
from minidl.tensor.core import Tensor
from minidl.tensor.shaping import gather, unbind  # noqa: F401  (torch.unbind and torch.gather)
from minidl.device import backend_for
from minidl.tensor.promotion import as_array, as_dtype, is_number, mixed_devices, move, one_device, transfer, number_dtype, promote, promote_dtypes
from minidl.tensor.shapes import normalize_dim, unbroadcast


def tensor(data, requires_grad=False, dtype=None, *, device=None):
    """A new leaf tensor holding a copy of ``data``, as ``torch.tensor``: changing ``data`` later leaves it alone.

    ``data`` is a number, a (nested) list, a NumPy or backend array, or a Tensor (copied and detached).
    Floats become float32 unless given as a float64 array (as in PyTorch). A list may hold one-element
    tensors among its numbers (``minidl.tensor([loss_a, loss_b])``); their dtypes take part in choosing
    the result's. ValueError, with PyTorch's message, for a list holding a tensor of several elements
    (join those with ``minidl.stack``). ``device`` (``"cpu"``, ``"cuda"``) is where the copy is made: by
    default the source tensor's or GPU array's device, else the default device (``minidl.use_backend``).

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    data, dtype = _unpack_tensors(data, dtype)
    source = data.data if isinstance(data, TensorBase) else data
    owner, data = _placed(source, device)
    array = as_array(data, dtype, owner)
    if data is source and owner.is_array(source) and backend.xp(array).may_share_memory(array, source):
        array = array.copy()  # the only copy: from a list, a host array or another device, a copy was made
    return _leaf(array, requires_grad)


def _leaf(array, requires_grad=False):
    """A leaf tensor holding ``array`` where it is (``Tensor(array)`` would put a host array on the default device)."""
    return TensorBase._from_op(array, (), None).requires_grad_(requires_grad)


def _placed(source, device):
    """The backend of the device a new tensor of ``source`` goes to, and ``source`` moved there if it is an
    array elsewhere: ``device`` if given, else a GPU array's own device, else the default device."""
    if device is not None:
        owner = backend_for(device)
    else:
        owner = backend.of(source) if backend.on_gpu(source) else backend.current()
    if backend.is_array(source) and backend.of(source) is not owner:
        return owner, transfer(source, backend.of(source), owner)
    return owner, source


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing its memory where it can, as ``torch.as_tensor``.

    A Tensor of the wanted dtype comes back itself (another dtype: ``data.to(dtype)``, in the graph); a
    backend array, or on the NumPy backend a NumPy array, of the wanted dtype is wrapped without a copy,
    so changes to one show in the other. Anything else is converted as by ``minidl.tensor``.
    """
    if isinstance(data, TensorBase):
        data = data if device is None else move(data, backend_for(device))
        return data if dtype is None or as_dtype(dtype) == data.dtype else data.to(dtype)
    data, dtype = _unpack_tensors(data, dtype)
    owner, data = _placed(data, device)
    return _leaf(as_array(data, dtype, owner))


_FROM_NUMPY_DTYPES = ("float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint64, uint32, "
                      "uint16, uint8, and bool")


def from_numpy(ndarray):
    """A tensor sharing the memory of the NumPy array ``ndarray`` (same shape and dtype), as ``torch.from_numpy``.

    Changing one changes the other. The tensor is on the CPU whatever the default device, as in PyTorch
    (``.to("cuda")`` copies it over). TypeError, with PyTorch's messages, for something other than a
    NumPy array or an array of strings or objects.
    """
    if not (hasattr(ndarray, "__array_interface__") and hasattr(ndarray, "dtype")):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype.kind not in "biufc":
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{ndarray.dtype.type.__name__}. The only supported types are: "
            + _FROM_NUMPY_DTYPES + "."
        )
    return _leaf(as_array(ndarray, None, backend.host()))


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
        tensors = one_device(*tensors)
        out = backend.xp(tensors[0].data).concatenate([t.data for t in tensors], axis=dim)
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
    input, other = promote(input, other)
    condition = condition.data if isinstance(condition, TensorBase) else as_array(condition, None, backend.of(input.data))
    if backend.on_gpu(condition) != backend.on_gpu(input.data) and condition.ndim:
        raise mixed_devices(condition, input.data)  # PyTorch's promotion: where(mask, x, 0.0) keeps x's float32
    out = backend.xp(input.data).where(condition, input.data, other.data)

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
    return backend.of(x).to_host(x) if backend.on_gpu(x) else backend.host().to_host(x)
