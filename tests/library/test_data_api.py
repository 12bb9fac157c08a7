"""minidl.utils.data is torch.utils.data: the same batches (values, dtypes, shapes, containers), the same
lengths, splits and errors, on the same data set."""

import collections
import warnings

import numpy as np
import pytest

import minidl
import minidl.utils.data
from minidl.data import (
    ConcatDataset, DataLoader, Dataset, Subset, TensorDataset, default_collate, default_convert, random_split,
)

from conftest import error_of

Pair = collections.namedtuple("Pair", ["features", "label"])
X = np.arange(30, dtype=np.float32).reshape(10, 3) / 7
Y = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
Z = np.linspace(-1, 1, 10)

# One sample i of each kind, built with a library's tensor factory T (minidl.tensor or torch.tensor).
SAMPLES = {
    "tensor": lambda T, i: T(X[i]),
    "(tensor, int)": lambda T, i: (T(X[i]), int(Y[i])),
    "(tensor, float)": lambda T, i: (T(X[i]), float(Z[i])),
    "(tensor, bool)": lambda T, i: (T(X[i]), bool(Y[i] % 2)),
    "(tensor, 0-d tensor)": lambda T, i: (T(X[i]), T(Y[i])),
    "(tensor, str)": lambda T, i: (T(X[i]), f"sample {i}"),
    "numpy array and scalar": lambda T, i: (X[i], Y[i]),
    "numpy float64 rows": lambda T, i: X[i].astype(np.float64),
    "dict": lambda T, i: {"image": T(X[i]), "label": int(Y[i]), "weight": float(Z[i])},
    "nested tuple": lambda T, i: ((T(X[i]), float(Z[i])), (int(Y[i]), [int(Y[i]), i])),
    "list of Python numbers": lambda T, i: [X[i].tolist(), int(Y[i])],
    "namedtuple": lambda T, i: Pair(T(X[i]), int(Y[i])),
}


def _ours(kind):
    return [SAMPLES[kind](minidl.tensor, i) for i in range(len(X))]


def _theirs(kind, torch):
    return [SAMPLES[kind](torch.tensor, i) for i in range(len(X))]


def _plain(batch):
    """A batch on the host: each tensor as (dtype, shape, values); containers and strings as they are."""
    if isinstance(batch, minidl.Tensor):
        batch = minidl.to_numpy(batch)
    elif type(batch).__module__.startswith("torch"):
        batch = batch.cpu().numpy()
    if isinstance(batch, np.ndarray):
        return ("tensor", batch.dtype.name, batch.shape, batch.tolist())
    if isinstance(batch, dict):
        return {key: _plain(value) for key, value in batch.items()}
    if isinstance(batch, Pair):
        return Pair(*map(_plain, batch))
    if isinstance(batch, (list, tuple)):
        return (type(batch).__name__, [_plain(part) for part in batch])
    return batch


def _epoch(loader):
    return [_plain(batch) for batch in loader]


@pytest.mark.parametrize("kind", SAMPLES)
def test_default_collate_matches_pytorch(kind, torch):
    theirs = torch.utils.data.default_collate(_theirs(kind, torch)[:4])
    assert _plain(default_collate(_ours(kind)[:4])) == _plain(theirs)


@pytest.mark.parametrize("kind", SAMPLES)
@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (4, False), (4, True), (10, True), (16, False)])
def test_unshuffled_batches_match_pytorch(kind, batch_size, drop_last, torch):
    ours = DataLoader(_ours(kind), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(_theirs(kind, torch), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs) and _epoch(ours) == _epoch(theirs)


@pytest.mark.parametrize("kind", ["(tensor, int)", "numpy array and scalar", "dict", "nested tuple"])
def test_unbatched_samples_match_pytorch(kind, torch):
    """batch_size=None hands out samples one by one, NumPy values made tensors (default_convert)."""
    ours = DataLoader(_ours(kind), batch_size=None)
    theirs = torch.utils.data.DataLoader(_theirs(kind, torch), batch_size=None)
    assert len(ours) == len(theirs) == len(X) and _epoch(ours) == _epoch(theirs)
    assert _plain(default_convert(_ours(kind)[0])) == _plain(torch.utils.data.default_convert(_theirs(kind, torch)[0]))


@pytest.mark.parametrize("batch_size, drop_last", [(3, False), (3, True), (10, False)])
def test_tensor_dataset_matches_pytorch_and_the_arrays_shorthand(batch_size, drop_last, torch):
    ours = DataLoader(TensorDataset(minidl.tensor(X), minidl.tensor(Y)), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(Y)),
                                         batch_size=batch_size, drop_last=drop_last)
    shorthand = DataLoader((X, Y), batch_size=batch_size, drop_last=drop_last)
    assert _epoch(ours) == _epoch(theirs) == _epoch(shorthand)
    assert _plain(TensorDataset(minidl.tensor(X), minidl.tensor(Y))[2]) == _plain(
        torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(Y))[2])


