"""Data sets and batch collation, as in ``torch.utils.data``.

A map-style data set is anything with ``__len__`` and ``__getitem__(i)`` returning one sample (a list
is one); ``DataLoader`` asks it for the samples of a batch and ``default_collate`` stacks them: tensors
and arrays along a new first dimension, numbers into a tensor, tuples, lists and dicts part by part.
An ``IterableDataset`` is a stream instead: ``DataLoader`` batches its samples in the order they come.
"""

import bisect
import collections.abc
import copy
import itertools
import math
import numbers
import re
import warnings

import numpy

from minidl import backend
from minidl.tensor import Tensor, stack


class Dataset:
    """The base class of map-style data sets: a subclass defines ``__getitem__(index)`` (one sample)
    and ``__len__`` (the number of samples), which ``DataLoader`` needs. ``a + b`` concatenates two.

    Raises NotImplementedError from ``__getitem__`` when a subclass does not define it.
    """

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """The base class of iterable-style data sets: a subclass defines ``__iter__``, which yields the
    samples one after another (read from a file, generated on the fly), where indexing is impossible
    or costly. ``DataLoader`` batches consecutive samples; it cannot shuffle or sample them, so
    ``shuffle``, ``sampler`` and ``batch_sampler`` are ValueErrors there, as in PyTorch. ``__len__`` is
    optional (``len(loader)`` needs it).

    Raises NotImplementedError from ``__iter__`` when a subclass does not define it, and TypeError
    for ``a + b`` (PyTorch chains two with ChainDataset, which minidl lacks: use ``itertools.chain``).
    """

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other):
        raise TypeError("IterableDataset + data set is not supported in minidl (no ChainDataset); yield from "
                        "itertools.chain(a, b) in an IterableDataset's __iter__ instead")


