"""Samplers and iterable data sets as torch.utils.data has them: the lengths, orders and batches they
give, seeded draws that repeat, weighted draws in proportion to the weights, DataLoader with
``sampler=`` / ``batch_sampler=`` / an IterableDataset, and PyTorch's errors. Random orders are not
compared with PyTorch's (the generators differ); lengths and batch structure are."""

import numpy as np
import pytest

import minidl
import minidl.utils.data
from minidl.data import (
    BatchSampler, DataLoader, IterableDataset, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
    WeightedRandomSampler,
)

from conftest import error_of


def _rows(batches):
    """A loader's epoch as plain lists: each batch's tensor (or first part) as nested lists."""
    return [minidl.to_numpy(b[0] if isinstance(b, list) else b).tolist() for b in batches]


def _plain(batch):
    """A batch of either library (a tensor, or a Python number when unbatched) as a list or a number."""
    if isinstance(batch, minidl.Tensor):
        return minidl.to_numpy(batch).tolist()
    return batch.tolist() if hasattr(batch, "tolist") else batch


class _Stream(IterableDataset):
    """The numbers 0..n-1, one by one; with a length only when ``sized``."""

    def __init__(self, n, sized=True):
        self.n, self.sized = n, sized

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        if not self.sized:
            raise TypeError("this stream has no length")
        return self.n


def _torch_stream(torch, n):
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(n))

        def __len__(self):
            return n

    return Stream()


# ---- orders and lengths ------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 7])
def test_sequential_sampler_visits_every_index_in_turn(n):
    sampler = SequentialSampler(range(n))
    assert list(sampler) == list(range(n)) and len(sampler) == n


@pytest.mark.parametrize("n", [1, 5, 12])
def test_random_sampler_without_replacement_is_a_permutation(n):
    sampler = RandomSampler(range(n))
    assert sorted(sampler) == list(range(n)) and len(sampler) == n


@pytest.mark.parametrize("n, num_samples", [(5, 2), (5, 5), (5, 12)])
def test_random_sampler_num_samples_gives_whole_permutations_then_part_of_one(n, num_samples):
    order = list(RandomSampler(range(n), num_samples=num_samples, generator=0))
    assert len(order) == num_samples == len(RandomSampler(range(n), num_samples=num_samples))
    for start in range(0, num_samples - num_samples % n, n):
        assert sorted(order[start : start + n]) == list(range(n))
    assert len(set(order[num_samples - num_samples % n :])) == num_samples % n


@pytest.mark.parametrize("num_samples", [None, 3, 40])
def test_random_sampler_with_replacement_draws_indices_in_range(num_samples):
    order = list(RandomSampler(range(6), replacement=True, num_samples=num_samples, generator=1))
    assert len(order) == (num_samples or 6) and all(0 <= i < 6 for i in order)
    assert all(isinstance(i, int) for i in order)


def test_random_sampler_with_replacement_repeats_indices():
    order = list(RandomSampler(range(10), replacement=True, num_samples=100, generator=0))
    assert len(set(order)) < len(order)


@pytest.mark.parametrize("indices", [[7, 3, 11, 0], list(range(20, 30)), []])
def test_subset_random_sampler_shuffles_exactly_the_given_indices(indices):
    sampler = SubsetRandomSampler(indices, generator=0)
    assert sorted(sampler) == sorted(indices) and len(sampler) == len(indices)


@pytest.mark.parametrize("sampler", ["RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler"])
def test_a_seed_repeats_the_orders_and_epochs_differ(sampler):
    def make(seed):
        return {"RandomSampler": lambda: RandomSampler(range(30), generator=seed),
                "SubsetRandomSampler": lambda: SubsetRandomSampler(list(range(30)), generator=seed),
                "WeightedRandomSampler": lambda: WeightedRandomSampler(np.ones(30), 30, generator=seed)}[sampler]()

    first, again, other = make(3), make(3), make(4)
    epochs = [list(first), list(first)]
    assert epochs == [list(again), list(again)] and epochs[0] != epochs[1] and epochs[0] != list(other)


@pytest.mark.parametrize("generator", ["None", "numpy Generator"])
def test_the_library_seed_or_a_numpy_generator_repeats_the_order(generator):
    def order():
        minidl.manual_seed(5)
        chosen = np.random.default_rng(5) if generator == "numpy Generator" else None
        return list(RandomSampler(range(30), generator=chosen))

    assert order() == order()


@pytest.mark.parametrize("weights", [[1, 2, 3, 4], [0.5, 0, 0.25, 0.25], [10, 1]])
def test_weighted_sampler_frequencies_follow_the_weights(weights):
    draws = list(WeightedRandomSampler(weights, 20000, generator=0))
    frequencies = np.bincount(draws, minlength=len(weights)) / len(draws)
    assert np.allclose(frequencies, np.array(weights) / np.sum(weights), atol=0.015)


