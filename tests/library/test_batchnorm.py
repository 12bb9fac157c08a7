"""Batch normalization (nn.BatchNorm1d, nn.BatchNorm2d, F.batch_norm) against PyTorch 2.13.

Values, input and parameter gradients, running statistics and num_batches_tracked after several
training steps, the train/eval switch, state_dict keys, reprs and errors all come from the ``torch``
fixture at test time; the fused gradient is also checked against finite differences in float64.
"""

import numpy as np
import pytest

import minidl
import minidl.nn as nn
import minidl.nn.functional as F
from conftest import leaf

# (layer, input shape): (N, C), (N, C, L) and (N, C, H, W)
LAYERS = {
    "1d-features": ("BatchNorm1d", (6, 3)),
    "1d-sequences": ("BatchNorm1d", (4, 3, 5)),
    "2d-images": ("BatchNorm2d", (3, 4, 5, 2)),
}
OPTIONS = {
    "default": {},
    "cumulative": {"momentum": None},
    "momentum-eps": {"momentum": 0.3, "eps": 1e-3},
    "no-affine": {"affine": False},
    "no-bias": {"bias": False},
    "untracked": {"track_running_stats": False},
}


def _pair(torch, name, shape, options):
    channels = shape[1]
    return getattr(nn, name)(channels, **options), getattr(torch.nn, name)(channels, **options)


