"""Factories and random draws against PyTorch: shapes, dtypes and values exactly, draws by their statistics.

Deterministic factories (``full``, ``eye``, ``linspace``, ...) are compared with torch value for value.
Random draws cannot be: the streams differ, so shapes, dtypes and ranges are checked exactly and the
distributions by frequencies and moments of large samples, against the exact law and torch's own draws.
"""

import itertools

import numpy as np
import pytest

import minidl


def _host(t):
    """A host array from a minidl or a torch tensor."""
    return minidl.to_numpy(t) if isinstance(t, minidl.Tensor) else t.cpu().numpy()


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "")


# ---- deterministic factories: the same values and dtypes as torch ------------------------------------
FACTORIES = {
    "full bool": lambda lib: lib.full((2, 3), True),
    "full int": lambda lib: lib.full((2, 3), 3),
    "full float": lambda lib: lib.full((4,), 2.5),
    "full complex": lambda lib: lib.full((2,), 1 + 2j),
    "full nan": lambda lib: lib.full((2,), float("nan")),
    "full cast to int": lambda lib: lib.full((3,), 3.7, dtype=lib.int64),
    "full list size": lambda lib: lib.full([2, 2], -1.5),
    "full empty": lambda lib: lib.full((0, 3), 1.0),
    "full_like int input": lambda lib: lib.full_like(lib.ones(2, 3, dtype=lib.int64), 3.7),
    "full_like float64": lambda lib: lib.full_like(lib.ones(2, dtype=lib.float64), 7),
    "eye square": lambda lib: lib.eye(3),
    "eye wide": lambda lib: lib.eye(2, 4),
    "eye tall float64": lambda lib: lib.eye(4, 2, dtype=lib.float64),
    "eye empty": lambda lib: lib.eye(0),
    "linspace": lambda lib: lib.linspace(0, 1, 5),
    "linspace negative": lambda lib: lib.linspace(3.0, -2.0, 7),
    "linspace one step": lambda lib: lib.linspace(2.0, 5.0, 1),
    "linspace no step": lambda lib: lib.linspace(2.0, 5.0, 0),
    "linspace long": lambda lib: lib.linspace(-1.0, 1.0, 101),
    "linspace int64": lambda lib: lib.linspace(0, 10, 4, dtype=lib.int64),
    "linspace float64": lambda lib: lib.linspace(0, 1, 11, dtype=lib.float64),
    "empty": lambda lib: lib.empty(2, 3).zero_(),
    "empty tuple int64": lambda lib: lib.empty((2,), dtype=lib.int64).zero_(),
    "zeros int64": lambda lib: lib.zeros(2, dtype=lib.int64),
    "ones_like float64": lambda lib: lib.ones_like(lib.zeros(3, dtype=lib.float64)),
    "zeros_like dtype": lambda lib: lib.zeros_like(lib.zeros(3), dtype=lib.int64),
    "arange float": lambda lib: lib.arange(0, 1, 0.25),
}


@pytest.mark.parametrize("case", sorted(FACTORIES))
def test_factories_match_pytorch_in_shape_dtype_and_values(case, torch):
    ours, theirs = FACTORIES[case](minidl), FACTORIES[case](torch)
    assert ours.shape == tuple(theirs.shape)
    assert _dtype_name(ours) == _dtype_name(theirs)
    np.testing.assert_allclose(_host(ours), _host(theirs), rtol=1e-6, atol=1e-7, equal_nan=True)


@pytest.mark.parametrize("steps", [2, 3, 10, 1000])
def test_linspace_ends_exactly_at_start_and_end(steps):
    values = minidl.linspace(-0.3, 0.7, steps, dtype=minidl.float64).cpu().numpy()
    assert values[0] == -0.3 and values[-1] == 0.7 and np.all(np.diff(values) > 0)


@pytest.mark.parametrize("factory", ["zeros", "ones", "full", "rand", "randn", "randint", "eye"])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_factories_make_leaves_that_may_require_grad(factory, requires_grad):
    make = {
        "zeros": lambda: minidl.zeros(2, 3, requires_grad=requires_grad),
        "ones": lambda: minidl.ones(2, 3, requires_grad=requires_grad),
        "full": lambda: minidl.full((2, 3), 1.5, requires_grad=requires_grad),
        "rand": lambda: minidl.rand(2, 3, requires_grad=requires_grad),
        "randn": lambda: minidl.randn(2, 3, requires_grad=requires_grad),
        "randint": lambda: minidl.randint(0, 5, (2, 3), dtype=minidl.float32, requires_grad=requires_grad),
        "eye": lambda: minidl.eye(2, 3, requires_grad=requires_grad),
    }[factory]
    t = make()
    assert t.is_leaf and t.requires_grad is requires_grad and t.shape == (2, 3)