def _subset_of_tensors():
    return Subset(Subset(TensorDataset(minidl.tensor(X), minidl.tensor(Y)), [9, 0, 8, 1, 7, 2, 6]), [6, 0, 2, 4])


@pytest.mark.parametrize("make", [lambda: TensorDataset(minidl.tensor(X), minidl.tensor(Y)), lambda: minidl.tensor(X),
                                  _subset_of_tensors], ids=["TensorDataset", "a Tensor", "Subset of Subset"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_whole_tensor_batches_equal_collated_samples(make, shuffle):
    """Batches taken from whole tensors in one step are what collating the samples one by one gives."""
    fast = DataLoader(make(), batch_size=3, shuffle=shuffle, generator=5)
    slow = DataLoader(make(), batch_size=3, shuffle=shuffle, generator=5, collate_fn=lambda b: default_collate(b))
    assert _epoch(fast) == _epoch(slow) and len(_epoch(fast)) == len(fast)


GENERATORS = {
    "int seed": lambda: dict(generator=7),
    "seed keyword": lambda: dict(seed=7),
    "NumPy Generator": lambda: dict(generator=np.random.default_rng(7)),
}


@pytest.mark.parametrize("generator", GENERATORS)
@pytest.mark.parametrize("drop_last", [False, True])
def test_a_shuffled_epoch_holds_every_sample_once_and_a_seed_repeats_it(generator, drop_last):
    dataset = TensorDataset(minidl.tensor(X), minidl.tensor(np.arange(10)))
    first = DataLoader(dataset, batch_size=4, shuffle=True, drop_last=drop_last, **GENERATORS[generator]())
    second = DataLoader(dataset, batch_size=4, shuffle=True, drop_last=drop_last, **GENERATORS[generator]())
    epochs = [[minidl.to_numpy(labels) for _, labels in first] for _ in range(3)]
    for epoch in epochs:
        seen = np.concatenate(epoch)
        assert len(seen) == (8 if drop_last else 10) and len(set(seen.tolist())) == len(seen)
        assert set(seen.tolist()) <= set(range(10))
    if not drop_last:
        assert all(sorted(np.concatenate(epoch).tolist()) == list(range(10)) for epoch in epochs)
    assert [np.concatenate(e).tolist() for e in epochs] == [
        np.concatenate([minidl.to_numpy(labels) for _, labels in second]).tolist() for _ in range(3)]
    assert np.concatenate(epochs[0]).tolist() != np.concatenate(epochs[1]).tolist()


def test_without_a_generator_the_order_follows_manual_seed():
    def order():
        return [minidl.to_numpy(batch).tolist() for batch in DataLoader(list(range(10)), batch_size=5, shuffle=True)]

    minidl.manual_seed(3)
    first = order()
    minidl.manual_seed(3)
    assert order() == first and sorted(sum(first, [])) == list(range(10))


@pytest.mark.parametrize("n", [0, 1, 9, 10, 11])
@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (5, False), (5, True), (10, True), (None, False)])
def test_len_matches_pytorch(n, batch_size, drop_last, torch):
    ours = DataLoader(list(range(n)), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(list(range(n)), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs) == len(list(ours))


@pytest.mark.parametrize("options", [dict(sampler=[4, 0, 2, 9]), dict(sampler=[4, 0, 2, 9], drop_last=True),
                                     dict(batch_sampler=[[3, 1], [0], [9, 8, 7]])], ids=str)
def test_sampler_and_batch_sampler_iterables_match_pytorch(options, torch):
    batch_size = {} if "batch_sampler" in options else dict(batch_size=3)
    ours = DataLoader(_ours("(tensor, int)"), **batch_size, **options)
    theirs = torch.utils.data.DataLoader(_theirs("(tensor, int)", torch), **batch_size, **options)
    assert len(ours) == len(theirs) and _epoch(ours) == _epoch(theirs)


def test_workers_and_pinned_memory_are_accepted_and_change_nothing():
    plain = DataLoader(_ours("(tensor, int)"), batch_size=4)
    options = DataLoader(_ours("(tensor, int)"), batch_size=4, num_workers=2, pin_memory=True, prefetch_factor=2,
                         persistent_workers=True, timeout=1)
    assert _epoch(plain) == _epoch(options)


@pytest.mark.parametrize("lengths", [[3, 7], [10, 0], [0.3, 0.7], [0.5, 0.5], [0.34, 0.33, 0.33], [0.1] * 10,
                                     [1 / 3] * 3], ids=str)
def test_random_split_sizes_match_pytorch_and_the_parts_are_disjoint(lengths, torch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn about a split of length 0
        ours = random_split(list(range(10)), lengths, generator=0)
        theirs = torch.utils.data.random_split(list(range(10)), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(part) for part in ours] == [len(part) for part in theirs]
    items = [list(part) for part in ours]
    assert sorted(sum(items, [])) == list(range(10))
    assert all(isinstance(part, Subset) and list(part) == part.indices for part in ours)


@pytest.mark.parametrize("generator", [0, "NumPy Generator"])
def test_random_split_with_the_same_seed_repeats_and_another_seed_differs(generator):
    def split(seed):
        chosen = np.random.default_rng(seed) if generator == "NumPy Generator" else seed
        return [part.indices for part in random_split(range(50), [0.8, 0.2], generator=chosen)]

    assert split(1) == split(1) and split(1) != split(2)


def test_random_split_warns_of_an_empty_part_as_pytorch(torch):
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(3), [1.0, 0.0])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        torch.utils.data.random_split(range(3), [1.0, 0.0])


SPLIT_MISTAKES = {
    "lengths that do not add up": [3, 4],
    "a fraction above 1": [1.5, -0.5],
    "fractions that do not add up to 1": [0.5, 0.2],
}


@pytest.mark.parametrize("mistake", SPLIT_MISTAKES)
def test_random_split_mistakes_raise_as_in_pytorch(mistake, torch):
    theirs = error_of(lambda: torch.utils.data.random_split(range(10), SPLIT_MISTAKES[mistake]))
    with pytest.raises(type(theirs)) as ours:
        random_split(range(10), SPLIT_MISTAKES[mistake])
    assert str(ours.value).startswith(str(theirs))


LOADER_MISTAKES = {
    "batch_size 0": dict(batch_size=0),
    "negative batch_size": dict(batch_size=-2),
    "float batch_size": dict(batch_size=2.0),
    "bool batch_size": dict(batch_size=True),
    "drop_last 1": dict(batch_size=2, drop_last=1),
    "negative num_workers": dict(num_workers=-1),
    "negative timeout": dict(timeout=-1),
    "prefetch_factor without workers": dict(prefetch_factor=2),
    "persistent_workers without workers": dict(persistent_workers=True),
    "batch_size None with drop_last": dict(batch_size=None, drop_last=True),
    "sampler with shuffle": dict(sampler=[0, 1], shuffle=True),
    "batch_sampler with batch_size": dict(batch_sampler=[[0, 1]], batch_size=2),
    "shuffle of an empty data set": dict(shuffle=True, dataset=[]),
}


@pytest.mark.parametrize("mistake", LOADER_MISTAKES)
def test_loader_argument_mistakes_raise_pytorchs_error(mistake, torch):
    options = dict(LOADER_MISTAKES[mistake])
    dataset = options.pop("dataset", list(range(4)))
    theirs = error_of(lambda: torch.utils.data.DataLoader(dataset, **options))
    assert theirs is not None
    with pytest.raises(type(theirs)) as ours:
        DataLoader(dataset, **options)
    assert str(theirs) in str(ours.value)


class _NoLength(Dataset):
    def __getitem__(self, index):
        return index


def test_a_data_set_without_len_is_a_type_error_as_in_pytorch(torch):
    with pytest.raises(TypeError, match=r"dataset must be a map-style data set, with __len__ and __getitem__.*"
                                        r"got _NoLength"):
        DataLoader(_NoLength(), batch_size=2)
    assert isinstance(error_of(lambda: len(torch.utils.data.DataLoader(_NoLength(), batch_size=2))), TypeError)
    assert [minidl.to_numpy(b).tolist() for b in DataLoader(_NoLength(), sampler=[5, 2], batch_size=2)] == [[5, 2]]


@pytest.mark.parametrize("generator", ["seed", 1.5, "a torch.Generator"])
def test_a_generator_that_is_not_a_seed_or_numpy_generator_is_a_type_error(generator, torch):
    generator = torch.Generator() if generator == "a torch.Generator" else generator
    for call in (lambda: DataLoader(list(range(4)), shuffle=True, generator=generator),
                 lambda: random_split(range(4), [2, 2], generator=generator)):
        with pytest.raises(TypeError, match=r"generator must be None .*, an int seed or a numpy\.random\.Generator"):
            call()


def test_seed_and_generator_together_are_refused():
    with pytest.raises(ValueError, match="seed or generator, not both"):
        DataLoader(list(range(4)), shuffle=True, seed=0, generator=0)


COLLATE_MISTAKES = {
    "arrays of strings": lambda T: [np.array(["a", "b"]), np.array(["c", "d"])],
    "an object": lambda T: [object(), object()],
    "tensors of different shapes": lambda T: [T(X[0]), T(X[1, :2])],
    "samples with different parts": lambda T: [(T(X[0]), 1), (T(X[1]),)],
}


@pytest.mark.parametrize("mistake", COLLATE_MISTAKES)
def test_collate_mistakes_raise_pytorchs_error(mistake, torch):
    theirs = error_of(lambda: torch.utils.data.default_collate(COLLATE_MISTAKES[mistake](torch.tensor)))
    with pytest.raises(type(theirs)) as ours:
        default_collate(COLLATE_MISTAKES[mistake](minidl.tensor))
    assert str(ours.value).startswith(str(theirs).split(" object at ")[0])


def test_tensor_dataset_of_different_lengths_raises_pytorchs_assertion(torch):
    theirs = error_of(lambda: torch.utils.data.TensorDataset(torch.zeros(3), torch.zeros(4)))
    with pytest.raises(AssertionError, match=r"Size mismatch between tensors: .*\[3, 4\]") as ours:
        TensorDataset(minidl.zeros(3), minidl.zeros(4))
    assert isinstance(theirs, AssertionError) and str(ours.value).startswith(str(theirs))
    with pytest.raises(TypeError, match="argument 1 is a ndarray, not a Tensor; wrap arrays with minidl.tensor"):
        TensorDataset(minidl.zeros(3), np.zeros(3))


def test_subset_concat_and_add_index_as_pytorch(torch):
    ours = ConcatDataset([Subset(list(range(10)), [7, 2, 5]), list(range(100, 104))]) + Subset(list("abc"), [2])
    theirs = torch.utils.data.ConcatDataset(
        [torch.utils.data.Subset(list(range(10)), [7, 2, 5]), list(range(100, 104))]
    ) + torch.utils.data.Subset(list("abc"), [2])
    assert len(ours) == len(theirs) == 8
    assert [ours[i] for i in range(-8, 8)] == [theirs[i] for i in range(-8, 8)]
    assert Subset(list(range(10)), [7, 2, 5]).__getitems__([2, 0]) == [5, 7]
    with pytest.raises(NotImplementedError, match="Subclasses of Dataset should implement __getitem__"):
        Dataset()[0]


def test_a_dataset_subclass_trains_through_the_loader():
    class Squares(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, index):
            return minidl.tensor([float(index)]), index * index

    inputs, targets = next(iter(DataLoader(Squares(), batch_size=4)))
    assert inputs.shape == (4, 1) and targets.dtype == np.int64 and minidl.to_numpy(targets).tolist() == [0, 1, 4, 9]
    assert minidl.backend.current().is_array(inputs.data) and minidl.backend.current().is_array(targets.data)


def test_the_torch_utils_data_names_are_minidls():
    names = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "DataLoader", "random_split", "default_collate",
             "default_convert"]
    assert all(getattr(minidl.utils.data, name) is getattr(minidl.data, name) for name in names)
