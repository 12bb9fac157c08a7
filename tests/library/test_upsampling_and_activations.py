"""Upsampling (F.interpolate, nn.Upsample), nn.Unflatten and the activations ReLU, LeakyReLU, ELU and
SiLU (with inplace=True) against PyTorch 2.13: values, gradients, reprs and errors from the ``torch``
fixture at test time, gradients also against finite differences in float64.
"""

import numpy as np
import pytest

import minidl
import minidl.nn as nn
import minidl.nn.functional as F
from minidl import autograd
from conftest import leaf


def _host(value):
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def _both(torch, function, torch_function, x, rng, **kwargs):
    """Run both functions on the same input and upstream gradient: (ours, theirs, our grad, their grad)."""
    mine, reference = leaf(x), torch.tensor(x, requires_grad=True)
    out, expected = function(mine, **kwargs), torch_function(reference, **kwargs)
    upstream = rng.normal(size=tuple(expected.shape)).astype(x.dtype)
    (out * minidl.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    return out, expected, mine.grad, reference.grad


# ---- F.interpolate and nn.Upsample ------------------------------------------------------------------
MODES = {  # name: (mode, align_corners, input shape)
    "nearest-2d": ("nearest", None, (2, 3, 5, 7)),
    "nearest-exact-2d": ("nearest-exact", None, (2, 3, 5, 7)),
    "bilinear": ("bilinear", False, (2, 3, 5, 7)),
    "bilinear-align-corners": ("bilinear", True, (2, 3, 5, 7)),
    "nearest-1d": ("nearest", None, (2, 3, 9)),
    "linear-1d": ("linear", False, (2, 3, 9)),
    "nearest-3d": ("nearest", None, (1, 2, 3, 4, 5)),
    "trilinear": ("trilinear", True, (1, 2, 3, 4, 5)),
}
RESIZES = {
    "double": {"scale_factor": 2},
    "non-integer": {"scale_factor": 1.7},
    "near-identity": {"scale_factor": 1.3},
    "same-size-by-scale": {"scale_factor": 1.1},  # out == in: PyTorch copies rather than scaling indices
    "double-size-by-scale": {"scale_factor": 2.1},  # out == 2 in: PyTorch halves the index
    "downsample": {"scale_factor": 0.6},
    "recomputed": {"scale_factor": 2.3, "recompute_scale_factor": True},
    "size": {"size": 11},
    "shrink-to-one": {"size": 1},
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("resize", RESIZES)
@pytest.mark.parametrize("mode", MODES)
def test_interpolate_matches_pytorch(mode, resize, dtype, torch, rng):
    name, align_corners, shape = MODES[mode]
    x = rng.normal(size=shape).astype(dtype)
    out, expected, grad, expected_grad = _both(
        torch, F.interpolate, torch.nn.functional.interpolate, x, rng,
        mode=name, align_corners=align_corners, **RESIZES[resize],
    )
    assert out.shape == tuple(expected.shape) and out.dtype == x.dtype
    np.testing.assert_allclose(_host(out), _host(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_host(grad), expected_grad.cpu().numpy(), rtol=1e-5, atol=1e-5)
    assert out.grad_fn.name() == expected.grad_fn.name()


INDEX_CASES = {  # (input spatial size, output size): PyTorch's index rules, their special cases and ties
    "square": ((5, 7), (4, 4)),
    "odd-sizes": ((13, 3), (11, 9)),
    "down-and-up": ((28, 28), (7, 57)),
    "generic-kernel": ((28, 28), (57, 83)),  # H + W > 128: PyTorch's other nearest kernel
    "tall": ((5, 7), (120, 9)),
    "tie-float32-kernel": ((2, 3), (41, 47)),  # (j + 0.5) in / out hits an integer
    "tie-generic-kernel": ((2, 3), (41, 100)),
    "to-one-pixel": ((5, 7), (1, 1)),
    "from-one-pixel": ((1, 1), (3, 5)),
    "line": ((2,), (41,)),
    "long-line": ((28,), (83,)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear"])
@pytest.mark.parametrize("case", INDEX_CASES)
def test_index_rules_match_pytorch(case, mode, dtype, torch):
    """Inputs numbered 0, 1, 2, ... show which input each output reads, so an index off by one fails,
    and the gradient shows where each output's gradient goes back to (PyTorch's backward pass always
    uses its float32 rule)."""
    in_size, size = INDEX_CASES[case]
    mode = {1: "linear", 2: "bilinear"}[len(in_size)] if mode == "linear" else mode
    align_corners = False if "linear" in mode else None
    x = np.arange(np.prod(in_size), dtype=dtype).reshape((1, 1) + in_size)
    mine, reference = leaf(x), torch.tensor(x, requires_grad=True)
    out = F.interpolate(mine, size=size, mode=mode, align_corners=align_corners)
    expected = torch.nn.functional.interpolate(reference, size=size, mode=mode, align_corners=align_corners)
    np.testing.assert_allclose(_host(out), _host(expected), rtol=1e-6, atol=1e-5)
    upstream = np.arange(expected.numel(), dtype=dtype).reshape(tuple(expected.shape)) % 7
    (out * minidl.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(_host(mine.grad), reference.grad.cpu().numpy(), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear", "bilinear-align-corners"])
@pytest.mark.parametrize("resize", [{"scale_factor": 2}, {"size": (5, 3)}, {"scale_factor": (1.5, 0.7)}])
def test_interpolate_gradient_passes_gradcheck(mode, resize, rng):
    name, align_corners, _ = MODES[mode if mode.startswith("bilinear") else mode + "-2d"]
    x = leaf(rng.normal(size=(1, 2, 4, 3)))
    assert minidl.gradcheck(lambda t: F.interpolate(t, mode=name, align_corners=align_corners, **resize), [x])


UPSAMPLES = [
    {"scale_factor": 2},
    {"scale_factor": 2.0, "mode": "bilinear"},
    {"scale_factor": 2, "mode": "bilinear", "align_corners": True},
    {"scale_factor": (2, 1.5)},
    {"size": 5},
    {"size": (4, 5), "mode": "bilinear"},
    {"size": (6, 6), "mode": "nearest-exact"},
]


@pytest.mark.parametrize("options", UPSAMPLES, ids=str)
def test_upsample_layer_matches_pytorch(options, torch, rng):
    ours, theirs = nn.Upsample(**options), torch.nn.Upsample(**options)
    assert repr(ours) == repr(theirs)
    assert list(ours.parameters()) == [] and ours.state_dict() == {}
    x = rng.normal(size=(2, 3, 4, 3)).astype(np.float32)
    out, expected, grad, expected_grad = _both(torch, ours, theirs, x, rng)
    np.testing.assert_allclose(_host(out), _host(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_host(grad), expected_grad.cpu().numpy(), rtol=1e-5, atol=1e-5)


BAD_INTERPOLATIONS = {
    "size-and-scale": {"size": 4, "scale_factor": 2},
    "neither": {},
    "align-corners-with-nearest": {"scale_factor": 2, "align_corners": True},
    "unknown-mode": {"scale_factor": 2, "mode": "cubic"},
    "bilinear-on-3d": {"scale_factor": 2, "mode": "bilinear", "shape": (1, 2, 4)},
    "linear-on-4d": {"scale_factor": 2, "mode": "linear"},
    "2d-input": {"scale_factor": 2, "shape": (2, 4)},
    "size-too-long": {"size": (2, 3, 4)},
    "float-size": {"size": (2.0, 3)},
    "scale-too-long": {"scale_factor": (2, 2, 2)},
    "output-of-zero": {"scale_factor": 0.1},
    "negative-size": {"size": -2},
    "recompute-with-size": {"size": 4, "recompute_scale_factor": True},
    "integer-input": {"size": 3, "dtype": np.int64},
}


@pytest.mark.parametrize("case", BAD_INTERPOLATIONS)
def test_bad_interpolations_raise_pytorchs_error_type(case, torch):
    options = dict(BAD_INTERPOLATIONS[case])
    x = np.ones(options.pop("shape", (1, 2, 4, 4)), options.pop("dtype", np.float32))
    with pytest.raises(Exception) as expected:
        torch.nn.functional.interpolate(torch.tensor(x), **options)
    with pytest.raises(expected.type) as raised:
        F.interpolate(minidl.tensor(x), **options)
    assert str(raised.value)


def test_interpolate_rejects_what_is_not_a_tensor():
    with pytest.raises(TypeError, match="interpolate.*Tensor"):
        F.interpolate(np.ones((1, 1, 2, 2)), scale_factor=2)


# ---- nn.Unflatten ------------------------------------------------------------------------------------
UNFLATTENS = [(1, (1, 28, 28)), (1, (4, -1)), (-1, [2, 392]), (0, (2, 1)), (1, (784, 1))]


@pytest.mark.parametrize("dim, sizes", UNFLATTENS)
def test_unflatten_matches_pytorch(dim, sizes, torch, rng):
    ours, theirs = nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
    assert repr(ours) == repr(theirs)
    out, expected, grad, expected_grad = _both(torch, ours, theirs, rng.normal(size=(2, 784)).astype(np.float32), rng)
    np.testing.assert_array_equal(_host(out), _host(expected))
    np.testing.assert_array_equal(_host(grad), expected_grad.cpu().numpy())


BAD_UNFLATTENS = {
    "sizes-do-not-multiply": (1, (5, 3)),
    "two-inferred": (1, (-1, -1)),
    "dim-out-of-range": (2, (3, 4)),
    "negative-dim-out-of-range": (-3, (3, 4)),
    "empty-sizes": (1, ()),
    "zero-size": (1, (0, -1)),
}


@pytest.mark.parametrize("case", BAD_UNFLATTENS)
def test_bad_unflatten_raises_pytorchs_error(case, torch):
    dim, sizes = BAD_UNFLATTENS[case]
    x = np.ones((2, 12), np.float32)
    with pytest.raises(Exception) as expected:
        torch.nn.Unflatten(dim, sizes)(torch.tensor(x))
    with pytest.raises(expected.type, match=str(expected.value).split(" ")[0]):
        nn.Unflatten(dim, sizes)(minidl.tensor(x))


@pytest.mark.parametrize("sizes", [5, (2.0, 6), "12"])
def test_unflatten_sizes_must_be_a_tuple_of_ints(sizes, torch):
    with pytest.raises(TypeError) as expected:
        torch.nn.Unflatten(1, sizes)
    with pytest.raises(TypeError, match="unflattened_size") as raised:
        nn.Unflatten(1, sizes)
    assert str(raised.value) == str(expected.value)


# ---- activations ---------------------------------------------------------------------------------------
ACTIVATIONS = {  # name: (layer, function, keyword arguments)
    "relu": ("ReLU", "relu", {}),
    "leaky_relu": ("LeakyReLU", "leaky_relu", {}),
    "leaky_relu-0.2": ("LeakyReLU", "leaky_relu", {"negative_slope": 0.2}),
    "leaky_relu-negative": ("LeakyReLU", "leaky_relu", {"negative_slope": -0.5}),
    "elu": ("ELU", "elu", {}),
    "elu-0.5": ("ELU", "elu", {"alpha": 0.5}),
    "silu": ("SiLU", "silu", {}),
}
POINTS = np.array([-30.0, -3.0, -1.0, -0.25, -1e-8, 0.0, 1e-8, 0.5, 2.0, 30.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_functions_match_pytorch_at_and_around_zero(name, dtype, torch, rng):
    _, function, options = ACTIVATIONS[name]
    out, expected, grad, expected_grad = _both(
        torch, getattr(F, function), getattr(torch.nn.functional, function), POINTS.astype(dtype), rng, **options
    )
    assert out.dtype == dtype
    np.testing.assert_allclose(_host(out), _host(expected), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_host(grad), expected_grad.cpu().numpy(), rtol=1e-6, atol=1e-7)
    assert out.grad_fn.name() == expected.grad_fn.name()


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_layers_repr_and_forward_as_pytorch(name, inplace, torch, rng):
    layer, _, options = ACTIVATIONS[name]
    ours, theirs = getattr(nn, layer)(**options, inplace=inplace), getattr(torch.nn, layer)(**options, inplace=inplace)
    assert repr(ours) == repr(theirs)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    mine, reference = minidl.tensor(x), torch.tensor(x)
    out, expected = ours(mine), theirs(reference)
    np.testing.assert_allclose(_host(out), expected.cpu().numpy(), rtol=1e-6, atol=1e-7)
    assert (out is mine) == (expected is reference) == inplace
    np.testing.assert_allclose(_host(mine), reference.cpu().numpy(), rtol=1e-6, atol=1e-7)  # changed only in place


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_in_place_activations_rewrite_the_graph_as_pytorch(name, torch, rng):
    """y = x * 2; act(y, inplace=True): y is overwritten, its version moves on, gradients reach x."""
    _, function, options = ACTIVATIONS[name]
    x = POINTS.astype(np.float32)
    mine, reference = leaf(x), torch.tensor(x, requires_grad=True)
    hidden, reference_hidden = mine * 2, reference * 2
    version = autograd.version(hidden.data)
    out = getattr(F, function)(hidden, inplace=True, **options)
    expected = getattr(torch.nn.functional, function)(reference_hidden, inplace=True, **options)
    assert out is hidden and autograd.version(hidden.data) == version + 1
    np.testing.assert_allclose(_host(hidden), _host(reference_hidden), rtol=1e-6, atol=1e-7)
    assert out.grad_fn.name() == expected.grad_fn.name()
    upstream = rng.normal(size=x.shape).astype(np.float32)
    try:
        (expected * torch.tensor(upstream)).sum().backward()
    except RuntimeError as error:  # a negative slope can't be differentiated in place, in either library
        with pytest.raises(RuntimeError, match="In-place"):
            (out * minidl.tensor(upstream)).sum().backward()
        assert "In-place" in str(error)
        return
    (out * minidl.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(_host(mine.grad), reference.grad.cpu().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_in_place_activation_of_a_leaf_that_requires_grad_raises(name, torch):
    _, function, options = ACTIVATIONS[name]
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(torch.nn.functional, function)(torch.ones(3, requires_grad=True), inplace=True, **options)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(F, function)(minidl.ones(3, requires_grad=True), inplace=True, **options)


def test_overwriting_a_value_saved_for_backward_raises_as_pytorch(torch):
    """w * y saves y; relu_(y) changes it, so the backward pass of the product must refuse, in both."""
    for library, functional in ((torch, torch.nn.functional), (minidl, F)):
        w = library.ones(3, requires_grad=True)
        y = library.tensor([-1.0, 0.5, 2.0]) * 1
        product = w * y
        functional.relu(y, inplace=True)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            product.sum().backward()


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if n != "relu"])
def test_activation_gradients_pass_gradcheck(name, rng):
    _, function, options = ACTIVATIONS[name]
    x = rng.normal(size=(4, 3)) * 2
    x = leaf(np.where(np.abs(x) < 1e-2, 0.5, x))  # away from 0, where ReLU-like functions have a kink
    assert minidl.gradcheck(lambda t: getattr(F, function)(t, **options), [x])
