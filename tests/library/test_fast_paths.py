"""The per-operation fast paths give the results of the readable formulas they replace, bit for bit,
and PyTorch's: ReLU through integer bits, exact GELU in place, Adam and SGD in work arrays, the fused
squared error, the cached device and node-name look-ups."""

import math

import numpy as np
import pytest

import minidl
import minidl.nn.functional as F
from minidl import backend

from conftest import leaf

FLOATS = [np.float16, np.float32, np.float64]
SPECIAL = [-np.inf, -3.5, -1e-30, -0.0, 0.0, 1e-30, 2.25, np.inf]


def _host(tensor_or_array):
    array = tensor_or_array.data if isinstance(tensor_or_array, minidl.Tensor) else tensor_or_array
    return backend.of(array).to_host(array)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("nan", [None, np.nan, -np.nan])
@pytest.mark.parametrize("size", [50, 20000])  # below and above the size where the integer maximum takes over
def test_relu_equals_maximum_with_zero_and_keeps_nan(rng, dtype, nan, size):
    values = np.concatenate([SPECIAL, rng.normal(size=size)] + ([] if nan is None else [[nan]])).astype(dtype)
    x = leaf(values)
    y = x.relu()
    expected = np.maximum(values, 0)
    np.testing.assert_array_equal(_host(y), expected)  # NaN where NaN, and -0.0 == 0.0
    assert _host(y).dtype == dtype
    upstream = rng.normal(size=values.shape).astype(dtype)
    y.backward(leaf(upstream, False))
    np.testing.assert_array_equal(_host(x.grad), upstream * (values > 0))
    assert y.grad_fn.name() == "ReluBackward0"


@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (2, 3, 8, 8)])
def test_relu_of_a_strided_view_matches_pytorch(rng, torch, shape):
    values = rng.normal(size=shape).astype(np.float32)
    x = leaf(values)
    view = x.transpose(0, -1) if len(shape) > 1 else x[::2]
    y = view.relu()
    reference = torch.tensor(values, requires_grad=True)
    expected = (reference.transpose(0, -1) if len(shape) > 1 else reference[::2]).relu()
    np.testing.assert_array_equal(_host(y), expected.detach().numpy())
    y.sum().backward()
    expected.sum().backward()
    np.testing.assert_array_equal(_host(x.grad), reference.grad.numpy())


def _erf_one_line(x):
    sign, a = np.sign(x), np.abs(x)
    t = 1 / (1 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1 - poly * np.exp(-a * a))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_gelu_in_place_equals_the_one_line_formula_bit_for_bit(rng, dtype):
    values = np.concatenate([[0.0, -0.0, 1e-8, -40.0, 40.0], rng.normal(scale=3, size=200)]).astype(dtype)
    upstream = rng.normal(size=values.shape).astype(dtype)
    x = leaf(values)
    y = F.gelu(x)
    y.backward(leaf(upstream, False))
    cdf = 0.5 * (1 + _erf_one_line(values / math.sqrt(2)))
    density = np.exp(-0.5 * values * values) / math.sqrt(2 * math.pi)
    np.testing.assert_array_equal(_host(y), (values * cdf).astype(dtype))
    np.testing.assert_array_equal(_host(x.grad), upstream * (cdf + values * density))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_pytorch(rng, torch, approximate):
    values = rng.normal(scale=3, size=(4, 33)).astype(np.float32)
    x = leaf(values)
    y = F.gelu(x, approximate=approximate)
    y.sum().backward()
    reference = torch.tensor(values, requires_grad=True)
    expected = torch.nn.functional.gelu(reference, approximate=approximate)
    expected.sum().backward()
    np.testing.assert_allclose(_host(y), expected.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(_host(x.grad), reference.grad.numpy(), atol=5e-6)  # float32: tanh rounds 1 - t^2


def _textbook_steps(kind, options, weight, grads):
    """The optimizer's rule in plain NumPy expressions, one step per gradient: the reference."""
    weight, state = weight.copy(), {}
    for step, grad in enumerate(grads, start=1):
        if options.get("weight_decay") and kind != "AdamW":
            grad = grad + options["weight_decay"] * weight
        if kind == "SGD":
            momentum = options.get("momentum", 0)
            if momentum:
                state["b"] = grad.copy() if "b" not in state else state["b"] * momentum + (1 - 0.0) * grad
                grad = grad + momentum * state["b"] if options.get("nesterov") else state["b"]
            weight = weight - options["lr"] * grad
            continue
        if kind == "AdamW":
            weight = weight * (1 - options["lr"] * options["weight_decay"])
        beta1, beta2 = 0.9, 0.999
        m, v = state.get("m", np.zeros_like(weight)), state.get("v", np.zeros_like(weight))
        state["m"] = m = m * beta1 + (1 - beta1) * grad
        state["v"] = v = v * beta2 + (1 - beta2) * grad * grad
        denominator = np.sqrt(v) / math.sqrt(1 - beta2**step) + options.get("eps", 1e-8)
        weight = weight - (options["lr"] / (1 - beta1**step)) * m / denominator
    return weight


OPTIMIZER_CASES = [
    ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.05, momentum=0.9)), ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.01)), ("Adam", dict(lr=1e-2)), ("Adam", dict(lr=1e-3, weight_decay=0.1)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1)),
]


