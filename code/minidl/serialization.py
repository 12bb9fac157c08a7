"""Saving and loading state dicts as ``.npz`` files: plain arrays, never pickle, written atomically."""

import os
import tempfile
from collections import OrderedDict

import numpy

from minidl.tensor import Tensor, to_numpy


def save(state_dict, path):
    """Write ``{name: tensor}`` to ``path`` as an ``.npz`` file.

    The file is written beside the target and renamed over it, so a crash mid-save leaves the old file
    intact. Loading it can't run code (no pickle), unlike ``torch.save``'s default format.
    """
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"save: state dict keys must be strings, got {name!r}")
        arrays[name] = to_numpy(value)
    directory = os.path.dirname(os.path.abspath(path))
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


def load(path):
    """Read a file written by ``save`` into ``{name: tensor}`` on the current backend."""
    with numpy.load(path, allow_pickle=False) as archive:
        return OrderedDict((name, Tensor(archive[name])) for name in archive.files)
