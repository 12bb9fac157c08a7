"""Devices as PyTorch names them: ``minidl.device``, ``minidl.cuda`` and ``minidl.backends.cudnn``.

Every tensor has its own device, read from its array: ``cpu`` for a NumPy array, ``cuda:0`` for a
CuPy array (or an array of the simulated GPU). An operation computes with the array module of its
inputs, and inputs on two devices raise PyTorch's "Expected all tensors to be on the same device"
(a Python number or a 0-d CPU tensor mixes with anything, as in PyTorch). ``Tensor.to``, ``.cpu()``
and ``.cuda()`` copy a tensor between host and GPU, recorded in the graph so gradients flow back.

``minidl.use_backend`` (or ``MINIDL_BACKEND``) chooses the default device, where new tensors are
made, and what ``"cuda"`` means: ``"numpy"`` makes ``cpu`` the default and has no GPU (so
``minidl.cuda.is_available()`` is False); ``"cupy"`` makes an NVIDIA GPU the default; ``"gpusim"``,
NumPy arrays that refuse to mix with host arrays as CuPy's do, plays CUDA in the tests (a test selects
it with ``minidl.use_backend("gpusim")``, as the autouse fixture of ``tests/library/conftest.py`` does):
under it ``minidl.cuda.is_available()`` is True, new tensors are on ``cuda:0`` and ``x.cpu()`` is a
NumPy tensor. So the usual opening of a PyTorch script,
``device = minidl.device("cuda" if minidl.cuda.is_available() else "cpu")`` then ``model.to(device)``
and ``x.to(device)``, runs unchanged, and so does ``x.cpu().numpy()``.
"""

import re
import sys
import types

from minidl import backend

_DEVICE_TYPES = ("cpu", "cuda")
_GPU_BACKENDS = ("cupy", "gpusim")
_DEVICE_STRING = re.compile(r"([A-Za-z_]+)(?::([0-9]+))?")


class device(str):
    """A device, ``minidl.device("cpu")``, ``("cuda")``, ``("cuda:0")`` or ``("cuda", 0)``, as ``torch.device``.

    ``type`` is ``"cpu"`` or ``"cuda"``; ``index`` an int or None. ``str(d)`` is ``"cuda:0"``, ``repr``
    PyTorch's ``device(type='cuda', index=0)``; two devices are equal when type and index are (so
    ``device("cuda") != device("cuda:0")``, and a device never equals a plain string, as in PyTorch).
    It is a ``str`` subclass, so everything that takes a device string (``Tensor.to``,
    ``Module.to``, factories' ``device=``) takes it. Raises RuntimeError, with PyTorch's messages, for
    an unknown type (``"gpu"``), a malformed string or a negative index; TypeError for a non-string.
    """

    def __new__(cls, type_or_device, index=None):
        if isinstance(type_or_device, device) and index is None:
            return type_or_device
        if isinstance(type_or_device, int) and not isinstance(type_or_device, bool) and index is None:
            if not is_available():
                raise RuntimeError("Cannot access accelerator device when none is available.")
            kind, number = "cuda", type_or_device
        elif isinstance(type_or_device, str):
            kind, number = _parse(type_or_device, index)
        else:
            raise TypeError(
                f"device(): expected a device string such as 'cpu', 'cuda' or 'cuda:0' (and an optional int "
                f"index), got {type(type_or_device).__name__} {type_or_device!r}"
            )
        if number is not None and number < 0:
            raise RuntimeError("Device index must not be negative")
        self = super().__new__(cls, kind if number is None else f"{kind}:{number}")
        self._type, self._index = kind, number
        return self

    def __getnewargs__(self):
        return (str(self),)

    @property
    def type(self):
        """``"cpu"`` or ``"cuda"``."""
        return self._type

    @property
    def index(self):
        """The device's number (``0`` for ``cuda:0``), or None when none was given."""
        return self._index

    def __repr__(self):
        index = "" if self._index is None else f", index={self._index}"
        return f"device(type='{self._type}'{index})"

    def __eq__(self, other):
        return isinstance(other, device) and (self._type, self._index) == (other._type, other._index)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self._type, self._index))


