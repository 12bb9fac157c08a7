"""Samplers: the order in which ``DataLoader`` visits a data set, as in ``torch.utils.data``.

A sampler is an iterable of sample indices (``SequentialSampler``, ``RandomSampler``,
``SubsetRandomSampler``, ``WeightedRandomSampler``), and a batch sampler an iterable of lists of
indices (``BatchSampler``). ``DataLoader(data, sampler=...)`` cuts a sampler's indices into batches;
``DataLoader(data, batch_sampler=...)`` takes the batches as they are. Random samplers draw from
NumPy generators on the host: minidl has no ``torch.Generator``, so ``generator`` is None (the
library's generator, seeded by ``minidl.manual_seed``), an int seed, or a ``numpy.random.Generator``.
"""

import itertools
import numbers

import numpy

from minidl import backend
from minidl.data.dataset import as_generator
from minidl.tensor import Tensor, to_numpy


class Sampler:
    """The base class of samplers: a subclass defines ``__iter__``, which yields the indices (ints) of
    the samples in the order to visit them, and usually ``__len__``, their number (``len(loader)``
    needs it). A batch sampler yields lists of indices instead.

    ``data_source`` is accepted and ignored (older PyTorch code passes it to ``super().__init__``). Raises NotImplementedError from
    ``__iter__`` when a subclass does not define it; ``len()`` of a sampler without ``__len__`` is a
    TypeError.
    """

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError("Subclasses of Sampler should implement __iter__.")


class _DrawnSampler(Sampler):
    """A sampler whose whole epoch is drawn at once as a host int64 array (``_order``), so that
    ``BatchSampler`` and ``DataLoader`` can slice it instead of visiting index by index."""

    def __iter__(self):
        return iter(self._order().tolist())

    def _order(self):
        raise NotImplementedError


def _host_order(sampler):
    """The epoch of one of the library's samplers as a host int64 array, or None for any other
    iterable (a list, a user's sampler, a subclass with its own ``__iter__``): those are iterated."""
    if isinstance(sampler, _DrawnSampler) and type(sampler).__iter__ is _DrawnSampler.__iter__:
        return sampler._order()
    return None