@pytest.mark.parametrize("weights", [[1.0, 2.0, 3.0, 4.0], "a Tensor", "an array"])
def test_weighted_sampler_without_replacement_draws_each_index_at_most_once(weights):
    weights = {"a Tensor": minidl.tensor(np.array([1.0, 2.0, 3.0, 4.0])), "an array": np.arange(1.0, 5.0)}.get(
        weights, weights) if isinstance(weights, str) else weights
    order = list(WeightedRandomSampler(weights, 4, replacement=False, generator=0))
    assert sorted(order) == [0, 1, 2, 3]


def test_weighted_sampler_never_draws_a_zero_weight():
    assert 1 not in list(WeightedRandomSampler([1.0, 0.0, 1.0], 500, generator=0))


# ---- batch samplers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["SequentialSampler", "list", "generator function"])
@pytest.mark.parametrize("batch_size, drop_last, expected", [
    (3, False, [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]),
    (3, True, [[0, 1, 2], [3, 4, 5], [6, 7, 8]]),
    (5, True, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]),
    (12, False, [list(range(10))]),
    (12, True, []),
])
def test_batch_sampler_cuts_the_order_into_batches(source, batch_size, drop_last, expected):
    class Generated(Sampler):
        def __iter__(self):
            yield from range(10)

    sampler = {"SequentialSampler": SequentialSampler(range(10)), "list": list(range(10)),
               "generator function": Generated()}[source]
    assert list(BatchSampler(sampler, batch_size, drop_last)) == expected


@pytest.mark.parametrize("n", [0, 1, 9, 10, 11])
@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (3, False), (3, True), (10, True)])
def test_batch_sampler_length_matches_pytorch(n, batch_size, drop_last, torch):
    ours = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
    theirs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(n)), batch_size, drop_last)
    assert len(ours) == len(theirs) == len(list(ours)) and list(ours) == list(theirs)


def test_batch_sampler_over_a_random_sampler_covers_every_index_once():
    batches = list(BatchSampler(RandomSampler(range(10), generator=0), 4, False))
    assert [len(b) for b in batches] == [4, 4, 2] and sorted(sum(batches, [])) == list(range(10))


# ---- parity of lengths and batch structure with torch.utils.data ---------------------------------------
SAMPLERS = {
    "RandomSampler": (lambda m: m.RandomSampler(range(9)), None),
    "RandomSampler num_samples": (lambda m: m.RandomSampler(range(9), num_samples=20), None),
    "RandomSampler replacement": (lambda m: m.RandomSampler(range(9), replacement=True, num_samples=5), None),
    "SubsetRandomSampler": (lambda m: m.SubsetRandomSampler([1, 4, 6, 8]), None),
    "WeightedRandomSampler": (lambda m: m.WeightedRandomSampler([0.1, 0.5, 0.4], 7), None),
    "WeightedRandomSampler no replacement": (lambda m: m.WeightedRandomSampler([0.1, 0.5, 0.4], 2, False), None),
}


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("batch_size, drop_last", [(2, False), (2, True)])
def test_samplers_give_pytorchs_lengths_and_batch_sizes(name, batch_size, drop_last, torch):
    make = SAMPLERS[name][0]
    ours = make(minidl.utils.data)
    theirs = make(torch.utils.data)
    assert len(ours) == len(theirs) == len(list(ours)) == len(list(theirs))
    sizes = [len(b) for b in BatchSampler(ours, batch_size, drop_last)]
    assert sizes == [len(b) for b in torch.utils.data.BatchSampler(theirs, batch_size, drop_last)]


# ---- DataLoader with samplers ------------------------------------------------------------------------
DATA = np.arange(20, dtype=np.float32).reshape(10, 2)


@pytest.mark.parametrize("sampler", ["SequentialSampler", "RandomSampler", "SubsetRandomSampler",
                                     "WeightedRandomSampler"])
@pytest.mark.parametrize("dataset", ["arrays", "list of samples"])
def test_loader_with_a_sampler_gives_its_indices_in_batches(sampler, dataset):
    make = {"SequentialSampler": lambda: SequentialSampler(range(10)),
            "RandomSampler": lambda: RandomSampler(range(10), generator=7),
            "SubsetRandomSampler": lambda: SubsetRandomSampler([9, 2, 5, 0, 3], generator=7),
            "WeightedRandomSampler": lambda: WeightedRandomSampler(np.arange(10.0), 8, generator=7)}[sampler]
    data = (DATA,) if dataset == "arrays" else [(row,) for row in DATA]
    loader = DataLoader(data, batch_size=3, sampler=make())
    expected = [DATA[batch].tolist() for batch in BatchSampler(make(), 3, False)]
    assert _rows(loader) == expected and len(loader) == len(expected)


