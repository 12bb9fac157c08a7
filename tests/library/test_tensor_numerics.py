"""Tensor numerics against PyTorch: the sigmoid's tails, pow's edge gradients, NaN in max and min,
type promotion, casts that leave the graph, shape errors, clamp with tensor bounds, std and var,
gather, floor division and remainder. Every expected value comes from the ``torch`` fixture."""

import operator
import warnings

import numpy as np
import pytest

import minidl

from conftest import leaf

NAN, INF = float("nan"), float("inf")


def _host(t):
    return minidl.to_numpy(t)


def _torch_dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def _assert_same(actual, expected, rtol=1e-12):
    """Values equal to torch's up to rounding, with nan and inf in the same places."""
    np.testing.assert_allclose(_host(actual), expected.detach().cpu().numpy(), rtol=rtol, atol=0, equal_nan=True)


def _backward_with_weights(out, torch_out, torch):
    """Backpropagate sum(w * out) in both libraries, w distinct per entry, so each entry's route shows."""
    weights = np.arange(1.0, 1.0 + out.numel()).reshape(out.shape)
    (out * leaf(weights, requires_grad=False)).sum().backward()
    (torch_out * torch.tensor(weights)).sum().backward()


# ---- sigmoid: stable in both tails ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_and_its_gradient_match_torch_out_to_the_tails_without_warnings(dtype, torch):
    values = np.array([-1000, -40, -20.3, -20, -5, 0, 5, 20, 40, 1000], dtype=dtype)
    x, tx = minidl.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow in exp, in either direction
        out = x.sigmoid()
        out.sum().backward()
    torch_out = torch.sigmoid(tx)
    torch_out.sum().backward()
    rtol = 1e-6 if dtype == "float32" else 1e-14
    assert out.dtype == np.dtype(dtype)
    _assert_same(out, torch_out, rtol)
    assert _host(out)[1] > 0  # sigma(-40) = 4.2e-18 is representable in float32 and must not round to 0
    # sigma (1 - sigma): relative accuracy in the left tail; on the right, 1 - sigma cancels in both
    # libraries, so one rounding step of sigma (eps) is the honest tolerance
    left = values <= 0
    np.testing.assert_allclose(_host(x.grad)[left], tx.grad.cpu().numpy()[left], rtol=rtol)
    np.testing.assert_allclose(_host(x.grad)[~left], tx.grad.cpu().numpy()[~left], rtol=0, atol=np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("value", [-20.0, -40.0])
def test_minus_log_sigmoid_of_a_very_negative_logit_is_finite_with_slope_minus_one(value, dtype, torch):
    x = minidl.tensor(np.array(value, dtype=dtype), requires_grad=True)
    tx = torch.tensor(value, dtype=getattr(torch, dtype), requires_grad=True)
    loss, torch_loss = -x.sigmoid().log(), -torch.sigmoid(tx).log()
    loss.backward()
    torch_loss.backward()
    assert np.isfinite(loss.item())
    _assert_same(loss, torch_loss, rtol=1e-6)
    _assert_same(x.grad, tx.grad, rtol=1e-6)
    assert x.grad.item() == pytest.approx(-1.0, abs=1e-8)  # d/dx -log sigma(x) = sigma(x) - 1


# ---- pow: PyTorch's gradients at zero and negative bases ----------------------------------------------
@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0, 0.5, -1.0])
@pytest.mark.parametrize("base", [0.0, -2.0, 2.0, 0.5])
def test_pow_value_and_both_gradients_match_torch_at_the_edges(base, exponent, torch):
    b, e = leaf(np.array(base)), leaf(np.array(exponent))
    tb, te = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (base, exponent))
    out, torch_out = b**e, tb**te
    out.backward()
    torch_out.backward()
    _assert_same(out, torch_out)
    _assert_same(b.grad, tb.grad)
    _assert_same(e.grad, te.grad)


