"""The Huber family of losses (smooth_l1_loss, huber_loss): values and gradients against PyTorch."""

import numpy as np
import pytest

import minidl
import minidl.nn.functional as F
from minidl import gradcheck

from conftest import leaf

CASES = [("smooth_l1_loss", "beta", 1.0), ("smooth_l1_loss", "beta", 0.5), ("smooth_l1_loss", "beta", 0.0),
         ("huber_loss", "delta", 1.0), ("huber_loss", "delta", 2.5)]


def _pair(rng, shape=(6, 3)):
    """Predictions and targets whose differences fall on both sides of every width in CASES."""
    return rng.normal(size=shape) * 3, rng.normal(size=shape)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name, argument, width", CASES)
def test_matches_pytorch(name, argument, width, reduction, rng, torch):
    inputs, targets = (a.astype(np.float32) for a in _pair(rng))
    x = minidl.tensor(inputs, requires_grad=True)
    ours = getattr(F, name)(x, minidl.tensor(targets), reduction=reduction, **{argument: width})
    ours.sum().backward()
    tx = torch.tensor(inputs, requires_grad=True)
    theirs = getattr(torch.nn.functional, name)(tx, torch.tensor(targets), reduction=reduction, **{argument: width})
    theirs.sum().backward()
    np.testing.assert_allclose(minidl.to_numpy(ours), theirs.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, argument, width", [case for case in CASES if case[2] > 0])
def test_gradients_match_finite_differences(name, argument, width, rng):
    inputs, targets = _pair(rng)
    x, target = leaf(inputs), leaf(targets)
    assert gradcheck(lambda a, b: getattr(F, name)(a, b, **{argument: width}), [x, target])


def test_the_two_agree_at_width_one_and_scale_by_delta(rng):
    inputs, targets = (minidl.tensor(a) for a in _pair(rng))
    smooth, huber = F.smooth_l1_loss(inputs, targets), F.huber_loss(inputs, targets)
    assert smooth.item() == pytest.approx(huber.item())
    assert F.huber_loss(inputs, targets, delta=2.0).item() == pytest.approx(
        2.0 * F.smooth_l1_loss(inputs, targets, beta=2.0).item())


def test_the_gradient_of_a_large_error_is_bounded():
    x = minidl.tensor([100.0, -50.0, 0.25], requires_grad=True)
    F.smooth_l1_loss(x, minidl.zeros(3), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [1.0, -1.0, 0.25])


@pytest.mark.parametrize("call, match", [
    (lambda: F.smooth_l1_loss(minidl.zeros(3), minidl.zeros(2)), "same shape"),
    (lambda: F.smooth_l1_loss(minidl.zeros(3), minidl.zeros(3), beta=-1.0), "beta"),
    (lambda: F.huber_loss(minidl.zeros(3), minidl.zeros(3), delta=0.0), "delta"),
    (lambda: F.huber_loss(minidl.zeros(3), minidl.zeros(3), reduction="max"), "reduction"),
])
def test_bad_input_is_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()