def _parse(text, index):
    """``"cuda:1"`` -> ("cuda", 1), with PyTorch's errors for what is not a device string."""
    match = _DEVICE_STRING.fullmatch(text)
    if match is None:
        raise RuntimeError(f"Invalid device string: '{text}'")
    kind, number = match.group(1), match.group(2)
    if kind not in _DEVICE_TYPES:
        raise RuntimeError(
            f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device string: {text} "
            "(minidl computes on the CPU with NumPy or on an NVIDIA GPU with CuPy)"
        )
    if index is not None:
        if number is not None:
            raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: {text}")
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"device(): index must be an int, got {type(index).__name__} {index!r}")
        return kind, index
    return kind, None if number is None else int(number)


def get_default_device():
    """The device new tensors are made on: the current backend's, ``cpu`` (NumPy) or ``cuda:0`` (CuPy, gpusim)."""
    return device("cuda", 0) if is_available() else device("cpu")


def device_of(array):
    """The device an array lives on: ``cuda:0`` for a GPU array (CuPy, simulated GPU), else ``cpu``."""
    return _CUDA0 if backend.on_gpu(array) else _CPU


def backend_for(target):
    """The backend that holds tensors on device ``target`` (a string or ``device``; None: the default).

    ``cpu`` is always NumPy; ``cuda`` (or ``cuda:0``) is the GPU backend chosen with
    ``minidl.use_backend``. RuntimeError, with PyTorch's words, for ``cuda`` where no GPU backend is in
    use or for a GPU number other than 0.
    """
    if target is None:
        return backend.current()
    target = device(target)
    if target.type == "cpu":
        return backend.host()
    gpu = backend.gpu()
    if gpu is None:
        raise RuntimeError(
            f"No CUDA GPUs are available (asked for device {str(target)!r}): minidl's GPU is the CuPy backend, "
            "chosen with minidl.use_backend('cupy') or MINIDL_BACKEND=cupy (the tests' simulated GPU: 'gpusim')"
        )
    if target.index not in (None, 0):
        raise RuntimeError(f"CUDA error: invalid device ordinal (device {str(target)!r}; minidl uses one GPU, cuda:0)")
    return gpu


def is_available():
    """``minidl.cuda.is_available()``: True when a GPU backend is in use (CuPy, or the simulated GPU of the tests)."""
    return backend.current().name in _GPU_BACKENDS


def device_count():
    """``minidl.cuda.device_count()``: 1 under a GPU backend (minidl uses one GPU), else 0."""
    return int(is_available())


def _namespace(name, doc, **members):
    """A module object importable as ``minidl.<name>``, as PyTorch's ``torch.cuda`` is a module."""
    module = types.ModuleType(f"minidl.{name}", doc)
    module.__dict__.update(members)
    sys.modules.setdefault(module.__name__, module)
    return module


_CPU = device("cpu")
_CUDA0 = device("cuda", 0)

cuda = _namespace(
    "cuda",
    "``torch.cuda``'s questions about the GPU, answered for minidl's backend: ``is_available()``, ``device_count()``.",
    is_available=is_available,
    device_count=device_count,
)

cudnn = _namespace(
    "backends.cudnn",
    "PyTorch's cuDNN switches, kept so scripts that set them run: plain settable flags with no effect, since "
    "minidl calls no cuDNN (its convolutions are matrix products on NumPy or CuPy).",
    benchmark=False,
    deterministic=False,
    enabled=True,
)

mps = _namespace(
    "backends.mps",
    "Apple's Metal GPUs, which minidl does not use: ``is_available()`` is always False.",
    is_available=lambda: False,
)

backends = _namespace("backends", "PyTorch's ``torch.backends`` switches: ``cudnn`` and ``mps``.", cudnn=cudnn, mps=mps)