POWERS_WITH_A_NUMBER = {
    "x**0": lambda x: x**0,
    "x**0.0": lambda x: x**0.0,
    "x**3": lambda x: x**3,
    "x**-1": lambda x: x**-1,
    "x**0.5": lambda x: x**0.5,
    "0**x": lambda x: 0.0**x,
    "(-2)**x": lambda x: (-2.0) ** x,
    "2**x": lambda x: 2.0**x,
}


@pytest.mark.parametrize("form", POWERS_WITH_A_NUMBER)
def test_pow_with_a_number_matches_torch_including_zero_and_negative_bases(form, torch):
    values = np.array([0.0, 1.0, -2.0, 2.0, 0.5, -1.0])
    x, tx = leaf(values), torch.tensor(values, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0 ** -1 = inf and log(-2) = nan, silently, as in PyTorch
        out = POWERS_WITH_A_NUMBER[form](x)
        out.sum().backward()
    torch_out = POWERS_WITH_A_NUMBER[form](tx)
    torch_out.sum().backward()
    _assert_same(out, torch_out)
    _assert_same(x.grad, tx.grad)


# ---- max, min, argmax, argmin: NaN wins ---------------------------------------------------------------
EXTREME_INPUTS = {
    "nan_in_a_row": [[1.0, NAN, 3.0, NAN], [5.0, 2.0, 5.0, 1.0]],
    "ties": [[2.0, 5.0, 5.0, 1.0], [1.0, 1.0, 0.0, 0.0]],
    "nan_first": [[NAN, NAN, 1.0, 2.0], [3.0, -1.0, 3.0, -1.0]],
    "plain": [[0.5, -1.5, 2.5, 1.0], [4.0, 3.0, -2.0, 0.0]],
}
DIMS = [(None, False), (0, False), (1, False), (-1, True), (0, True)]


@pytest.mark.parametrize("dim, keepdim", DIMS, ids=str)
@pytest.mark.parametrize("case", EXTREME_INPUTS)
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_propagate_nan_and_route_the_gradient_as_torch(name, case, dim, keepdim, torch):
    values = np.array(EXTREME_INPUTS[case])
    x, tx = leaf(values), torch.tensor(values, requires_grad=True)
    if dim is None:  # the gradient is shared evenly by the ties (by the NaNs, if any)
        out, torch_out = getattr(x, name)(), getattr(tx, name)()
    else:  # the gradient goes to the returned index
        (out, indices), (torch_out, torch_indices) = getattr(x, name)(dim, keepdim), getattr(tx, name)(dim, keepdim)
        assert indices.dtype == np.int64 and not indices.requires_grad
        np.testing.assert_array_equal(_host(indices), torch_indices.cpu().numpy())
    _backward_with_weights(out, torch_out, torch)
    assert out.shape == tuple(torch_out.shape)
    _assert_same(out, torch_out)
    _assert_same(x.grad, tx.grad)


@pytest.mark.parametrize("dim, keepdim", [(None, False), (None, True), (0, False), (1, True)], ids=str)
@pytest.mark.parametrize("case", EXTREME_INPUTS)
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_and_argmin_point_at_the_first_nan_as_torch(name, case, dim, keepdim, torch):
    values = np.array(EXTREME_INPUTS[case])
    out = getattr(leaf(values), name)(dim=dim, keepdim=keepdim)
    expected = getattr(torch.tensor(values), name)(dim=dim, keepdim=keepdim)
    assert out.dtype == np.int64 and not out.requires_grad
    assert out.shape == tuple(expected.shape)
    np.testing.assert_array_equal(_host(out), expected.cpu().numpy())


@pytest.mark.parametrize("name", ["max", "min"])
def test_a_tie_among_70000_float16_entries_shares_the_gradient_without_overflow(name, torch):
    x = minidl.tensor(np.ones(70_000, dtype=np.float16), requires_grad=True)
    tx = torch.ones(70_000, dtype=torch.float16, requires_grad=True)
    getattr(x, name)().backward()
    getattr(tx, name)().backward()
    assert x.grad.dtype == np.float16
    np.testing.assert_array_equal(_host(x.grad), tx.grad.cpu().numpy())  # float16(1 / 70000), not 0 or nan
    assert float(_host(x.grad)[0]) == pytest.approx(1 / 70_000, rel=1e-2)


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin"])
def test_an_empty_reduction_asks_for_a_dim_as_torch(name, torch):
    with pytest.raises(Exception) as expected:
        getattr(torch.zeros(0), name)()
    with pytest.raises(expected.type, match="dim"):
        getattr(minidl.zeros(0), name)()


# ---- type promotion ---------------------------------------------------------------------------------
DTYPES = ["float32", "float64", "int64", "bool"]
OPERATIONS = {
    "+": lambda lib, a, b: a + b,
    "-": lambda lib, a, b: a - b,
    "*": lambda lib, a, b: a * b,
    "/": lambda lib, a, b: a / b,
    "**": lambda lib, a, b: a**b,
    "//": lambda lib, a, b: a // b,
    "%": lambda lib, a, b: a % b,
    "<": lambda lib, a, b: a < b,
    "where": lambda lib, a, b: lib.where(lib.tensor(True), a, b),
}


def _ones(lib, dtype, ndim):
    """A tensor of ones (no division by zero) of ``dtype``, 0-d or 1-d, in minidl or torch."""
    values = np.ones((2,) if ndim else (), dtype=dtype)
    return minidl.tensor(values) if lib is minidl else lib.from_numpy(values)


def _outcome(compute):
    """The result's dtype name, or the type of the error raised."""
    try:
        return _torch_dtype_name(compute().dtype)
    except Exception as error:  # noqa: BLE001 - the error type is the outcome compared
        return type(error)


@pytest.mark.parametrize("reflected", [False, True], ids=["tensor_op_number", "number_op_tensor"])
@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("number", [2, 2.5, True], ids=repr)
@pytest.mark.parametrize("ndim", [0, 1])
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_tensor_and_a_python_number_promote_as_torch(dtype, ndim, number, op, reflected, torch):
    def compute(lib):
        a = _ones(lib, dtype, ndim)
        return OPERATIONS[op](lib, *((number, a) if reflected else (a, number)))

    assert _outcome(lambda: compute(minidl)) == _outcome(lambda: compute(torch))


KINDS = [(dtype, ndim) for dtype in DTYPES for ndim in (0, 1)]


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "%", "<", "where"])
@pytest.mark.parametrize("second", KINDS, ids=str)
@pytest.mark.parametrize("first", KINDS, ids=str)
def test_two_tensors_promote_by_category_and_dimension_as_torch(first, second, op, torch):
    def compute(lib):
        return OPERATIONS[op](lib, _ones(lib, *first), _ones(lib, *second))

    assert _outcome(lambda: compute(minidl)) == _outcome(lambda: compute(torch))