# ---- bad input: PyTorch's exception types and messages -------------------------------------------------
ERRORS = {
    "randint low >= high": (lambda lib: lib.randint(5, 5, (2,)), True),
    "randint low > high": (lambda lib: lib.randint(3, 1, (2,)), True),
    "randint int size": (lambda lib: lib.randint(0, 5, 3), False),
    "randint float bound": (lambda lib: lib.randint(0, 5.5, (3,)), False),
    "randperm negative": (lambda lib: lib.randperm(-1), True),
    "full int size": (lambda lib: lib.full(3, 1.0), False),
    "eye negative n": (lambda lib: lib.eye(-1), True),
    "eye negative m": (lambda lib: lib.eye(2, -1), True),
    "linspace negative steps": (lambda lib: lib.linspace(0, 1, -1), True),
    "rand_like int": (lambda lib: lib.rand_like(lib.tensor([1, 2])), False),
    "randn_like int": (lambda lib: lib.randn_like(lib.tensor([1, 2])), False),
    "multinomial nan": (lambda lib: lib.multinomial(lib.tensor([0.5, float("nan")]), 1), True),
    "multinomial inf": (lambda lib: lib.multinomial(lib.tensor([0.5, float("inf")]), 1), True),
    "multinomial negative": (lambda lib: lib.multinomial(lib.tensor([[0.5, 0.5], [0.5, -1.0]]), 1, True), True),
    "multinomial zero sum": (lambda lib: lib.multinomial(lib.tensor([0.0, 0.0]), 1, True), True),
    "multinomial too many": (lambda lib: lib.multinomial(lib.tensor([0.5, 0.5]), 3), True),
    "multinomial no samples": (lambda lib: lib.multinomial(lib.tensor([0.5, 0.5]), 0), True),
    "multinomial integer weights": (lambda lib: lib.multinomial(lib.tensor([1, 2]), 1), False),
    "multinomial 3-d": (lambda lib: lib.multinomial(lib.ones(2, 2, 2), 1), True),
    "multinomial 0-d": (lambda lib: lib.multinomial(lib.ones(()), 1), True),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_arguments_raise_as_in_pytorch(case, torch):
    call, same_message = ERRORS[case]
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(Exception) as ours:
        call(minidl)
    assert type(ours.value) is type(theirs.value)
    if same_message:  # PyTorch's words first; minidl may add what was given
        assert str(ours.value).startswith(str(theirs.value).split(" (")[0])


# ---- random draws: shapes, dtypes, ranges ------------------------------------------------------------
def test_randint_draws_every_integer_of_the_range_and_no_other():
    values = minidl.randint(-3, 4, (20000,)).cpu().numpy()
    assert values.dtype == np.int64 and set(np.unique(values)) == set(range(-3, 4))


@pytest.mark.parametrize("args", [(10, (3, 4)), (2, 5, (7,)), (0, 2, ())])
def test_randint_takes_high_alone_or_low_and_high_as_pytorch(args, torch):
    ours, theirs = minidl.randint(*args), torch.randint(*args)
    assert ours.shape == tuple(theirs.shape) and _dtype_name(ours) == _dtype_name(theirs)
    low, high = (0, args[0]) if len(args) == 2 else args[:2]
    assert np.all((ours.cpu().numpy() >= low) & (ours.cpu().numpy() < high))


@pytest.mark.parametrize("dtype", ["float32", "float64", "bool", "int64"])
def test_randint_casts_to_the_requested_dtype_as_pytorch(dtype, torch):
    ours = minidl.randint(0, 2, (50,), dtype=getattr(minidl.backend, dtype if dtype != "bool" else "bool_"))
    theirs = torch.randint(0, 2, (50,), dtype=getattr(torch, dtype))
    assert _dtype_name(ours) == _dtype_name(theirs) and set(ours.tolist()) <= {0, 1}


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_randperm_is_a_permutation(n, torch):
    ours = minidl.randperm(n)
    assert sorted(ours.tolist()) == list(range(n)) and _dtype_name(ours) == _dtype_name(torch.randperm(n))


def test_randperm_puts_every_element_anywhere_equally_often():
    first = np.array([minidl.randperm(4).tolist()[0] for _ in range(4000)])
    np.testing.assert_allclose(np.bincount(first, minlength=4) / 4000, 0.25, atol=0.03)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["rand_like", "randn_like", "randint_like"])