class TensorDataset(Dataset):
    """Samples are rows of tensors: ``dataset[i]`` is ``tuple(t[i] for t in tensors)``.

    ``tensors`` are Tensors of any shapes and dtypes that agree in their first dimension (the sample
    count). Raises AssertionError "Size mismatch between tensors" when they do not, as PyTorch does,
    and TypeError for an argument that is not a Tensor (wrap NumPy arrays with ``minidl.tensor``).
    """

    def __init__(self, *tensors):
        for position, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(
                    f"TensorDataset: argument {position} is a {type(t).__name__}, not a Tensor; "
                    "wrap arrays with minidl.tensor(array)"
                )
            if t.ndim == 0:
                raise IndexError(f"TensorDataset: argument {position} is a 0-d tensor; samples run along dimension 0")
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise AssertionError(
                f"Size mismatch between tensors: their first dimensions are {[t.shape[0] for t in tensors]}"
            )
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class ConcatDataset(Dataset):
    """Data sets one after the other: sample ``i`` is taken from the data set whose range holds it.

    ``cumulative_sizes`` are the running totals of the lengths. Raises AssertionError for an empty
    list of data sets or one that is an ``IterableDataset``, and ValueError for an index below
    ``-len``, as PyTorch does.
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        if any(isinstance(d, IterableDataset) for d in self.datasets):
            raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (a sequence of ints), in that order.

    ``subset[i]`` is ``dataset[indices[i]]``; ``len(subset)`` is ``len(indices)``.
    """

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices):
        """The samples at ``indices`` as a list; ``DataLoader`` fetches a batch with it."""
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping Subsets of the given ``lengths``, in a random order.

    ``lengths`` are ints summing to ``len(dataset)``, or fractions summing to 1 (each gets
    ``floor(fraction * len)`` samples, and what is left goes one by one to the splits in turn, as in
    PyTorch 2). ``generator`` fixes the order: None draws from the library's seeded generator (set by
    ``minidl.manual_seed``), an int is a seed, a ``numpy.random.Generator`` is used and advanced.
    minidl has no ``torch.Generator``; ``random_split(data, [0.8, 0.2], generator=0)`` is the same
    split every run. Raises ValueError for a fraction outside [0, 1] or lengths that do not add up to
    the data set's length, and TypeError for another kind of generator.
    """
    rng = as_generator(generator, "random_split")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        split_lengths = []
        for position, fraction in enumerate(lengths):
            if fraction < 0 or fraction > 1:
                raise ValueError(f"Fraction at index {position} is not between 0 and 1")
            split_lengths.append(math.floor(len(dataset) * fraction))
        for extra in range(len(dataset) - sum(split_lengths)):
            split_lengths[extra % len(split_lengths)] += 1
        lengths = split_lengths
        for position, length in enumerate(lengths):
            if length == 0:
                warnings.warn(f"Length of split at index {position} is 0. This might result in an empty dataset.",
                              stacklevel=2)
    if sum(lengths) != len(dataset):
        raise ValueError(
            f"Sum of input lengths does not equal the length of the input dataset! "
            f"(lengths {list(lengths)} add up to {sum(lengths)}, the data set has {len(dataset)} samples)"
        )
    indices = rng.permutation(sum(lengths)).tolist()
    ends = itertools.accumulate(lengths)
    return [Subset(dataset, indices[end - length : end]) for end, length in zip(ends, lengths)]


def as_generator(generator, caller):
    """The NumPy Generator that ``generator`` names: None is the library's seeded host generator
    (``minidl.manual_seed``), an int a new generator with that seed, a Generator itself."""
    if generator is None:
        return backend.current().host_rng
    if isinstance(generator, numpy.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return numpy.random.default_rng(int(generator))
    raise TypeError(
        f"{caller}: generator must be None (the generator minidl.manual_seed seeds), an int seed or a "
        f"numpy.random.Generator such as numpy.random.default_rng(0); got {type(generator).__name__}"
    )


# ---- collation --------------------------------------------------------------------------------------
_COLLATE_ERROR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
_TEXT_DTYPE = re.compile(r"[SaUO]")  # strings, bytes and objects: not numbers


def default_collate(batch):
    """Put a list of samples together into one batch, as PyTorch's ``default_collate`` does.

    Tensors (and NumPy arrays) of one shape stack along a new dimension 0: n samples of shape S give a
    tensor of shape (n, *S), dtype kept. Python ints become an int64 tensor of shape (n,) (bools a bool
    tensor), Python floats a float64 tensor, NumPy scalars a tensor of their dtype; strings stay as
    they are. A tuple or list sample gives a list with one collated entry per part, a dict a dict with
    one per key, a namedtuple the same namedtuple; nesting is collated recursively. Raises
    RuntimeError for tensors of different shapes or sequences of different lengths, and TypeError for
    anything else (e.g. arrays of strings).
    """
    elem = batch[0]
    current = backend.current()
    if isinstance(elem, Tensor):
        _check_same_shape(batch)
        return stack(list(batch), 0)
    if isinstance(elem, numpy.ndarray) or current.is_array(elem):
        if _TEXT_DTYPE.search(elem.dtype.str):
            raise TypeError(_COLLATE_ERROR.format(elem.dtype))
        _check_same_shape(batch)
        xp = backend.xp(elem) if current.is_array(elem) else numpy
        return Tensor(xp.stack(list(batch)))
    if isinstance(elem, (numpy.bool_, numpy.number)):
        return Tensor(numpy.asarray(batch))
    if isinstance(elem, float):
        return Tensor(list(batch), dtype=backend.float64)
    if isinstance(elem, int):
        return Tensor(list(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild(elem, {key: default_collate([sample[key] for sample in batch]) for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
        return type(elem)(*(default_collate(parts) for parts in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError(
                f"each element in list of batch should be of equal size (sample 0 has {len(elem)} parts, "
                f"others {sorted({len(sample) for sample in batch} - {len(elem)})})"
            )
        parts = [default_collate(samples) for samples in zip(*batch)]
        return parts if isinstance(elem, tuple) else _rebuild(elem, parts)
    raise TypeError(_COLLATE_ERROR.format(type(elem)))


def default_convert(data):
    """A sample as it is, with NumPy arrays and scalars made tensors (inside tuples, lists and dicts
    too; a tuple becomes a list): what ``DataLoader(batch_size=None)`` hands out, as in PyTorch."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (numpy.bool_, numpy.number)) or (
        isinstance(data, numpy.ndarray) and not _TEXT_DTYPE.search(data.dtype.str)
    ):
        return Tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(part) for part in data))
    if isinstance(data, tuple):
        return [default_convert(part) for part in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild(data, [default_convert(part) for part in data])
    return data


def _rebuild(like, parts):
    """``parts`` (a dict or a list) in the container type of ``like``, or a plain dict or list when that
    type cannot be built from them (PyTorch's fallback)."""
    try:
        if isinstance(like, (collections.abc.MutableMapping, collections.abc.MutableSequence)):
            clone = copy.copy(like)
            for key, value in (parts.items() if isinstance(parts, dict) else enumerate(parts)):
                clone[key] = value
            return clone
        return type(like)(parts)
    except TypeError:
        return parts


def _check_same_shape(batch):
    """PyTorch's stack error for samples of different shapes, with the usual cause."""
    shapes = [tuple(sample.shape) for sample in batch]
    other = next((i for i, shape in enumerate(shapes) if shape != shapes[0]), None)
    if other is not None:
        raise RuntimeError(
            f"stack expects each tensor to be equal size, but got {list(shapes[0])} at entry 0 and "
            f"{list(shapes[other])} at entry {other} (default_collate stacks the samples of a batch; pad "
            "them to one shape or pass a collate_fn; to batch whole arrays X and y together, pass them "
            "as one tuple: DataLoader((X, y)))"
        )