def test_a_0d_float64_tensor_keeps_float32_and_gets_its_gradient_in_float64(torch):
    x, scale = minidl.tensor([1.0, 2.0], requires_grad=True), leaf(np.array(3.0))
    tx, tscale = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    out, torch_out = x * scale, tx * tscale
    out.sum().backward()
    torch_out.sum().backward()
    assert out.dtype == np.float32 == np.dtype(_torch_dtype_name(torch_out.dtype))
    assert scale.grad.dtype == np.float64 and x.grad.dtype == np.float32
    _assert_same(scale.grad, tscale.grad)
    _assert_same(x.grad, tx.grad)


# ---- casts and the graph ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["long", "int", "bool", "half", "float", "double"])
def test_cast_methods_match_torch_in_dtype_values_and_graph(method, torch):
    values = np.array([1.5, -2.0, 0.0], dtype=np.float32)
    x, tx = minidl.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    out, torch_out = getattr(x, method)(), getattr(tx, method)()
    assert str(out.dtype) == _torch_dtype_name(torch_out.dtype)
    assert out.requires_grad == torch_out.requires_grad
    np.testing.assert_array_equal(_host(out), torch_out.detach().cpu().numpy())


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int64", "int32", "bool"])
def test_to_keeps_float_casts_in_the_graph_and_cuts_the_others(dtype, torch):
    x, tx = minidl.tensor([1.5, -2.0], requires_grad=True), torch.tensor([1.5, -2.0], requires_grad=True)
    out, torch_out = x.to(np.dtype(dtype)), tx.to(getattr(torch, dtype))
    assert (out is x) == (torch_out is tx)  # a cast to the same dtype returns the tensor itself
    assert str(out.dtype) == dtype and out.requires_grad == torch_out.requires_grad
    if out.requires_grad:
        (out * 3).sum().backward()
        (torch_out * 3).sum().backward()
        assert x.grad.dtype == np.float32
        _assert_same(x.grad, tx.grad)