def test_like_factories_take_the_shape_and_dtype_of_their_input(name, dtype, torch):
    make = {"rand_like": lambda lib, x: lib.rand_like(x), "randn_like": lambda lib, x: lib.randn_like(x),
            "randint_like": lambda lib, x: lib.randint_like(x, 2, 10)}[name]
    ours = make(minidl, minidl.zeros(3, 4, dtype=getattr(minidl, dtype)))
    theirs = make(torch, torch.zeros(3, 4, dtype=getattr(torch, dtype)))
    assert ours.shape == tuple(theirs.shape) and _dtype_name(ours) == _dtype_name(theirs)
    if name == "randint_like":
        values = ours.cpu().numpy()
        assert np.all((values >= 2) & (values < 10) & (values == np.floor(values)))


@pytest.mark.parametrize("name, mean, variance", [("rand", 0.5, 1 / 12), ("randn", 0.0, 1.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rand_and_randn_have_the_moments_of_their_law(name, mean, variance, dtype):
    values = getattr(minidl, name)(200000, dtype=getattr(minidl, dtype)).cpu().numpy()
    assert values.dtype == np.dtype(dtype)
    assert values.mean() == pytest.approx(mean, abs=0.01) and values.var() == pytest.approx(variance, rel=0.02)
    if name == "rand":
        assert values.min() >= 0 and values.max() < 1


def test_rand_like_and_randn_like_draw_their_laws():
    uniform = minidl.rand_like(minidl.zeros(100000, dtype=minidl.float64)).cpu().numpy()
    normal = minidl.randn_like(minidl.zeros(100000)).cpu().numpy()
    assert 0 <= uniform.min() and uniform.max() < 1 and uniform.mean() == pytest.approx(0.5, abs=0.01)
    assert normal.mean() == pytest.approx(0, abs=0.02) and normal.std() == pytest.approx(1, abs=0.02)


# ---- multinomial ----------------------------------------------------------------------------------
WEIGHTS = [1.0, 0.0, 2.0, 3.0, 4.0]  # not normalized, one zero


@pytest.mark.parametrize("replacement", [False, True])
@pytest.mark.parametrize("shape", [(5,), (3, 5)])
def test_multinomial_returns_int64_indices_of_pytorchs_shape(shape, replacement, torch):
    weights = np.broadcast_to(np.array(WEIGHTS, dtype=np.float32), shape).copy()
    ours = minidl.multinomial(minidl.tensor(weights), 3, replacement=replacement)
    theirs = torch.multinomial(torch.tensor(weights), 3, replacement=replacement)
    assert ours.shape == tuple(theirs.shape) and _dtype_name(ours) == _dtype_name(theirs)
    assert set(ours.cpu().numpy().ravel()) <= {0, 2, 3, 4}  # the zero weight is never drawn


def test_multinomial_with_replacement_draws_in_proportion_to_the_weights(torch):
    ours = minidl.multinomial(minidl.tensor(WEIGHTS), 100000, replacement=True).cpu().numpy()
    theirs = torch.multinomial(torch.tensor(WEIGHTS), 100000, replacement=True).cpu().numpy()
    expected = np.array(WEIGHTS) / sum(WEIGHTS)
    np.testing.assert_allclose(np.bincount(ours, minlength=5) / 1e5, expected, atol=0.006)
    np.testing.assert_allclose(np.bincount(ours, minlength=5) / 1e5, np.bincount(theirs, minlength=5) / 1e5, atol=0.01)


def test_multinomial_rows_are_independent_distributions():
    weights = minidl.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 5.0]], dtype=minidl.float64)
    draws = minidl.multinomial(weights, 30000, replacement=True).cpu().numpy()
    assert set(draws[0]) == {1} and set(draws[2]) == {2}
    assert np.mean(draws[1] == 0) == pytest.approx(0.5, abs=0.015)