@pytest.mark.parametrize("kind, options", OPTIMIZER_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizer_in_place_step_equals_the_textbook_expressions_bit_for_bit(rng, kind, options, dtype):
    start = rng.normal(size=(5, 3)).astype(dtype)
    grads = [rng.normal(size=start.shape).astype(dtype) for _ in range(3)]
    same_shape = leaf(rng.normal(size=start.shape).astype(dtype))  # shares the work arrays of its shape
    weight = leaf(start)
    optimizer = getattr(minidl.optim, kind)([weight, same_shape], **options)
    for grad in grads:
        weight.grad, same_shape.grad = leaf(grad, False), leaf(-grad, False)
        optimizer.step()
    np.testing.assert_array_equal(_host(weight), _textbook_steps(kind, options, start, grads))


SHAPES = [(5, 3), (3,), (2, 2, 4), (1,)]


def _stepped(kind, options, starts, grads_per_step, together):
    """Parameters after Adam steps with all parameters in one optimizer (``together``) or one optimizer
    each; ``grads_per_step`` lists, per step, one gradient or None (no gradient that step) per parameter."""
    params = [leaf(start) for start in starts]
    make = getattr(minidl.optim, kind)
    optimizers = [make(params, **options)] if together else [make([p], **options) for p in params]
    for grads in grads_per_step:
        for p, grad in zip(params, grads):
            p.grad = None if grad is None else leaf(grad, False)
        for optimizer in optimizers:
            optimizer.step()
    return [_host(p) for p in params], optimizers


ADAM_CASES = [("Adam", dict(lr=1e-2)), ("Adam", dict(lr=1e-3, weight_decay=0.1)), ("AdamW", dict(lr=1e-2, weight_decay=0.1))]


@pytest.mark.parametrize("kind, options", ADAM_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("skip", [None, 1])  # parameter 1 has no gradient at step 2: the steps part ways
def test_adam_on_a_whole_group_equals_adam_on_each_parameter_bit_for_bit(rng, kind, options, dtype, skip):
    starts = [rng.normal(size=shape).astype(dtype) for shape in SHAPES]
    grads_per_step = [[rng.normal(size=shape).astype(dtype) for shape in SHAPES] for _ in range(4)]
    if skip is not None:
        grads_per_step[1][skip] = None
    together, optimizer = _stepped(kind, options, starts, grads_per_step, True)
    alone, _ = _stepped(kind, options, starts, grads_per_step, False)
    for a, b in zip(together, alone):
        np.testing.assert_array_equal(a, b)
    for p, shape in zip(optimizer[0].param_groups[0]["params"], SHAPES):
        assert optimizer[0].state[p]["exp_avg"].shape == shape  # each state is the parameter's own shape


def test_adam_group_rebuilds_when_a_state_is_replaced(rng):
    starts = [rng.normal(size=shape).astype(np.float32) for shape in SHAPES]
    params = [leaf(start) for start in starts]
    reference = [leaf(start) for start in starts]
    optimizer, per_parameter = minidl.optim.Adam(params, lr=1e-2), [minidl.optim.Adam([p], lr=1e-2) for p in reference]
    for step in range(3):
        grads = [rng.normal(size=shape).astype(np.float32) for shape in SHAPES]
        for p, q, grad in zip(params, reference, grads):
            p.grad, q.grad = leaf(grad, False), leaf(grad, False)
        if step == 2:  # a state set from outside, as loading a checkpoint does
            for p, q, each in zip(params, reference, per_parameter):
                fresh = backend.xp(p.data).full_like(p.data, 0.5)
                optimizer.state[p]["exp_avg"], each.state[q]["exp_avg"] = fresh, fresh.copy()
        optimizer.step()
        for each in per_parameter:
            each.step()
    for p, q in zip(params, reference):
        np.testing.assert_array_equal(_host(p), _host(q))


def test_adam_with_a_parameter_listed_twice_steps_it_twice_as_before(rng):
    start, grad = rng.normal(size=(3,)).astype(np.float32), rng.normal(size=(3,)).astype(np.float32)
    twice, single = leaf(start), leaf(start)
    with pytest.warns(UserWarning, match="duplicate"):
        optimizer = minidl.optim.Adam([twice, twice], lr=0.1)
    twice.grad, single.grad = leaf(grad, False), leaf(grad, False)
    optimizer.step()
    reference = minidl.optim.Adam([single], lr=0.1)
    reference.step()
    reference.step()  # the same gradient again, at step 2
    np.testing.assert_array_equal(_host(twice), _host(single))
    assert optimizer.state[twice]["step"] == 2


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_mse_equals_the_composed_operations_bit_for_bit(rng, reduction):
    a, b = (rng.normal(size=(6, 4)).astype(np.float32) for _ in range(2))
    upstream = rng.normal(size=(6, 4)).astype(np.float32) if reduction == "none" else None
    fused, composed = (leaf(a), leaf(b)), (leaf(a), leaf(b))
    loss = F.mse_loss(*fused, reduction=reduction)
    difference = composed[0] - composed[1]
    squares = difference * difference
    expected = {"mean": squares.mean(), "sum": squares.sum(), "none": squares}[reduction]
    np.testing.assert_array_equal(_host(loss), _host(expected))
    loss.backward(None if upstream is None else leaf(upstream, False))
    expected.backward(None if upstream is None else leaf(upstream, False))
    for ours, theirs in zip(fused, composed):
        np.testing.assert_array_equal(_host(ours.grad), _host(theirs.grad))


def test_mse_matches_pytorch(rng, torch):
    a, b = (rng.normal(size=(8, 2)).astype(np.float32) for _ in range(2))
    x, target = leaf(a), leaf(b)
    loss = F.mse_loss(x, target)
    loss.backward()
    reference, reference_target = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    expected = torch.nn.functional.mse_loss(reference, reference_target)
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    np.testing.assert_allclose(_host(x.grad), reference.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(_host(target.grad), reference_target.grad.numpy(), rtol=1e-6)


def test_the_device_of_each_array_type_is_remembered_correctly():
    device_array = backend.xp().zeros(3)
    for _ in range(2):  # the first call works it out, the second reads it back
        assert backend.of(np.zeros(3)) is backend.host()
        assert backend.of(1.5, np.float32(2)) is backend.host()
        assert backend.of(np.zeros(2), device_array) is backend.current()
        assert backend.on_gpu(device_array) == (backend.current() is not backend.host())
        assert not backend.on_gpu(np.zeros(1))


def test_node_names_stay_those_of_each_operation():
    x, w = leaf(np.ones((2, 3))), leaf(np.ones((4, 3)))
    for _ in range(2):  # names are remembered per operation after the first
        assert (x * x).grad_fn.name() == "MulBackward0"
        assert (x + x).grad_fn.name() == "AddBackward0"
        assert F.linear(x, w).grad_fn.name() == "LinearBackward0"
        assert x.tanh().grad_fn.name() == "TanhBackward0"