class SequentialSampler(_DrawnSampler):
    """The indices ``0, 1, ..., len(data_source) - 1`` in turn: ``DataLoader``'s order without ``shuffle``.

    ``data_source`` is anything with ``__len__``; its length is read at each epoch, so the sampler
    follows a data set that grows. Raises TypeError when it has no length.
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def _order(self):
        return numpy.arange(len(self.data_source), dtype=numpy.int64)

    def __len__(self):
        return len(self.data_source)


class RandomSampler(_DrawnSampler):
    """The indices of ``data_source`` in a random order, a new one every epoch: ``DataLoader``'s order
    with ``shuffle=True``.

    Without ``replacement`` each epoch is a permutation of ``range(len(data_source))``; with
    ``num_samples`` = k, k indices are given: whole permutations one after another, then the start of
    one more (as PyTorch). With ``replacement=True`` the k indices are drawn independently and
    uniformly, so some repeat and some are missing (bootstrap resampling). ``num_samples`` defaults
    to ``len(data_source)``. ``generator``: None draws from the library's generator (seeded by
    ``minidl.manual_seed``, read at each epoch), an int seeds a private generator once (so epochs
    differ but every run repeats them), a ``numpy.random.Generator`` is used and advanced.

    Raises TypeError for a ``replacement`` that is not a bool or a generator of another kind, and
    ValueError "num_samples should be a positive integer value" for a ``num_samples`` (or a data set
    length) that is not a positive int, with PyTorch's messages.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source, self.replacement, self._num_samples = data_source, replacement, num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        if not _positive_int(self.num_samples):
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")
        self._rng = None if generator is None else as_generator(generator, "RandomSampler")

    @property
    def num_samples(self):
        """The number of indices an epoch gives: ``num_samples`` if given, else ``len(data_source)``."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _order(self):
        rng = self._rng if self._rng is not None else backend.current().host_rng
        n, k = len(self.data_source), self.num_samples
        if self.replacement:
            return rng.integers(0, n, size=k, dtype=numpy.int64)
        parts = [rng.permutation(n) for _ in range(k // n)]
        if k % n:
            parts.append(rng.permutation(n)[: k % n])
        return numpy.concatenate(parts).astype(numpy.int64)

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(_DrawnSampler):
    """The given ``indices`` (a sequence of ints) in a random order, a new one every epoch: e.g. a
    training split of one data set, shuffled, without building a ``Subset``.

    ``generator`` as for ``RandomSampler``. Raises TypeError for a generator of another kind, and
    TypeError or ValueError when ``indices`` are not integers.
    """

    def __init__(self, indices, generator=None):
        self.indices, self.generator = indices, generator
        self._rng = None if generator is None else as_generator(generator, "SubsetRandomSampler")

    def _order(self):
        rng = self._rng if self._rng is not None else backend.current().host_rng
        indices = _host_ints(self.indices, "SubsetRandomSampler: indices")
        return indices[rng.permutation(len(indices))]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(_DrawnSampler):
    """``num_samples`` indices of ``range(len(weights))``, index i drawn with probability
    ``weights[i] / sum(weights)``: e.g. to show a rare class as often as a common one.

    ``weights`` is a 1-d sequence (or array, or Tensor) of non-negative numbers, not necessarily
    summing to 1. With ``replacement`` (the default) the draws are independent; without it an index
    is drawn at most once (each draw among those left, in proportion to their weights), so
    ``num_samples`` may not exceed the number of positive weights. ``generator`` as for
    ``RandomSampler``. ``sampler.weights`` holds them as a host float64 array of shape (n,).

    Raises ValueError for a ``num_samples`` that is not a positive int, a ``replacement`` that is not
    a bool, or ``weights`` that are not 1-d (PyTorch's messages), and TypeError for a bad generator;
    when an epoch is drawn, RuntimeError (as ``torch.multinomial``) for weights that are negative, inf
    or nan, that sum to 0, or too few positive ones for ``num_samples`` draws without replacement.
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not _positive_int(num_samples):
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        weights = numpy.asarray(_host(weights), dtype=numpy.float64)
        if weights.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(weights.shape)}")
        self.weights, self.num_samples, self.replacement = weights, num_samples, replacement
        self.generator = generator
        self._rng = None if generator is None else as_generator(generator, "WeightedRandomSampler")

    def _order(self):
        weights, k = self.weights, self.num_samples
        if not numpy.all(numpy.isfinite(weights)) or numpy.any(weights < 0):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0 "
                               "(WeightedRandomSampler: weights must be finite and non-negative)")
        if weights.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0) "
                               "(WeightedRandomSampler: at least one weight must be positive)")
        if not self.replacement and k > numpy.count_nonzero(weights):
            raise RuntimeError(
                f"cannot sample n_sample > prob_dist.size(-1) samples without replacement (WeightedRandomSampler: "
                f"num_samples={k} draws without replacement need as many positive weights; "
                f"{numpy.count_nonzero(weights)} are positive)"
            )
        rng = self._rng if self._rng is not None else backend.current().host_rng
        chosen = rng.choice(len(weights), size=k, replace=self.replacement, p=weights / weights.sum())
        return chosen.astype(numpy.int64)

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """The indices of ``sampler`` cut into lists of ``batch_size``: what ``DataLoader`` does with its
    sampler, and what ``DataLoader(batch_sampler=...)`` takes.

    ``sampler`` is a sampler or any iterable of ints; each batch is a list of ``batch_size`` of them,
    in the sampler's order; the last is shorter unless ``drop_last`` (then it is left out).
    ``len(batch_sampler)`` is ``len(sampler) // batch_size`` with ``drop_last``, else rounded up.

    Raises ValueError "batch_size should be a positive integer value" and "drop_last should be a
    boolean value", with PyTorch's messages, and TypeError from ``len()`` when ``sampler`` has no length.
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not _positive_int(batch_size):
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        order = _host_order(self.sampler)
        if order is not None:
            end = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
            return (order[start : start + self.batch_size].tolist() for start in range(0, end, self.batch_size))
        return self._chunks(iter(self.sampler))

    def _chunks(self, indices):
        while batch := list(itertools.islice(indices, self.batch_size)):
            if len(batch) == self.batch_size or not self.drop_last:
                yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


def _positive_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def _host(values):
    """A Tensor or a device array as host data; anything else as it is."""
    if isinstance(values, Tensor):
        values = to_numpy(values)
    elif backend.is_array(values) and not isinstance(values, numpy.ndarray):
        values = backend.of(values).to_host(values)
    return values


def _host_ints(indices, what):
    """``indices`` as a 1-d host int64 array."""
    array = numpy.asarray(_host(indices)) if len(indices) else numpy.zeros(0, dtype=numpy.int64)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise TypeError(f"{what} must be a 1-d sequence of ints, got dtype {array.dtype} and shape {array.shape}")
    return array.astype(numpy.int64)
