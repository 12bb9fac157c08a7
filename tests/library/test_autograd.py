"""Every differentiable operation against central finite differences, in float64, over several shapes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl
from minidl import gradcheck

from conftest import leaf


def _repeating_index(shape):
    """An int64 index of ``shape`` into the last dimension, with repeats: (k^2 mod n) for k = 0, 1, ..."""
    flat = np.arange(int(np.prod(shape))) ** 2 % shape[-1]
    return minidl.tensor(flat.reshape(shape))


UNARY = {
    "neg": lambda x: -x,
    "exp": lambda x: x.exp(),
    "log": lambda x: (x * x + 0.5).log(),
    "sqrt": lambda x: (x * x + 0.5).sqrt(),
    "abs": lambda x: x.abs(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "clip": lambda x: x.clip(-0.3, 0.4),
    "clamp_min": lambda x: x.clamp_min(-0.3),
    "clamp_max": lambda x: x.clamp_max(0.4),
    "pow": lambda x: (x * x + 0.5) ** 1.5,
    "rpow": lambda x: 2.0**x,
    "square": lambda x: x**2,
    "pow_zero": lambda x: x**0 + x,
    "remainder_by_number": lambda x: x % 0.7,
    "scalar_div": lambda x: 3.0 / (x * x + 1.0),
    "sum": lambda x: x.sum(),
    "sum_dim_keepdim": lambda x: x.sum(dim=-1, keepdim=True),
    "sum_dim": lambda x: x.sum(dim=0),
    "mean": lambda x: x.mean(),
    "mean_dim": lambda x: x.mean(dim=-1),
    "var": lambda x: x.var(dim=-1),
    "var_correction": lambda x: x.var(dim=0, correction=0),
    "std": lambda x: x.std(),
    "std_dim_keepdim": lambda x: x.std(dim=-1, keepdim=True),
    "std_biased": lambda x: x.std(0, False),
    "max": lambda x: x.max(),
    "min": lambda x: x.min(),
    "max_dim": lambda x: x.max(dim=-1).values,
    "min_dim_keepdim": lambda x: x.min(dim=0, keepdim=True).values,
    "reshape": lambda x: x.reshape(-1),
    "transpose": lambda x: x.transpose(0, -1) * leaf(np.arange(x.numel(), dtype=np.float64).reshape(x.T.shape)),
    "T": lambda x: x.T,
    "flatten": lambda x: x.flatten(),
    "unsqueeze_squeeze": lambda x: x.unsqueeze(1).squeeze(1) * 2,
    "getitem_slice": lambda x: x[1:],
    "getitem_repeated_index": lambda x: x[[0, 1, 0, 0]],
    "getitem_negative_step": lambda x: x[::-1],
    "softmax": lambda x: x.softmax(-1),
    "log_softmax": lambda x: x.log_softmax(0),
    "clone": lambda x: x.clone() * x,
    "expand": lambda x: x.unsqueeze(0).expand(3, *x.shape),
    "gather": lambda x: x.gather(-1, _repeating_index(x.shape)),
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "log2": lambda x: (x * x + 0.5).log2(),
    "log10": lambda x: (x * x + 0.5).log10(),
    "log1p": lambda x: (x * x).log1p(),
    "expm1": lambda x: x.expm1(),
    "rsqrt": lambda x: (x * x + 0.5).rsqrt(),
    "reciprocal": lambda x: (x * x + 0.5).reciprocal(),
    "square_method": lambda x: x.square(),
    "floor_times_x": lambda x: x.floor() * x,  # floor's own gradient is 0, so d/dx is floor(x)
    "ceil_times_x": lambda x: x.ceil() * x,
    "trunc_times_x": lambda x: x.trunc() * x,
    "round_times_x": lambda x: x.round(decimals=1) * x,
    "sign_times_x": lambda x: x.sign() * x,
    "div_floor_times_x": lambda x: x.div(0.7, rounding_mode="floor") * x,
    "cumsum": lambda x: x.cumsum(-1),
    "cumsum_first": lambda x: x.cumsum(0),
    "t": lambda x: x.reshape(x.shape[0], -1).t(),
    "add_alpha": lambda x: x.add(x * x, alpha=-2),
    "neg_method": lambda x: x.neg(),
    "pow_method": lambda x: (x * x + 0.5).pow(0.7),
}

SHAPES = [(3,), (2, 3), (2, 3, 4)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_gradients_match_finite_differences(name, shape, rng):
    values = rng.normal(size=shape)
    values[np.abs(values) < 0.05] += 0.2  # keep away from kinks (abs, relu, clip)
    values[np.abs(values - 0.4) < 0.05] += 0.2
    values[np.abs(values + 0.3) < 0.05] += 0.2
    x = leaf(values)
    assert gradcheck(UNARY[name], [x])


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 0.5),
    "pow": lambda a, b: (a * a + 0.5) ** b,
    "where": lambda a, b: minidl.where(a > 0, a, b),
    "remainder": lambda a, b: a % (b * b + 0.5),
    "clamp_tensor_bounds": lambda a, b: a.clamp(min=b - 0.5, max=b + 0.5),
    "clamp_min_tensor": lambda a, b: a.clamp_min(b),
    "maximum": lambda a, b: a.maximum(b),
    "minimum": lambda a, b: a.minimum(b),
    "max_other": lambda a, b: a.max(b),
    "add_alpha": lambda a, b: a.add(b, alpha=-1.5),
    "sub_alpha": lambda a, b: a.sub(b, alpha=2),
    "mul_method": lambda a, b: a.mul(b),
    "div_method": lambda a, b: a.div(b * b + 0.5),
    "div_trunc_times": lambda a, b: a.div(b * b + 0.5, rounding_mode="trunc") * a,
}

broadcastable_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=broadcastable_pairs, seed=st.integers(0, 2**16))
@pytest.mark.parametrize("name", BINARY)
def test_binary_gradients_through_broadcasting(name, shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = (leaf(rng.normal(size=shape)) for shape in shapes.input_shapes)
    assert gradcheck(BINARY[name], [a, b])


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((1, 2, 3), (5, 3, 2)),
    ((4,), (2, 4, 3)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_gradients_with_numpy_semantics(shapes, rng):
    a, b = (leaf(rng.normal(size=s)) for s in shapes)
    out = a @ b
    assert out.shape == np.matmul(np.ones(shapes[0]), np.ones(shapes[1])).shape
    assert gradcheck(lambda x, y: x @ y, [a, b])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack_gradients(dim, rng):
    a, b = leaf(rng.normal(size=(2, 3))), leaf(rng.normal(size=(2, 3)))
    assert gradcheck(lambda x, y: minidl.cat([x, y * 2], dim=dim), [a, b])
    assert gradcheck(lambda x, y: minidl.stack([x, y * 2], dim=dim), [a, b])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind_gradient(dim, rng):
    x = leaf(rng.normal(size=(3, 2, 4)))
    weights = [leaf(rng.normal(size=s), requires_grad=False) for s in (x.unbind(dim)[0].shape,) * x.shape[dim]]
    assert gradcheck(lambda t: minidl.stack([p * w for p, w in zip(minidl.unbind(t, dim), weights)]), [x])


def test_unbind_gives_the_slices_and_skips_unused_ones():
    x = minidl.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    first, second, third = x.unbind()
    np.testing.assert_array_equal(second.detach().cpu().numpy(), [2.0, 3.0])
    (first * 2 + third).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]])


def test_permute_gradient(rng):
    x = leaf(rng.normal(size=(2, 3, 4)))
    weights = leaf(rng.normal(size=(4, 2, 3)), requires_grad=False)
    assert gradcheck(lambda t: t.permute(2, 0, 1) * weights, [x])


def test_gradient_of_a_repeated_index_adds_up():
    x = minidl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[minidl.tensor([0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [2.0, 0.0, 1.0])


def test_gradients_accumulate_until_zeroed():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [6.0, 6.0])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [2.0, 4.0])


def test_a_value_used_twice_gets_both_gradients():
    x = minidl.tensor(3.0, requires_grad=True)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad.item() == 7.0


def test_no_grad_records_nothing():
    x = minidl.tensor([1.0], requires_grad=True)
    with minidl.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf


def test_a_thousand_step_chain_backpropagates_without_recursion():
    w = minidl.tensor(0.999, requires_grad=True)
    h = minidl.tensor(1.0)
    for _ in range(3000):
        h = (h * w).tanh() + 0.001 * h
    h.backward()
    assert np.isfinite(w.grad.item())


def test_retain_grad_keeps_an_intermediate_gradient():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    hidden = (x * 2).retain_grad()
    (hidden * hidden).sum().backward()
    np.testing.assert_array_equal(hidden.grad.cpu().numpy(), [4.0, 8.0])


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*gradient="):
        (x * 2).backward()
    (x * 2).backward(minidl.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [2.0, 20.0])


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        minidl.ones(2, 3) @ minidl.ones(4, 5)


@pytest.mark.parametrize(
    "data, dtype",
    [([1.0, 2.0], np.float32), (np.array([1.0, 2.0]), np.float64), ([1, 2], np.int64), (2.5, np.float32),
     (np.array([1, 2], dtype=np.int32), np.int32), ([True, False], np.bool_)],
)
def test_dtypes_follow_pytorch(data, dtype):
    assert minidl.tensor(data).dtype == dtype


def test_float32_stays_float32_with_python_scalars():
    x = minidl.tensor([1.0, 2.0])
    assert (x * 2.5 + 1).dtype == np.float32
    assert (2 * x).dtype == np.float32
    assert (minidl.tensor([1, 2]) * 0.5).dtype == np.float32


def test_reflected_operators_and_builtin_sum():
    parts = [minidl.tensor(float(i), requires_grad=True) for i in range(4)]
    total = sum(parts)  # starts from the int 0
    total.backward()
    assert total.item() == 6.0 and all(p.grad.item() == 1.0 for p in parts)
    assert (1 - minidl.tensor(0.25)).item() == 0.75
    assert (1 / minidl.tensor(0.25)).item() == 4.0


def test_comparisons_give_boolean_tensors_without_gradient():
    x = minidl.tensor([1.0, -1.0], requires_grad=True)
    mask = x > 0
    assert mask.dtype == np.bool_ and not mask.requires_grad
    np.testing.assert_array_equal(mask.cpu().numpy(), [True, False])


def test_max_with_dim_returns_values_and_indices():
    values, indices = minidl.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]).max(dim=1)
    np.testing.assert_array_equal(values.cpu().numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(indices.cpu().numpy(), [1, 0])


def test_data_is_assignable_in_place():
    p = minidl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    p.data[...] = minidl.tensor([4.0, 5.0, 6.0]).data
    np.testing.assert_array_equal(p.detach().cpu().numpy(), [4.0, 5.0, 6.0])


def test_numpy_refuses_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match="detach"):
        minidl.tensor([1.0], requires_grad=True).cpu().numpy()


def test_only_float_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        minidl.tensor([1, 2], requires_grad=True)


def test_gradcheck_catches_a_wrong_gradient():
    x = leaf(np.array([0.5, 1.5]))

    def wrong_square(t):
        return minidl.Tensor._from_op(t.data**2, (t,), lambda g: (g * t.data,))  # should be 2 t

    with pytest.raises(minidl.GradcheckError, match="analytic gradient"):
        gradcheck(wrong_square, [x])


@pytest.mark.parametrize("before", [None, [7.0, -3.0]])
def test_gradcheck_leaves_the_inputs_grad_as_it_was(before):
    x = leaf(np.array([0.5, 1.5]))
    if before is not None:
        x.grad = minidl.tensor(before, dtype=minidl.float64)
    assert gradcheck(lambda t: (t * t).sum(), [x])
    if before is None:
        assert x.grad is None
    else:
        np.testing.assert_array_equal(x.grad.cpu().numpy(), before)


def test_gradcheck_needs_float64():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, [minidl.tensor([1.0], requires_grad=True)])


def test_in_place_update_under_no_grad_keeps_the_leaf():
    w = minidl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (w * w).sum().backward()
    with minidl.no_grad():
        w -= 0.25 * w.grad
    assert w.requires_grad and w.is_leaf
    np.testing.assert_array_equal(w.detach().cpu().numpy(), [0.5, 1.0])
    w.grad.zero_()
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.cpu().numpy(), [1.0, 2.0])


def test_in_place_change_of_a_leaf_that_requires_grad_is_refused_while_recording():
    w = minidl.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w += 1


def test_in_place_ops_on_plain_tensors_change_them():
    x = minidl.tensor([1.0, 2.0])
    alias = x
    x *= 3
    x /= 2
    x += 1
    assert alias is x
    np.testing.assert_array_equal(x.cpu().numpy(), [2.5, 4.0])