def test_multinomial_without_replacement_draws_one_by_one_from_the_remaining_weights(torch):
    """P(first = i, second = j) = w_i / S * w_j / (S - w_i): sequential draws without replacement."""
    rows = np.tile(np.array(WEIGHTS, dtype=np.float32), (40000, 1))
    ours = minidl.multinomial(minidl.tensor(rows), 2).cpu().numpy()
    theirs = torch.multinomial(torch.tensor(rows), 2).cpu().numpy()
    total = sum(WEIGHTS)
    for i, j in itertools.permutations([0, 2, 3, 4], 2):
        exact = WEIGHTS[i] / total * WEIGHTS[j] / (total - WEIGHTS[i])
        frequency = np.mean((ours[:, 0] == i) & (ours[:, 1] == j))
        assert frequency == pytest.approx(exact, abs=0.008)
        assert frequency == pytest.approx(np.mean((theirs[:, 0] == i) & (theirs[:, 1] == j)), abs=0.012)
    assert np.all(ours[:, 0] != ours[:, 1])


def test_multinomial_without_replacement_gives_zero_weights_last_as_pytorch(torch):
    weights = [0.0, 0.5, 0.0, 0.0, 0.5, 0.0]
    ours = minidl.multinomial(minidl.tensor([weights] * 50), 6).cpu().numpy()
    theirs = torch.multinomial(torch.tensor([weights] * 50), 6).cpu().numpy()
    for draws in (ours, theirs):
        assert all(set(row[:2]) == {1, 4} and sorted(row) == list(range(6)) for row in draws)


def test_multinomial_of_no_rows_is_empty(torch):
    ours, theirs = minidl.multinomial(minidl.ones(0, 3), 2), torch.multinomial(torch.ones(0, 3), 2)
    assert ours.shape == tuple(theirs.shape) == (0, 2)


# ---- seeding and generators ------------------------------------------------------------------------
DRAWS = {
    "rand": lambda **kw: minidl.rand(3, 4, **kw),
    "randn": lambda **kw: minidl.randn(3, 4, **kw),
    "randint": lambda **kw: minidl.randint(0, 100, (3, 4), **kw),
    "randperm": lambda **kw: minidl.randperm(20, **kw),
    "multinomial": lambda **kw: minidl.multinomial(minidl.tensor(WEIGHTS), 4, **kw),
    "multinomial with replacement": lambda **kw: minidl.multinomial(minidl.tensor(WEIGHTS), 9, True, **kw),
    "rand_like": lambda: minidl.rand_like(minidl.zeros(5)),
    "randn_like": lambda: minidl.randn_like(minidl.zeros(5)),
    "randint_like": lambda: minidl.randint_like(minidl.zeros(5), 50),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_draws_are_reproducible_with_the_library_seed(name):
    minidl.manual_seed(11)
    first = DRAWS[name]().tolist()
    second = DRAWS[name]().tolist()
    minidl.manual_seed(11)
    assert DRAWS[name]().tolist() == first and first != second


@pytest.mark.parametrize("name", ["rand", "randn", "randint", "randperm", "multinomial"])
def test_a_numpy_generator_gives_its_own_reproducible_stream(name):
    first = DRAWS[name](generator=np.random.default_rng(5)).tolist()
    minidl.manual_seed(123)
    assert DRAWS[name](generator=np.random.default_rng(5)).tolist() == first


@pytest.mark.parametrize("name", ["rand", "randint", "multinomial"])
def test_a_generator_that_is_not_a_numpy_generator_is_refused(name):
    with pytest.raises(TypeError, match="generator"):
        DRAWS[name](generator=7)


@pytest.mark.parametrize("factory", [lambda **kw: minidl.zeros(2, **kw), lambda **kw: minidl.full((2,), 1, **kw),
                                     lambda **kw: minidl.randn(2, **kw), lambda **kw: minidl.linspace(0, 1, 3, **kw)])
def test_device_argument_places_the_tensor_and_cuda_needs_a_gpu(factory, backend):
    for device in ("cpu", minidl.device("cpu")) + (() if backend == "numpy" else ("cuda", minidl.device("cuda"))):
        made = factory(device=device)
        assert made.shape[0] in (2, 3) and made.device.type == minidl.device(device).type
    if backend == "numpy":
        with pytest.raises(RuntimeError, match="No CUDA GPUs are available"):
            factory(device="cuda")
