"""Mini-batches: ``DataLoader`` shuffles host arrays and hands out backend tensors, batch by batch."""

import math
import numbers

import numpy

from minidl import backend
from minidl.tensor import Tensor, to_numpy


class DataLoader:
    """Iterate over ``arrays`` (same-length NumPy arrays, e.g. inputs and labels) in mini-batches.

    ``arrays`` is one array, or a tuple of arrays such as ``(X, y)``; a list is a data set of samples,
    as in PyTorch (e.g. ``list(zip(X, y))``), and is stacked into arrays once (Python floats become
    float32, ints int64). The arrays move to the backend once; each batch is a tuple of Tensors (or one
    Tensor when a single array is given). With ``shuffle``, the order changes every epoch and is fixed
    by ``seed`` (or by ``minidl.manual_seed`` when no seed is given). Raises ValueError for a batch size
    that is not a positive int, arrays of different lengths or samples of different shapes, and
    TypeError for data that is not numbers.

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, arrays, batch_size=32, shuffle=False, seed=None, drop_last=False):
        _check_batch_size(batch_size)
        single, arrays = _as_arrays(arrays)
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise ValueError(
                f"DataLoader: arrays must have the same length, got lengths {sorted(lengths)} "
                f"(in order: {[len(a) for a in arrays]})"
            )
        current = backend.current()
        self._arrays = tuple(a if current.is_array(a) else current.from_host(a) for a in arrays)
        self._single = single
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self._rng = numpy.random.default_rng(seed) if seed is not None else None
        self.num_samples = lengths.pop()

    def __len__(self):
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self):
        current = backend.current()
        if self.shuffle:
            rng = self._rng if self._rng is not None else current.host_rng
            order = current.from_host(rng.permutation(self.num_samples))
        for batch in range(len(self)):
            start = batch * self.batch_size
            if self.shuffle:
                index = order[start : start + self.batch_size]
                batch_arrays = tuple(a[index] for a in self._arrays)
            else:
                batch_arrays = tuple(a[start : start + self.batch_size] for a in self._arrays)
            tensors = tuple(Tensor(a) for a in batch_arrays)
            yield tensors[0] if self._single else tensors


def _check_batch_size(batch_size):
    if isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool) and batch_size > 0:
        return
    message = "DataLoader: batch_size should be a positive integer value, but got"
    if hasattr(batch_size, "__len__"):  # DataLoader(X, y): the targets landed in batch_size
        raise ValueError(
            f"{message} an array of length {len(batch_size)}; to batch inputs and targets together pass them "
            "as one tuple: DataLoader((X, y), batch_size=32)"
        )
    raise ValueError(f"{message} {batch_size!r}")


def _as_arrays(data):
    """(single, arrays): the data as a tuple of arrays (backend arrays, or host arrays to move)."""
    if isinstance(data, Tensor) or hasattr(data, "shape"):
        return True, (_array(data, "the array"),)
    if isinstance(data, tuple) and not (data and all(isinstance(item, tuple) for item in data)):
        return False, tuple(_array(a, f"array {i}") for i, a in enumerate(data))
    if isinstance(data, (list, tuple)):
        return _collate(data)
    raise TypeError(
        f"DataLoader: expected an array, a tuple of arrays such as (X, y), or a list of samples such as "
        f"list(zip(X, y)); got {type(data).__name__}"
    )


def _collate(samples):
    """Stack a list of samples (each a value, or a tuple of values) into one array per field."""
    if not samples:
        return True, (numpy.zeros((0,), dtype=numpy.float32),)
    single = not isinstance(samples[0], (tuple, list))
    rows = [(sample,) if single else sample for sample in samples]
    width = len(rows[0])
    for index, row in enumerate(rows):
        if not single and (not isinstance(row, (tuple, list)) or len(row) != width):
            raise ValueError(
                f"DataLoader: every sample must have the same parts; sample 0 is a tuple of {width} "
                f"but sample {index} is {_describe(row)}"
            )
    arrays = []
    for field in range(width):
        values = [_host(row[field]) for row in rows]
        shapes = [v.shape for v in values]
        if len(set(shapes)) > 1:
            other = next(i for i, s in enumerate(shapes) if s != shapes[0])
            hint = ""
            if single and len(samples) <= 4:
                hint = "; to batch arrays such as X and y together, pass a tuple: DataLoader((X, y))"
            raise ValueError(
                f"DataLoader: a list is a data set of samples, as in PyTorch, and samples must have one shape; "
                f"sample 0 has shape {shapes[0]} but sample {other} has {shapes[other]}{hint}"
            )
        arrays.append(_array(numpy.stack(values), f"part {field} of the samples"))
    return single, tuple(arrays)


def _describe(row):
    return f"a tuple of {len(row)}" if isinstance(row, (tuple, list)) else f"a {type(row).__name__}"


def _host(value):
    return to_numpy(value) if isinstance(value, Tensor) else numpy.asarray(value)


def _array(data, what):
    """A tensor's array as it is, or anything else as a host array (float64 made float32), checked to
    hold numbers and to have a first dimension."""
    if isinstance(data, Tensor):
        array = data.data
    else:
        try:
            array = numpy.asarray(data)
        except ValueError as error:  # ragged nested lists
            raise ValueError(f"DataLoader: {what} has rows of different lengths; pad them to one length") from error
        array = array.astype(numpy.float32) if array.dtype == numpy.float64 else array
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"DataLoader: {what} has dtype {array.dtype}, not numbers; e.g. map class names to integers first"
        )
    if array.ndim == 0:
        raise ValueError(f"DataLoader: {what} is a single value; each array needs a first dimension over samples")
    return array
