"""Mini-batches: ``DataLoader`` shuffles host arrays and hands out backend tensors, batch by batch."""

import math

import numpy

from minidl import backend
from minidl.tensor import Tensor


class DataLoader:
    """Iterate over ``arrays`` (same-length NumPy arrays, e.g. inputs and labels) in mini-batches.

    The arrays move to the backend once; each batch is a tuple of Tensors (or one Tensor when a single
    array is given). With ``shuffle``, the order changes every epoch and is fixed by ``seed`` (or by
    ``minidl.manual_seed`` when no seed is given).

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, arrays, batch_size=32, shuffle=False, seed=None, drop_last=False):
        single = not isinstance(arrays, (tuple, list))
        arrays = (arrays,) if single else tuple(arrays)
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise ValueError(f"DataLoader: arrays must have the same length, got lengths {sorted(lengths)}")
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        current = backend.current()
        self._arrays = tuple(a.data if isinstance(a, Tensor) else current.from_host(_host(a)) for a in arrays)
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


def _host(array):
    array = numpy.asarray(array)
    return array.astype(numpy.float32) if array.dtype == numpy.float64 else array
