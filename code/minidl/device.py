"""Devices as PyTorch names them: ``minidl.device``, ``minidl.cuda`` and ``minidl.backends.cudnn``.

minidl has one backend at a time, chosen with ``minidl.use_backend`` (or ``MINIDL_BACKEND``), not a
device per tensor: every tensor lives on the current backend's device, ``cpu`` for NumPy and
``cuda:0`` for CuPy. The simulated GPU (``minidl.use_backend("gpusim")``), NumPy arrays that refuse
to mix with host arrays as CuPy's do, plays CUDA in the tests: under it ``minidl.cuda.is_available()``
is True and tensors report ``device(type='cuda', index=0)``. So the usual opening of a PyTorch script,
``device = minidl.device("cuda" if minidl.cuda.is_available() else "cpu")`` then ``model.to(device)``
and ``x.to(device)``, runs unchanged; asking for a device other than the backend's raises RuntimeError.
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