def test_to_accepts_a_tensor_and_keywords_as_torch(torch):
    x = minidl.tensor([1, 2])
    assert x.to(minidl.tensor(np.array([0.5]))).dtype == np.float64
    assert x.to(dtype=minidl.float32).dtype == np.float32
    copied = x.to(minidl.int64, copy=True)
    assert copied is not x and copied.dtype == np.int64
    with pytest.raises(TypeError, match=r"to\(\): expected a dtype"):
        x.to(3.5)


@pytest.mark.parametrize("op", [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge])
def test_comparisons_give_bool_without_gradient_after_promotion(op, torch):
    x, tx = minidl.tensor([1.0, -1.0, 0.5], requires_grad=True), torch.tensor([1.0, -1.0, 0.5], requires_grad=True)
    out, torch_out = op(x, 0.5), op(tx, 0.5)
    assert out.dtype == np.bool_ and not out.requires_grad and not torch_out.requires_grad
    np.testing.assert_array_equal(_host(out), torch_out.cpu().numpy())
    np.testing.assert_array_equal(_host(op(minidl.tensor([1, 2]), 1.5)), op(torch.tensor([1, 2]), 1.5).cpu().numpy())


BACKEND_DEVICE = {"numpy": "cpu", "gpusim": "cuda", "cupy": "cuda"}


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:0", "cuda:1", "mps"])
def test_to_a_device_is_itself_a_copy_or_a_clear_error(device, backend):
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    if device in (BACKEND_DEVICE[backend], BACKEND_DEVICE[backend] + ":0"):
        assert x.to(device) is x and x.to(device=device) is x
        assert x.to(device, minidl.float64).dtype == np.float64
        return
    if device == "cpu":  # from the GPU: a copy in the graph
        for call in (lambda: x.to(device), lambda: x.to(device=device), lambda: x.to(device, minidl.float64)):
            assert call().device == minidl.device("cpu") and call().grad_fn is not None
        return
    expected = {"cuda": "No CUDA GPUs are available", "cuda:0": "No CUDA GPUs are available",
                "cuda:1": "No CUDA GPUs are available" if backend == "numpy" else "invalid device ordinal",
                "mps": "Expected one of cpu, cuda device type"}[device]
    for call in (lambda: x.to(device), lambda: x.to(device=device), lambda: x.to(device, minidl.float64)):
        with pytest.raises(RuntimeError, match=expected):
            call()


# ---- shape errors ------------------------------------------------------------------------------------
PERMUTE_ERRORS = {
    (0, 1): r"3 dimensions \(shape \(2, 3, 4\)\) but dims \(0, 1\) name 2",
    (0, 1, 2, 3): r"3 dimensions .* name 4",
    (0, 0, 1): r"duplicate dims .* \(0, 0, 1\)",
    (0, 1, 3): r"dimension 3 is out of range for a tensor with 3 dimensions",
}


@pytest.mark.parametrize("dims", PERMUTE_ERRORS, ids=str)
def test_permute_rejects_wrong_repeated_or_out_of_range_dims_like_torch(dims, torch):
    with pytest.raises(Exception) as expected:
        torch.zeros(2, 3, 4).permute(*dims)
    with pytest.raises(expected.type, match=PERMUTE_ERRORS[dims]):
        minidl.zeros(2, 3, 4).permute(*dims)


