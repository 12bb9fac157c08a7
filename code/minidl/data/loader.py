"""Mini-batches: ``DataLoader`` draws the samples of a data set in batches, as ``torch.utils.data`` does.

Each epoch its sampler orders the sample indices (in turn, or shuffled), its batch sampler cuts the
order into batches, and it fetches each batch's samples and collates them into tensors; an
``IterableDataset``'s samples are batched in the order they come. Arrays given as ``(X, y)`` become a
``TensorDataset`` whose batches are taken by one indexing step instead of sample by sample.
"""

import itertools
import math
import numbers

import numpy

from minidl import backend
from minidl.data.dataset import (
    IterableDataset, Subset, TensorDataset, as_generator, default_collate, default_convert,
)
from minidl.data.sampler import BatchSampler, RandomSampler, SequentialSampler, _host_order
from minidl.tensor import Tensor, to_numpy


class DataLoader:
    """Iterate over a data set in mini-batches of ``batch_size`` samples, as PyTorch's DataLoader.

    ``dataset`` is a map-style data set (``__len__`` and ``__getitem__``: a ``Dataset``, a
    ``TensorDataset``, a list of samples such as ``list(zip(X, y))``), an ``IterableDataset`` (batches
    of consecutive samples; ``len(loader)`` needs its ``__len__``), or, as a minidl shorthand,
    arrays: one array (NumPy or Tensor; each batch is one Tensor of its rows) or a tuple of arrays such
    as ``(X, y)`` (a ``TensorDataset``; each batch is a list ``[inputs, targets]``). Host float64
    arrays given this way become float32. Batches are put together by ``collate_fn`` (default
    ``default_collate``: samples of shape S give a tensor of shape (batch, *S); ints int64, floats
    float64); ``batch_size=None`` hands out single samples unbatched. The last batch is smaller unless
    ``drop_last``; ``len(loader)`` is the number of batches.

    With ``shuffle``, the order changes every epoch and is fixed by ``generator``: None draws from the
    library's seeded generator (``minidl.manual_seed``), an int is a seed (``seed=`` is the same, a
    minidl shorthand), a ``numpy.random.Generator`` is used and advanced; minidl has no
    ``torch.Generator``. ``sampler`` (a ``Sampler`` or any iterable of indices) replaces that order,
    and ``batch_sampler`` (a ``BatchSampler`` or any iterable of lists of indices) the batches, as in
    PyTorch; ``loader.sampler`` and ``loader.batch_sampler`` are the ones in use (by default a
    ``SequentialSampler`` or ``RandomSampler`` and a ``BatchSampler`` over it, None when unbatched).
    ``num_workers`` > 0 is accepted but batches are made in this process, one after the other;
    ``pin_memory``, ``timeout``, ``worker_init_fn``, ``multiprocessing_context``, ``prefetch_factor``,
    ``persistent_workers``, ``pin_memory_device`` and ``in_order`` are accepted and have no effect.

    Raises ValueError, with PyTorch's messages, for a batch size that is not a positive int (or None),
    a ``drop_last`` that is not a bool, negative ``num_workers``, options that exclude each other
    (``sampler`` and ``shuffle``; ``batch_sampler`` and any of ``batch_size``, ``shuffle``, ``sampler``,
    ``drop_last``; ``shuffle``, ``sampler`` or ``batch_sampler`` with an ``IterableDataset``), and
    ``shuffle`` over an empty data set; ValueError or TypeError for arrays of different lengths or not
    numbers; TypeError for a data set without ``__len__`` and ``__getitem__`` or a bad generator.

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True, seed=None):
        _check_workers(num_workers, timeout, prefetch_factor, persistent_workers)
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            _check_iterable_options(shuffle, sampler, batch_sampler)
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        elif batch_size is not None:
            _check_batch_size(batch_size)
            if not isinstance(drop_last, bool):
                raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last!r}")
        if seed is not None:
            if generator is not None:
                raise ValueError("DataLoader: give seed or generator, not both (seed=s is generator=s)")
            generator = seed
        self._rng = None if generator is None else as_generator(generator, "DataLoader")
        self.dataset = dataset if self._iterable else _as_dataset(dataset, sampler is None and batch_sampler is None)
        if sampler is None and not self._iterable:
            sampler = RandomSampler(self.dataset, generator=self._rng) if shuffle else SequentialSampler(self.dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        auto_collation = batch_size is not None or batch_sampler is not None
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        if collate_fn is None:
            collate_fn = default_collate if auto_collation else default_convert
        self.collate_fn = collate_fn
        self.num_workers, self.pin_memory, self.timeout = num_workers, pin_memory, timeout
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.pin_memory_device, self.in_order = pin_memory_device, in_order

    def __len__(self):
        if self._iterable:
            samples = len(self.dataset)  # a TypeError when the stream has no length, as in PyTorch
            if self.batch_size is None:
                return samples
            return samples // self.batch_size if self.drop_last else math.ceil(samples / self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self):
        if self._iterable:
            yield from self._stream()
            return
        if self.batch_sampler is None:
            order = _host_order(self.sampler)
            for index in order.tolist() if order is not None else self.sampler:
                yield self.collate_fn(self.dataset[index])
            return
        whole = self._whole_batch_source()
        for indices in self.batch_sampler:
            if whole is not None:
                yield _take(*whole, indices)
            else:
                yield self.collate_fn(self._samples(list(indices)))

    def _stream(self):
        """An IterableDataset's batches: consecutive samples, the last batch shorter unless ``drop_last``."""
        samples = iter(self.dataset)
        if self.batch_size is None:
            yield from (self.collate_fn(sample) for sample in samples)
            return
        while batch := list(itertools.islice(samples, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield self.collate_fn(batch)

    def _samples(self, indices):
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems:
            return getitems(indices)
        return [self.dataset[index] for index in indices]

    def _whole_batch_source(self):
        """(tensors, index map) when a batch can be taken from whole tensors in one indexing step with
        the same result as collating its samples: a Tensor or a TensorDataset, maybe through Subsets."""
        if self.collate_fn is not default_collate:
            return None
        dataset, mapping = self.dataset, None
        while type(dataset) is Subset:
            indices = _host_indices(dataset.indices)
            if indices is None:
                return None
            mapping = indices if mapping is None else indices[mapping]
            dataset = dataset.dataset
        if isinstance(dataset, Tensor) or type(dataset) is TensorDataset:
            return dataset, mapping
        return None


def _take(source, mapping, indices):
    """The batch at ``indices``: rows of a Tensor, or a list of rows of a TensorDataset's tensors."""
    index = numpy.asarray(indices, dtype=numpy.int64)
    index = index if mapping is None else mapping[index]  # a host array: indexing copies it to the tensors' device
    if isinstance(source, Tensor):
        return source[index]
    return [t[index] for t in source.tensors]


def _host_indices(indices):
    """A Subset's indices as a host int64 array, or None when they are not integers."""
    if isinstance(indices, Tensor):
        indices = to_numpy(indices)
    elif backend.is_array(indices):
        indices = backend.of(indices).to_host(indices)
    array = numpy.asarray(indices) if len(indices) else numpy.zeros(0, dtype=numpy.int64)
    return array.astype(numpy.int64) if array.ndim == 1 and array.dtype.kind in "iu" else None


def _check_workers(num_workers, timeout, prefetch_factor, persistent_workers):
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                         "to enable multiprocessing, otherwise set prefetch_factor to None.")
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")


def _check_iterable_options(shuffle, sampler, batch_sampler):
    """PyTorch's errors for options an IterableDataset cannot honour: its order is the stream's."""
    if shuffle not in {False, None}:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                         f"shuffle={shuffle}")
    if sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                         f"sampler={sampler}")
    if batch_sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, but got "
                         f"batch_sampler={batch_sampler}")