@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_with_a_batch_sampler_gives_its_batches(drop_last):
    make = lambda: BatchSampler(RandomSampler(range(10), generator=2), 4, drop_last)  # noqa: E731
    loader = DataLoader((DATA,), batch_sampler=make())
    expected = [DATA[batch].tolist() for batch in make()]
    assert _rows(loader) == expected and len(loader) == len(expected)


def test_loader_shuffle_is_a_random_sampler_with_the_loaders_generator():
    loader = DataLoader((DATA,), batch_size=4, shuffle=True, generator=11)
    assert isinstance(loader.sampler, RandomSampler) and isinstance(loader.batch_sampler, BatchSampler)
    expected = [DATA[batch].tolist() for batch in BatchSampler(RandomSampler(range(10), generator=11), 4, False)]
    assert _rows(loader) == expected


@pytest.mark.parametrize("batch_size, sampler, batch_sampler", [
    (3, SequentialSampler, BatchSampler), (None, SequentialSampler, type(None)),
])
def test_loader_default_samplers_are_pytorchs(batch_size, sampler, batch_sampler, torch):
    ours = DataLoader(list(range(5)), batch_size=batch_size)
    theirs = torch.utils.data.DataLoader(list(range(5)), batch_size=batch_size)
    assert isinstance(ours.sampler, sampler) and isinstance(ours.batch_sampler, batch_sampler)
    assert type(theirs.sampler).__name__ == sampler.__name__
    assert type(theirs.batch_sampler).__name__ == batch_sampler.__name__


@pytest.mark.parametrize("options", [dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)])
def test_loader_with_a_sampler_matches_pytorchs_structure(options, torch):
    ours = DataLoader(list(range(10)), sampler=minidl.utils.data.SubsetRandomSampler([1, 3, 5, 7, 9]), **options)
    theirs = torch.utils.data.DataLoader(list(range(10)), sampler=torch.utils.data.SubsetRandomSampler(
        [1, 3, 5, 7, 9]), **options)
    ours_batches, theirs_batches = list(ours), list(theirs)
    assert len(ours) == len(theirs) == len(ours_batches) == len(theirs_batches)
    assert [np.shape(_plain(b)) for b in ours_batches] == [np.shape(_plain(b)) for b in theirs_batches]
    drawn = np.hstack([_plain(b) for b in ours_batches]).tolist()
    assert len(set(drawn)) == len(drawn) and set(drawn) <= {1, 3, 5, 7, 9}


