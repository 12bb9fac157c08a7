"""PyTorch's dtype rules: what a new tensor's dtype is, and the common dtype of an operation's operands."""

from minidl import backend
from minidl.device import device_of
from minidl.tensor.base import TensorBase
from minidl.tensor.shapes import is_scalar


def default_dtype(data):
    """PyTorch's rule: Python floats become float32; arrays keep the dtype they were given."""
    if hasattr(data, "dtype"):
        return None
    if isinstance(data, (list, tuple)) and any(isinstance(d, TensorBase) for d in data):
        raise TypeError("tensor(): got a list of Tensors; use minidl.stack(tensors) to join them")
    return backend.float32 if _holds_floats(data) else None


def _holds_floats(data):
    if isinstance(data, float):
        return True
    if isinstance(data, (list, tuple)):
        return any(_holds_floats(d) for d in data)
    return False


def as_array(data, dtype=None, owner=None):
    """``data`` (a Tensor, backend array, host array, list or number) as an array, in ``dtype`` or PyTorch's default.

    An array of ``owner``'s (the backend of a device; None: the default device's) or of a GPU stays
    where it is; host data (a NumPy array, list or number) is copied onto ``owner``'s device.
    """
    owner = owner or backend.current()
    if isinstance(data, TensorBase):
        data = data.data
    if owner.is_array(data) or backend.on_gpu(data):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    return owner.from_host(data, dtype=dtype or default_dtype(data))


def transfer(array, source, owner):
    """``array`` of backend ``source`` copied onto backend ``owner``'s device, through the host."""
    host = array if source is backend.host() else source.to_host(array)
    return host if owner is backend.host() else owner.from_host(host)


def move(tensor, owner):
    """``tensor`` on backend ``owner``'s device: itself if it is there, else a copy recorded in the graph
    (the gradient is copied back, as PyTorch's ``ToCopyBackward0``)."""
    source = backend.of(tensor.data)
    if source is owner:
        return tensor
    return TensorBase._from_op(transfer(tensor.data, source, owner), (tensor,),
                               lambda g: (transfer(g, owner, source),), name="ToCopyBackward0")


def mixed_devices(*arrays):
    """PyTorch's RuntimeError for operands on two devices, naming them (the GPU first, as PyTorch does)."""
    devices = sorted({str(device_of(a)) for a in arrays}, reverse=True)
    return RuntimeError(
        f"Expected all tensors to be on the same device, but found at least two devices, {devices[0]} and {devices[-1]}!"
    )


def one_device(*tensors):
    """The tensors on one device: a 0-d CPU tensor among GPU tensors is copied over (it mixes freely, as
    in PyTorch); any other CPU tensor meeting a GPU tensor raises ``mixed_devices``."""
    on_gpu = [backend.on_gpu(t.data) for t in tensors]
    if all(on_gpu) or not any(on_gpu):
        return tensors
    gpu = tensors[on_gpu.index(True)]
    for t, here in zip(tensors, on_gpu):
        if not here and t.ndim:
            raise mixed_devices(gpu.data, t.data)
    owner = backend.of(gpu.data)
    return tuple(t if here else move(t, owner) for t, here in zip(tensors, on_gpu))


_CATEGORIES = "biufc"  # bool < integer (unsigned and signed together) < floating < complex


def category(dtype):
    """The rank of a dtype's kind in promotion: bool 0 < integer 1 < floating 2 < complex 3 (-1 otherwise)."""
    return _CATEGORIES.index(dtype.kind) if dtype.kind in "bfc" else 1 if dtype.kind in "iu" else -1


def is_number(obj):
    """A Python number, a NumPy scalar or a 0-d host array: it takes part in promotion like a Python number."""
    return isinstance(obj, (bool, int, float)) or is_scalar(obj)


def number_dtype(number):
    """The dtype a number brings to promotion: bool, int64 or the default float32, as in PyTorch."""
    if hasattr(number, "dtype"):  # a NumPy scalar counts by its category, like the Python number
        kind = number.dtype.kind
    else:
        kind = "b" if isinstance(number, bool) else "i" if isinstance(number, int) else "f"
    return backend.xp().dtype(backend.bool_ if kind == "b" else backend.int64 if kind in "iu" else backend.float32)


def promote_dtypes(dtypes):
    """The common dtype within one rank: the higher category wins outright (int64 with float32 is
    float32, not NumPy's float64); within a category the wider type wins."""
    result = None
    for dtype in dtypes:
        if result is None or category(dtype) > category(result):
            result = dtype
        elif category(dtype) == category(result):
            result = backend.xp().promote_types(result, dtype)
    return result