def _host(value):
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def _step(torch, ours, theirs, x, upstream):
    """One forward and backward pass through both layers; their outputs and input gradients."""
    mine, reference = leaf(x), torch.tensor(x, requires_grad=True)
    out, expected = ours(mine), theirs(reference)
    (out * minidl.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    return (out, expected), (mine.grad, reference.grad)


def _assert_state_matches(ours, theirs):
    state, expected = ours.state_dict(), theirs.state_dict()
    assert list(state) == list(expected)
    for key, value in expected.items():
        assert str(state[key].dtype) == str(value.dtype).replace("torch.", ""), key
        np.testing.assert_allclose(_host(state[key]), value.cpu().numpy(), rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("layer", LAYERS)
def test_training_steps_then_evaluation_match_pytorch(layer, option, torch, rng):
    """Outputs, gradients and running statistics after each of several steps, then in eval and back."""
    name, shape = LAYERS[layer]
    ours, theirs = _pair(torch, name, shape, OPTIONS[option])
    for step in range(4):
        x = (rng.normal(size=shape) * (1 + step) + step).astype(np.float32)
        upstream = rng.normal(size=shape).astype(np.float32)
        (out, expected), (grad, expected_grad) = _step(torch, ours, theirs, x, upstream)
        np.testing.assert_allclose(_host(out), _host(expected), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(_host(grad), expected_grad.cpu().numpy(), rtol=1e-4, atol=1e-5)
        for mine, reference in zip(ours.parameters(), theirs.parameters()):
            np.testing.assert_allclose(_host(mine.grad), reference.grad.cpu().numpy(), rtol=1e-4, atol=1e-5)
        _assert_state_matches(ours, theirs)
    for mode in ("eval", "train"):
        getattr(ours, mode)(), getattr(theirs, mode)()
        x = rng.normal(size=shape).astype(np.float32)
        (out, expected), (grad, expected_grad) = _step(torch, ours, theirs, x, np.ones(shape, np.float32))
        np.testing.assert_allclose(_host(out), _host(expected), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(_host(grad), expected_grad.cpu().numpy(), rtol=1e-4, atol=1e-5)
        _assert_state_matches(ours, theirs)


@pytest.mark.parametrize("option", OPTIONS)
def test_repr_state_dict_keys_and_buffers_as_pytorch(option, torch):
    ours, theirs = _pair(torch, "BatchNorm2d", (2, 16), OPTIONS[option])
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
        assert (getattr(ours, name) is None) == (getattr(theirs, name) is None), name


def test_a_model_with_batch_norm_has_pytorchs_state_dict_keys(torch):
    ours = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]


def test_running_statistics_use_the_unbiased_variance(rng):
    x = rng.normal(size=(5, 2)) * 3
    layer = nn.BatchNorm1d(2, momentum=1.0)
    layer(minidl.tensor(x.astype(np.float32)))
    np.testing.assert_allclose(_host(layer.running_var), x.var(axis=0, ddof=1), rtol=1e-5)
    np.testing.assert_allclose(_host(layer.running_mean), x.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_buffers_update_under_no_grad_and_not_in_eval(torch, rng):
    """As in PyTorch, training mode updates the running statistics even inside no_grad; eval never does."""
    ours, theirs = _pair(torch, "BatchNorm1d", (4, 3), {})
    x = rng.normal(size=(4, 3)).astype(np.float32)
    with minidl.no_grad(), torch.no_grad():
        ours(minidl.tensor(x)), theirs(torch.tensor(x))
    _assert_state_matches(ours, theirs)
    before = {k: _host(v).copy() for k, v in ours.state_dict().items()}
    ours.eval()(minidl.tensor(x))
    assert all(np.array_equal(before[k], _host(v)) for k, v in ours.state_dict().items())


def test_state_dict_from_pytorch_loads_and_normalizes_as_pytorch(torch, rng):
    ours, theirs = _pair(torch, "BatchNorm2d", (2, 3), {})
    for _ in range(3):
        theirs(torch.tensor(rng.normal(size=(4, 3, 2, 2)).astype(np.float32) * 2 + 1))
    ours.load_state_dict({k: v.cpu().numpy() for k, v in theirs.state_dict().items()})
    _assert_state_matches(ours, theirs)
    x = rng.normal(size=(2, 3, 2, 2)).astype(np.float32)
    out, expected = ours.eval()(minidl.tensor(x)), theirs.eval()(torch.tensor(x))
    np.testing.assert_allclose(_host(out), _host(expected), rtol=1e-5, atol=1e-6)


CALLS = {  # (input shape, running statistics?, weight?, bias?, training, momentum, eps)
    "training-all": ((5, 3, 4), True, True, True, True, 0.2, 1e-5),
    "training-no-stats": ((5, 3), False, True, False, True, 0.1, 1e-5),
    "training-no-params": ((4, 2, 3, 3), True, False, False, True, 0.1, 1e-3),
    "eval": ((5, 3, 4), True, True, True, False, 0.1, 1e-5),
    "eval-no-params": ((2, 3), True, False, False, False, 0.1, 1e-5),
}


def _functional_arguments(case, make):
    """(input, running_mean, running_var, weight, bias) for ``case``, each made by ``make(array, requires_grad)``."""
    shape, stats, weight, bias = CALLS[case][:4]
    rng, channels = np.random.default_rng(3), shape[1]
    return (
        make(rng.normal(size=shape) * 2 + 0.5, True),
        make(rng.normal(size=channels), False) if stats else None,
        make(rng.uniform(0.5, 2, size=channels), False) if stats else None,
        make(rng.uniform(0.5, 2, size=channels), True) if weight else None,
        make(rng.normal(size=channels), True) if bias else None,
    )


@pytest.mark.parametrize("case", CALLS)
def test_functional_batch_norm_matches_pytorch(case, torch):
    training, momentum, eps = CALLS[case][4:]
    ours = _functional_arguments(case, lambda a, g: leaf(a.astype(np.float32), g))
    theirs = _functional_arguments(case, lambda a, g: torch.tensor(a.astype(np.float32), requires_grad=g))
    out = F.batch_norm(*ours, training=training, momentum=momentum, eps=eps)
    expected = torch.nn.functional.batch_norm(*theirs, training=training, momentum=momentum, eps=eps)
    np.testing.assert_allclose(_host(out), _host(expected), rtol=1e-5, atol=1e-5)
    upstream = np.random.default_rng(4).normal(size=out.shape).astype(np.float32)
    (out * minidl.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    for mine, reference in zip(ours, theirs):
        if reference is None:
            continue
        # the input, the parameters and the running statistics (updated in place)
        np.testing.assert_allclose(_host(mine), _host(reference), rtol=1e-5, atol=1e-6)
        if reference.requires_grad:
            np.testing.assert_allclose(_host(mine.grad), reference.grad.cpu().numpy(), rtol=1e-4, atol=1e-5)
    assert out.grad_fn.name() == expected.grad_fn.name() == "NativeBatchNormBackward0"


@pytest.mark.parametrize("case", CALLS)
def test_fused_gradient_passes_gradcheck(case):
    training, momentum, eps = CALLS[case][4:]
    x, mean, var, weight, bias = _functional_arguments(case, lambda a, g: leaf(a.astype(np.float64), g))
    params = {name: p for name, p in (("weight", weight), ("bias", bias)) if p is not None}

    def normalize(x, *given):
        with minidl.no_grad():  # fresh copies: the running statistics must not drift between evaluations
            stats = [None if s is None else s.clone() for s in (mean, var)]
        return F.batch_norm(x, *stats, training=training, momentum=momentum, eps=eps, **dict(zip(params, given)))

    assert minidl.gradcheck(normalize, [x, *params.values()])


def test_float16_input_with_a_float32_layer_computes_in_float32(torch, rng):
    x = rng.normal(size=(8, 3)).astype(np.float16)
    ours, theirs = _pair(torch, "BatchNorm1d", x.shape, {})
    out, expected = ours(minidl.tensor(x)), theirs(torch.tensor(x))
    assert str(out.dtype) == "float16"
    np.testing.assert_allclose(_host(out).astype(np.float32), _host(expected).astype(np.float32), rtol=1e-3, atol=1e-3)
    _assert_state_matches(ours, theirs)


BAD_CALLS = {  # (layer, input shape, mode, input dtype)
    "batch-of-one-features": ("BatchNorm1d", (1, 3), "train", np.float32),
    "batch-of-one-sequence-of-one": ("BatchNorm1d", (1, 3, 1), "train", np.float32),
    "one-dimensional-input": ("BatchNorm1d", (3,), "train", np.float32),
    "images-into-1d": ("BatchNorm1d", (2, 3, 2, 2), "train", np.float32),
    "sequences-into-2d": ("BatchNorm2d", (2, 3, 4), "train", np.float32),
    "wrong-channel-count": ("BatchNorm2d", (2, 5, 2, 2), "eval", np.float32),
    "float64-input": ("BatchNorm1d", (4, 3), "train", np.float64),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_input_raises_pytorchs_error_type(case, torch):
    name, shape, mode, dtype = BAD_CALLS[case]
    ours, theirs = getattr(nn, name)(3), getattr(torch.nn, name)(3)
    getattr(ours, mode)(), getattr(theirs, mode)()
    x = np.ones(shape, dtype)
    with pytest.raises(Exception) as expected:
        theirs(torch.tensor(x))
    with pytest.raises(expected.type) as raised:
        ours(minidl.tensor(x))
    if expected.type is ValueError:
        assert str(expected.value).split(",")[0].split("(got")[0] in str(raised.value)
    assert np.array_equal(_host(ours.running_mean), np.zeros(3)) and int(ours.num_batches_tracked.item()) == 0


def test_a_batch_of_one_is_fine_in_eval_mode(torch):
    ours, theirs = _pair(torch, "BatchNorm1d", (1, 3), {})
    x = np.arange(3, dtype=np.float32)[None]
    np.testing.assert_allclose(_host(ours.eval()(minidl.tensor(x))), _host(theirs.eval()(torch.tensor(x))), rtol=1e-6)


FUNCTIONAL_ERRORS = {  # called with (functional module, ones factory, input) of either library
    "eval-without-running-stats": lambda f, ones, x: f.batch_norm(x, None, None, training=False),
    "running-mean-too-long": lambda f, ones, x: f.batch_norm(x, ones(4), ones(3), training=True),
    "weight-too-short": lambda f, ones, x: f.batch_norm(x, ones(3), ones(3), weight=ones(2), training=True),
}


@pytest.mark.parametrize("case", FUNCTIONAL_ERRORS)
def test_functional_errors_as_pytorch(case, torch):
    x = np.ones((4, 3), np.float32)
    with pytest.raises(Exception) as expected:
        FUNCTIONAL_ERRORS[case](torch.nn.functional, torch.ones, torch.tensor(x))
    with pytest.raises(expected.type, match=str(expected.value).split(" ")[0]):
        FUNCTIONAL_ERRORS[case](F, minidl.ones, minidl.tensor(x))


@pytest.mark.parametrize("bad", [0, -2, 2.5, "3"])
def test_num_features_must_be_a_positive_int(bad):
    with pytest.raises((TypeError, ValueError), match="num_features"):
        nn.BatchNorm2d(bad)