# ---- IterableDataset ----------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 7, 9])
@pytest.mark.parametrize("batch_size, drop_last", [(3, False), (3, True), (1, False), (None, False)])
def test_loader_batches_consecutive_items_of_an_iterable_dataset_as_pytorch(n, batch_size, drop_last, torch):
    ours = DataLoader(_Stream(n), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(_torch_stream(torch, n), batch_size=batch_size, drop_last=drop_last)
    expected = [_plain(b) for b in theirs]
    assert [_plain(b) for b in ours] == expected and len(ours) == len(theirs) == len(expected)


def test_an_iterable_dataset_without_length_batches_but_has_no_len():
    loader = DataLoader(_Stream(5, sized=False), batch_size=2)
    assert [minidl.to_numpy(b).tolist() for b in loader] == [[0, 1], [2, 3], [4]]
    with pytest.raises(TypeError):
        len(loader)


def test_an_iterable_dataset_batches_tuples_part_by_part():
    class Pairs(IterableDataset):
        def __iter__(self):
            return ((np.float32(i), i % 2) for i in range(5))

    batches = list(DataLoader(Pairs(), batch_size=2))
    assert [minidl.to_numpy(b[1]).tolist() for b in batches] == [[0, 1], [0, 1], [0]]


def test_iterable_dataset_needs_iter_and_cannot_be_concatenated(torch):
    with pytest.raises(NotImplementedError):
        iter(IterableDataset())
    with pytest.raises(TypeError, match="itertools.chain"):
        _Stream(3) + _Stream(2)
    with pytest.raises(AssertionError, match="ConcatDataset does not support IterableDataset"):
        minidl.data.ConcatDataset([_Stream(3), [1, 2]])


# ---- PyTorch's errors ----------------------------------------------------------------------------------
SAMPLER_MISTAKES = {
    "RandomSampler replacement 1": lambda m: m.RandomSampler(range(3), replacement=1),
    "RandomSampler num_samples 0": lambda m: m.RandomSampler(range(3), num_samples=0),
    "RandomSampler num_samples 2.5": lambda m: m.RandomSampler(range(3), num_samples=2.5),
    "RandomSampler of nothing": lambda m: m.RandomSampler([]),
    "WeightedRandomSampler num_samples 0": lambda m: m.WeightedRandomSampler([1, 2], 0),
    "WeightedRandomSampler num_samples True": lambda m: m.WeightedRandomSampler([1, 2], True),
    "WeightedRandomSampler replacement 0": lambda m: m.WeightedRandomSampler([1, 2], 2, replacement=0),
    "WeightedRandomSampler 2-d weights": lambda m: m.WeightedRandomSampler([[1, 2], [3, 4]], 2),
    "BatchSampler batch_size 0": lambda m: m.BatchSampler(range(3), 0, False),
    "BatchSampler batch_size True": lambda m: m.BatchSampler(range(3), True, False),
    "BatchSampler drop_last None": lambda m: m.BatchSampler(range(3), 2, None),
}


@pytest.mark.parametrize("mistake", SAMPLER_MISTAKES)
def test_sampler_argument_mistakes_raise_pytorchs_error(mistake, torch):
    theirs = error_of(lambda: SAMPLER_MISTAKES[mistake](torch.utils.data))
    assert theirs is not None
    with pytest.raises(type(theirs)) as ours:
        SAMPLER_MISTAKES[mistake](minidl.utils.data)
    assert str(theirs) in str(ours.value)


DRAW_MISTAKES = {
    "negative weight": ([1.0, -1.0], 2, True),
    "nan weight": ([1.0, float("nan")], 2, True),
    "zero weights": ([0.0, 0.0], 2, True),
    "more draws than weights": ([1.0, 1.0], 3, False),
}


@pytest.mark.parametrize("mistake", DRAW_MISTAKES)
def test_weighted_draw_mistakes_raise_runtime_errors_as_multinomial(mistake, torch):
    weights, k, replacement = DRAW_MISTAKES[mistake]
    theirs = error_of(lambda: list(torch.utils.data.WeightedRandomSampler(weights, k, replacement)))
    assert isinstance(theirs, RuntimeError)
    with pytest.raises(RuntimeError):
        list(WeightedRandomSampler(weights, k, replacement))


def test_the_base_sampler_needs_iter_and_has_no_len(torch):
    assert isinstance(error_of(lambda: iter(torch.utils.data.Sampler())), NotImplementedError)
    with pytest.raises(NotImplementedError):
        iter(Sampler())
    with pytest.raises(TypeError):
        len(Sampler())


def test_a_generator_of_another_kind_is_a_type_error():
    with pytest.raises(TypeError, match="generator must be None"):
        RandomSampler(range(3), generator=1.5)


LOADER_MISTAKES = {
    "sampler with shuffle": lambda m, data: m.DataLoader(data, sampler=m.SequentialSampler(data), shuffle=True),
    "batch_sampler with shuffle": lambda m, data: m.DataLoader(data, batch_sampler=[[0]], shuffle=True),
    "batch_sampler with sampler": lambda m, data: m.DataLoader(data, batch_sampler=[[0]], sampler=[0]),
    "batch_sampler with drop_last": lambda m, data: m.DataLoader(data, batch_sampler=[[0]], drop_last=True),
    "batch_sampler with batch_size": lambda m, data: m.DataLoader(data, batch_sampler=[[0]], batch_size=4),
}


@pytest.mark.parametrize("mistake", LOADER_MISTAKES)
def test_loader_sampler_mistakes_raise_pytorchs_error(mistake, torch):
    theirs = error_of(lambda: LOADER_MISTAKES[mistake](torch.utils.data, list(range(4))))
    assert theirs is not None
    with pytest.raises(type(theirs)) as ours:
        LOADER_MISTAKES[mistake](minidl.utils.data, list(range(4)))
    assert str(theirs) in str(ours.value)


@pytest.mark.parametrize("option", ["shuffle", "sampler", "batch_sampler"])
def test_loader_refuses_to_order_an_iterable_dataset_as_pytorch(option, torch):
    value = {"shuffle": True, "sampler": [0, 1], "batch_sampler": [[0, 1]]}[option]
    theirs = error_of(lambda: torch.utils.data.DataLoader(_torch_stream(torch, 3), **{option: value}))
    assert isinstance(theirs, ValueError)
    with pytest.raises(ValueError) as ours:
        DataLoader(_Stream(3), **{option: value})
    assert str(theirs) == str(ours.value)


def test_an_iterable_dataset_may_say_shuffle_false():
    assert [minidl.to_numpy(b).tolist() for b in DataLoader(_Stream(3), batch_size=2, shuffle=False)] == [[0, 1], [2]]