def result_dtype(*operands):
    """PyTorch's result type: operands rank as dimensioned tensors, then 0-d tensors, then numbers.

    A lower rank changes the dtype only if it brings a higher category (bool < integer < floating):
    float32 tensor + float64 0-d tensor is float32, but int64 tensor + float32 0-d tensor is float32
    and int64 tensor + 2.5 is float32, the default float dtype.
    """
    ranks = ([], [], [])
    for x in operands:
        if isinstance(x, TensorBase):
            ranks[0 if x.ndim else 1].append(x.dtype)
        else:
            ranks[2].append(number_dtype(x))
    result = None
    for rank in ranks:  # dimensioned, 0-d, numbers: a lower rank wins only with a higher category
        dtype = promote_dtypes(rank)
        if dtype is not None and (result is None or category(dtype) > category(result)):
            result = dtype
    return result


_PYTHON_NUMBER_CATEGORY = {bool: 0, int: 1, float: 2}


def promote(*operands):
    """The operands as Tensors of their common dtype (``result_dtype``); float casts stay differentiable."""
    if len(operands) == 2:  # fast paths for the common cases: same dtypes, or a tensor and a plain number
        a, b = operands
        if isinstance(a, TensorBase) and isinstance(b, TensorBase):
            if backend.on_gpu(a.data) != backend.on_gpu(b.data):
                a, b = one_device(a, b)
            if a.dtype == b.dtype:
                return a, b
        elif isinstance(a, TensorBase) and _PYTHON_NUMBER_CATEGORY.get(type(b), 9) <= category(a.dtype):
            return a, lift_number(b, a.dtype, backend.of(a.data))
        elif isinstance(b, TensorBase) and _PYTHON_NUMBER_CATEGORY.get(type(a), 9) <= category(b.dtype):
            return lift_number(a, b.dtype, backend.of(b.data)), b
    tensors = [x for x in operands if isinstance(x, TensorBase)]
    owner = backend.of(*(t.data for t in tensors)) if tensors else backend.current()
    operands = [x if isinstance(x, TensorBase) or is_number(x) else TensorBase._from_op(as_array(x, None, owner), (), None)
                for x in operands]
    moved = iter(one_device(*(x for x in operands if isinstance(x, TensorBase))))
    operands = [next(moved) if isinstance(x, TensorBase) else x for x in operands]
    dtype = result_dtype(*operands)
    return tuple(
        (x if x.dtype == dtype else x.to(dtype)) if isinstance(x, TensorBase) else lift_number(x, dtype, owner)
        for x in operands
    )


def lift_number(number, dtype, owner):
    """A Python number as a 0-d tensor of ``dtype`` on backend ``owner``'s device, outside the graph."""
    return TensorBase._from_op(owner.xp.asarray(number, dtype=dtype), (), None)


def untracked(a, b, operation):
    """A comparison or bitwise operation of promoted operands: a result without gradient."""
    a, b = promote(a, b)
    return TensorBase._from_op(operation(a.data, b.data), (), None)


def as_dtype(dtype):
    """``dtype`` as a dtype object, or TypeError naming what ``to()`` expects."""
    try:
        return backend.xp().dtype(dtype)
    except TypeError:
        raise TypeError(f"to(): expected a dtype such as minidl.float32 or a tensor, got {dtype!r}") from None


def quiet():
    """Silence NumPy's floating-point warnings where the IEEE result (inf, nan) is the answer PyTorch
    gives silently, e.g. 0 ** -1 = inf or log(0) = -inf; CuPy never warns and has no errstate."""
    return backend.host().xp.errstate(all="ignore")


def zero_where(condition, values):
    """``values`` with exact zeros where ``condition`` holds (multiplying by a mask would keep nan and inf)."""
    xp = backend.xp(values)
    return xp.where(condition, xp.zeros((), dtype=values.dtype), values)


# ---- numerical helpers ------------------------------------------------------------------------
def widened(array):
    """float16 as float32 (PyTorch's accumulation type), other dtypes unchanged: for sums and counts."""
    return array.astype(backend.float32) if array.dtype == "float16" else array


def narrowed(array, dtype):
    """``array`` in ``dtype``, e.g. a float32 result back to float16 (no copy if it already is)."""
    return array.astype(dtype, copy=False)