RESHAPE_ERRORS = {
    (5, 5): r"shape \(2, 3, 4\) \(24 elements\) into \(5, 5\)",
    (7, -1): r"\(24 elements\) into \(7, -1\)",
    (-1, -1): r"only one dimension can be inferred",
}


@pytest.mark.parametrize("method", ["reshape", "view"])
@pytest.mark.parametrize("shape", RESHAPE_ERRORS, ids=str)
def test_reshape_and_view_errors_are_torchs_runtime_error_with_both_shapes(shape, method, torch):
    with pytest.raises(RuntimeError):
        getattr(torch.zeros(2, 3, 4), method)(*shape)
    with pytest.raises(RuntimeError, match=RESHAPE_ERRORS[shape]):
        getattr(minidl.zeros(2, 3, 4), method)(*shape)


# ---- clamp --------------------------------------------------------------------------------------------
CLAMP_CASES = {  # (input, min, max); lists become tensors that require grad
    "tensor_bounds_with_ties_and_min_above_max": (
        [-2.0, 0.0, 1.0, 3.0, 5.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 3.0], [4.0, 4.0, 1.0, 3.0, 4.0, 1.0, 1.0]
    ),
    "broadcast_bounds": ([[-1.0, 0.5, 2.0], [0.2, 0.8, -3.0]], [[0.0], [0.5]], [1.0, 0.8, 1.5]),
    "min_tensor_only": ([-2.0, 0.0, 1.0, 3.0], [0.0, 0.0, 2.0, 3.0], None),
    "max_tensor_only": ([-2.0, 0.0, 1.0, 3.0], None, [0.0, 0.0, 2.0, 3.0]),
    "number_bounds_with_ties": ([-2.0, 0.0, 1.0, 3.0, 5.0], 0.0, 3.0),
    "numbers_min_above_max": ([-2.0, 0.0, 2.0, 3.0, 5.0], 4.0, 2.0),
    "nan_input": ([NAN, 1.0, -1.0], 0.0, 0.5),
}


def _bound(lib, value):
    if not isinstance(value, list):
        return value
    return leaf(np.array(value)) if lib is minidl else lib.tensor(value, dtype=lib.float64, requires_grad=True)


@pytest.mark.parametrize("case", CLAMP_CASES)
def test_clamp_matches_torch_in_value_and_in_every_gradient(case, torch):
    values, low, high = CLAMP_CASES[case]
    x, tx = leaf(np.array(values)), torch.tensor(values, dtype=torch.float64, requires_grad=True)
    bounds, torch_bounds = [_bound(minidl, b) for b in (low, high)], [_bound(torch, b) for b in (low, high)]
    out, torch_out = x.clamp(*bounds), torch.clamp(tx, *torch_bounds)
    _backward_with_weights(out, torch_out, torch)
    _assert_same(out, torch_out)
    _assert_same(x.grad, tx.grad)
    for bound, torch_bound in zip(bounds, torch_bounds):
        if isinstance(bound, minidl.Tensor):
            _assert_same(bound.grad, torch_bound.grad)


@pytest.mark.parametrize("name", ["clamp_min", "clamp_max"])
def test_one_sided_clamps_match_torch(name, torch):
    values, bound = [-2.0, 0.0, 1.0, 3.0], [0.0, 0.0, 2.0, 1.0]
    x, tx = leaf(np.array(values)), torch.tensor(values, dtype=torch.float64, requires_grad=True)
    b, tb = _bound(minidl, bound), _bound(torch, bound)
    out, torch_out = getattr(x, name)(b), getattr(torch, name)(tx, tb)
    _backward_with_weights(out, torch_out, torch)
    _assert_same(out, torch_out)
    _assert_same(x.grad, tx.grad)
    _assert_same(b.grad, tb.grad)
    _assert_same(getattr(x.detach(), name)(0.5), getattr(torch, name)(tx.detach(), 0.5))


