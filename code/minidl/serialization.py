"""Saving and loading state dicts as ``.npz`` files: plain arrays, never pickle, written atomically.

A checkpoint is a NumPy ``.npz`` archive with one numeric array per state-dict entry, plus the entry
``FORMAT_KEY`` that marks it as written by ``save``. ``load`` reads files without the marker too (those
written before it existed), as long as every entry is a numeric array.
"""

import errno
import os
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Mapping

import numpy

from minidl.tensor import tensor, to_numpy

FORMAT_KEY = "__minidl_checkpoint__"
FORMAT_VERSION = 1
_NUMERIC = "biuf"  # bool, signed and unsigned integers, floats


class _MissingFolderError(FileNotFoundError, RuntimeError):
    """FileNotFoundError, as ``open`` raises; also the RuntimeError that ``torch.save`` raises."""


def save(state_dict, path):
    """Write ``{name: tensor}`` (e.g. ``model.state_dict()``) to ``path`` as an ``.npz`` file.

    The file is written beside the target and renamed over it, so a crash mid-save leaves the old file
    intact. Loading it can't run code (no pickle), unlike ``torch.save``'s default format. Raises
    TypeError for anything but a flat dict of string names to tensors or numeric arrays (a module:
    save ``model.state_dict()``), and FileNotFoundError naming ``path`` when its folder does not exist.
    """
    arrays = _arrays_to_save(state_dict)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"save: path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise _MissingFolderError(
            errno.ENOENT, f"save: Parent directory {directory} does not exist; create it first with "
            f"os.makedirs({directory!r}, exist_ok=True)", os.fspath(path),
        )
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "save: path is a folder; name a file such as model.npz", os.fspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".minidl-", suffix=".npz.tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            numpy.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _arrays_to_save(state_dict):
    """The state dict as host arrays plus the format marker, refusing what a checkpoint can't hold."""
    if hasattr(state_dict, "state_dict") and callable(state_dict.state_dict):
        raise TypeError(
            f"save: expected a state dict, got a {type(state_dict).__name__}; minidl saves weights, not "
            "objects: minidl.save(model.state_dict(), path)"
        )
    if isinstance(state_dict, (str, os.PathLike)):
        raise TypeError(
            f"save: the first argument is the state dict and the second the path, got the path {state_dict!r} "
            "first: minidl.save(model.state_dict(), path)"
        )
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"save: expected a state dict {{name: tensor}}, got {type(state_dict).__name__}; "
            "e.g. minidl.save(model.state_dict(), path), or minidl.save({'x': x}, path) for one tensor"
        )
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"save: state dict keys must be strings, got {name!r}")
        if name == FORMAT_KEY:
            raise ValueError(f"save: the key {FORMAT_KEY!r} is reserved for the file format")
        if isinstance(value, (Mapping, str, bytes)) or value is None or hasattr(value, "state_dict"):
            raise TypeError(
                f"save: the value of {name!r} is a {type(value).__name__}; a checkpoint holds one tensor per "
                "name, so save a nested dict (an optimizer's state, a dict of models) as one flat dict "
                "with dotted names, or in files of their own"
            )
        array = to_numpy(value)
        if array.dtype.kind not in _NUMERIC:
            raise TypeError(f"save: the value of {name!r} has dtype {array.dtype}; only numbers can be saved")
        arrays[name] = array
    arrays[FORMAT_KEY] = numpy.array(FORMAT_VERSION)
    return arrays


def load(path, map_location=None):
    """Read a file written by ``save`` into ``{name: tensor}`` on the default device, or on ``map_location``.

    A checkpoint holds host arrays, so one saved from any device loads onto any: ``map_location``
    (``"cpu"``, ``"cuda"``, a ``minidl.device``) as PyTorch's; None puts the tensors on the default device
    (``minidl.use_backend``). ``load_state_dict`` copies them onto the model's own devices anyway.

    Raises FileNotFoundError for a missing file and ValueError, naming ``path``, for a file that is not a
    checkpoint (a text file, a PyTorch file, a single ``.npy`` array, an archive of strings or objects).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load: path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "load: no such file", os.fspath(path))
    if not zipfile.is_zipfile(path):
        raise _not_a_checkpoint(path, _what_it_is(path))
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if any(name.endswith("data.pkl") for name in names):
        raise _not_a_checkpoint(path, "it is a PyTorch file, written by torch.save")
    if not all(name.endswith(".npy") for name in names):
        raise _not_a_checkpoint(path, f"it is a zip archive of other files, such as {names[:3]}")
    state = OrderedDict()
    with numpy.load(path, allow_pickle=False) as archive:
        for name in archive.files:
            try:
                array = archive[name]
            except ValueError as error:  # an object array, which only pickle could read
                raise _not_a_checkpoint(
                    path, f"the entry {name!r} holds Python objects, which only pickle reads, and loading refuses "
                    "pickle because it can run code"
                ) from error
            if array.dtype.kind not in _NUMERIC:
                raise _not_a_checkpoint(path, f"the entry {name!r} has dtype {array.dtype}, not numbers")
            state[name] = array
    version = state.pop(FORMAT_KEY, None)
    if version is not None and (version.shape != () or int(version) > FORMAT_VERSION):
        raise ValueError(
            f"load: {os.fspath(path)!r} has checkpoint format {version}, newer than this minidl reads "
            f"({FORMAT_VERSION}); update minidl"
        )
    return OrderedDict((name, tensor(array, device=map_location)) for name, array in state.items())


def _not_a_checkpoint(path, why):
    return ValueError(
        f"load: {os.fspath(path)!r} is not a minidl checkpoint: {why}. A checkpoint is the .npz file that "
        "minidl.save(model.state_dict(), path) writes"
    )


def _what_it_is(path):
    """A few words on what a file that is not a zip archive looks like."""
    with open(path, "rb") as file:
        head = file.read(64)
    if head.startswith(b"\x93NUMPY"):
        return "it is a single array written by numpy.save; load it with numpy.load"
    if not head:
        return "it is empty"
    if head.startswith(b"\x80"):
        return "it is a pickle, which minidl never reads because unpickling can run code"
    return "it is a text file" if b"\x00" not in head else "it is not a zip archive"