def _check_batch_size(batch_size):
    if isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool) and batch_size > 0:
        return
    message = "batch_size should be a positive integer value, but got"
    if hasattr(batch_size, "__len__"):  # DataLoader(X, y): the targets landed in batch_size
        raise ValueError(
            f"{message} an array of length {len(batch_size)}; to batch inputs and targets together pass them "
            "as one tuple: DataLoader((X, y), batch_size=32)"
        )
    raise ValueError(f"{message} batch_size={batch_size!r}")


# ---- the arrays shorthand ---------------------------------------------------------------------------
def _as_dataset(data, needs_len):
    """The data set ``data`` is: arrays become a Tensor or a TensorDataset; a map-style data set stays."""
    if isinstance(data, (Tensor, numpy.ndarray)) or backend.current().is_array(data):
        array = _array(data, "the array")
        return array if isinstance(array, Tensor) else Tensor(array)
    if isinstance(data, tuple) and data and not all(isinstance(item, tuple) for item in data):
        arrays = [_array(a, f"array {i}") for i, a in enumerate(data)]
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) != 1:
            raise ValueError(
                f"DataLoader: arrays must have the same length, got lengths {sorted(set(lengths))} "
                f"(in order: {lengths})"
            )
        return TensorDataset(*(a if isinstance(a, Tensor) else Tensor(a) for a in arrays))
    if hasattr(data, "__getitem__") and (hasattr(data, "__len__") or not needs_len):
        return data
    raise TypeError(
        f"DataLoader: dataset must be a map-style data set, with __len__ and __getitem__, or an IterableDataset: "
        f"a Dataset, arrays such as (X, y), or a list of samples such as list(zip(X, y)); got {type(data).__name__}"
    )


def _array(data, what):
    """A Tensor as it is, or anything else as an array (host float64 made float32), checked to hold
    numbers and to have a first dimension."""
    if isinstance(data, Tensor) or (backend.current().is_array(data) and not isinstance(data, numpy.ndarray)):
        array = data  # a Tensor, or a CuPy array: already on the backend
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