def test_clamp_needs_a_bound_and_promotes_an_integer_input(torch):
    with pytest.raises(RuntimeError, match="at least one of 'min' or 'max'"):
        minidl.tensor([1.0]).clamp()
    out, expected = minidl.tensor([1, 5]).clamp(min=2.5), torch.tensor([1, 5]).clamp(min=2.5)
    assert str(out.dtype) == _torch_dtype_name(expected.dtype)
    np.testing.assert_array_equal(_host(out), expected.cpu().numpy())


# ---- std and var --------------------------------------------------------------------------------------
SPREAD_ARGUMENTS = [  # (positional, keyword): PyTorch's order is (dim, unbiased, keepdim)
    ((), {}),
    ((1,), {}),
    ((0,), {"keepdim": True}),
    ((1, False), {}),
    ((-1, True, True), {}),
    ((False,), {}),
    (((0, 1),), {}),
    ((), {"dim": 1, "correction": 0}),
    ((), {"dim": 1, "correction": 2}),
    ((), {"dim": 0, "correction": 2}),  # n - correction = 0: inf or nan, as in PyTorch
    ((), {"dim": None, "keepdim": True}),
]


@pytest.mark.parametrize("args, kwargs", SPREAD_ARGUMENTS, ids=str)
@pytest.mark.parametrize("name", ["std", "var"])
def test_std_and_var_match_torch_with_their_gradients(name, args, kwargs, torch):
    values = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]])  # the second row is constant: std' is 0 there
    x, tx = leaf(values), torch.tensor(values, requires_grad=True)
    out = getattr(x, name)(*args, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns where n - correction <= 0
        torch_out = getattr(tx, name)(*args, **kwargs)
        _backward_with_weights(out, torch_out, torch)
    assert out.shape == tuple(torch_out.shape)
    _assert_same(out, torch_out)
    _assert_same(x.grad, tx.grad)


@pytest.mark.parametrize("name", ["std", "var"])
def test_std_and_var_refuse_integers_and_two_corrections_as_torch(name, torch):
    with pytest.raises(RuntimeError, match="floating-point"):
        getattr(minidl.tensor([1, 2, 3]), name)()
    with pytest.raises(TypeError):
        getattr(torch.tensor([1.0, 2.0]), name)(0, unbiased=True, correction=1)
    with pytest.raises(TypeError, match="unbiased or correction"):
        getattr(minidl.tensor([1.0, 2.0]), name)(0, unbiased=True, correction=1)


# ---- gather -------------------------------------------------------------------------------------------
GATHER_CASES = [
    (1, [[0, 0], [2, 1]]),
    (0, [[1, 0, 1]]),
    (1, [[0], [1]]),
    (-1, [[2, 2, 2, 0]]),
    (0, [[1, 1, 0], [0, 0, 0]]),
]


@pytest.mark.parametrize("function", ["method", "module"])
@pytest.mark.parametrize("dim, index", GATHER_CASES, ids=str)
def test_gather_matches_torch_and_adds_the_gradient_of_repeated_indices(dim, index, function, torch):
    values = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x, tx = leaf(values), torch.tensor(values, requires_grad=True)
    picks = minidl.tensor(index)
    out = x.gather(dim, picks) if function == "method" else minidl.gather(x, dim, picks)
    torch_out = torch.gather(tx, dim, torch.tensor(index))
    _backward_with_weights(out, torch_out, torch)
    assert out.shape == tuple(torch_out.shape)
    _assert_same(out, torch_out)
    _assert_same(x.grad, tx.grad)


GATHER_ERRORS = {
    "out_of_bounds": (1, [[0, 3]], r"index 3 is out of bounds for dimension 1 with size 3"),
    "negative": (1, [[-1, 0]], r"index -1 is out of bounds for dimension 1"),
    "fewer_dimensions": (1, [0, 1], r"index has 1 dimensions .* input has 2"),
    "float_index": (1, [[0.0, 1.0]], r"int64 or int32 .* float32"),
    "larger_outside_dim": (1, [[0], [1], [0]], r"larger than input of shape \(2, 3\) in dimension 0"),
    "dim_out_of_range": (2, [[0]], r"dimension 2 is out of range"),
}


@pytest.mark.parametrize("case", GATHER_ERRORS)
def test_gather_rejects_a_bad_index_or_dim_like_torch(case, torch):
    dim, index, message = GATHER_ERRORS[case]
    with pytest.raises(Exception) as expected:
        torch.gather(torch.ones(2, 3), dim, torch.tensor(index))
    with pytest.raises(expected.type, match=message):
        minidl.gather(minidl.ones(2, 3), dim, minidl.tensor(index))


# ---- floor division and remainder --------------------------------------------------------------------
FLOAT_GRID = [7.0, -7.0, 0.0, 5.5, -5.5, 3.0, 2.0, -2.0, 1e-30, INF, -INF, NAN]
INT_GRID = ([-7, -5, -1, 0, 1, 5, 7], [-3, -2, -1, 1, 2, 3])


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("op", ["//", "%", "floor_divide", "remainder"])
def test_floor_division_and_remainder_match_torch_on_a_grid(op, dtype, torch):
    dividends, divisors = (FLOAT_GRID, FLOAT_GRID) if dtype != "int64" else INT_GRID
    a, b = (np.array(v, dtype=dtype) for v in np.meshgrid(dividends, divisors))
    compute = {
        "//": operator.floordiv, "%": operator.mod,
        "floor_divide": lambda x, y: x.floor_divide(y), "remainder": lambda x, y: x.remainder(y),
    }[op]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # division by zero gives inf or nan silently, as in PyTorch
        out = compute(minidl.tensor(a), minidl.tensor(b))
    expected = compute(torch.from_numpy(a), torch.from_numpy(b))
    assert str(out.dtype) == _torch_dtype_name(expected.dtype)
    np.testing.assert_array_equal(_host(out), expected.cpu().numpy())


def test_remainder_gradients_are_one_and_minus_floor_of_the_quotient_as_torch(torch):
    a, b = np.meshgrid([7.3, -7.3, 0.4, 5.5, -2.2], [2.0, -2.0, 0.7, -3.1, 10.0])
    x, y = leaf(a), leaf(b)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, torch_out = x % y, tx % ty
    _backward_with_weights(out, torch_out, torch)
    _assert_same(out, torch_out)
    _assert_same(x.grad, tx.grad)
    _assert_same(y.grad, ty.grad)


DERIVATIVE_NOT_IMPLEMENTED = {  # PyTorch records these in the graph, then refuses to differentiate them
    "tensor // number": lambda x: x // 2,
    "number // tensor": lambda x: 5.0 // x,
    "tensor // tensor": lambda x: x.floor_divide(x * 3),
    "number % tensor": lambda x: 7.0 % x,
}


@pytest.mark.parametrize("form", DERIVATIVE_NOT_IMPLEMENTED)
def test_floor_division_and_number_remainder_have_no_derivative_as_in_torch(form, torch):
    values = np.array([2.5, -3.0])
    x, tx = leaf(values), torch.tensor(values, requires_grad=True)
    out, torch_out = DERIVATIVE_NOT_IMPLEMENTED[form](x), DERIVATIVE_NOT_IMPLEMENTED[form](tx)
    assert out.requires_grad == torch_out.requires_grad
    with pytest.raises(RuntimeError, match="derivative"):
        torch_out.sum().backward()
    with pytest.raises(RuntimeError, match="derivative .* not implemented, as in PyTorch"):
        out.sum().backward()


@pytest.mark.parametrize("op", [operator.floordiv, operator.mod])
def test_integer_division_by_zero_raises_as_torch(op, torch):
    with pytest.raises(RuntimeError):
        op(torch.tensor([7, 3]), torch.tensor([2, 0]))
    with pytest.raises(RuntimeError, match="integer division by zero"):
        op(minidl.tensor([7, 3]), minidl.tensor([2, 0]))
