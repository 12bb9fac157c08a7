"""Activations and losses: gradients by finite differences, values and gradients against PyTorch."""

import numpy as np
import pytest

import minidl
import minidl.nn.functional as F
from minidl import gradcheck

from conftest import leaf


def _classification_case(rng, shape=(4, 5)):
    logits = rng.normal(size=shape) * 3
    targets = rng.integers(0, shape[1], size=shape[:1] + shape[2:])
    return logits, targets


LOSSES = {
    "cross_entropy": lambda rng: (*_classification_case(rng), F.cross_entropy, "cross_entropy"),
    "cross_entropy_3d": lambda rng: (*_classification_case(rng, (3, 4, 2)), F.cross_entropy, "cross_entropy"),
    "bce": lambda rng: (rng.uniform(0.05, 0.95, (6,)), rng.integers(0, 2, 6).astype(float),
                        F.binary_cross_entropy, "binary_cross_entropy"),
    "bce_logits": lambda rng: (rng.normal(size=(3, 2)) * 4, rng.uniform(0, 1, (3, 2)),
                               F.binary_cross_entropy_with_logits, "binary_cross_entropy_with_logits"),
    "mse": lambda rng: (rng.normal(size=(5, 2)), rng.normal(size=(5, 2)), F.mse_loss, "mse_loss"),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradients_match_finite_differences(name, reduction, rng):
    inputs, targets, loss_fn, _ = LOSSES[name](rng)
    x = leaf(inputs)
    target = minidl.tensor(targets)
    assert gradcheck(lambda t: loss_fn(t, target, reduction=reduction), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", LOSSES)
def test_losses_match_pytorch(name, reduction, rng, torch):
    inputs, targets, loss_fn, torch_name = LOSSES[name](rng)
    inputs = inputs.astype(np.float32)
    x = minidl.tensor(inputs, requires_grad=True)
    ours = loss_fn(x, minidl.tensor(targets if targets.dtype.kind == "i" else targets.astype(np.float32)),
                   reduction=reduction)
    ours.sum().backward()
    tx = torch.tensor(inputs, requires_grad=True)
    theirs = getattr(torch.nn.functional, torch_name)(tx, torch.tensor(targets if targets.dtype.kind == "i"
                                                                        else targets.astype(np.float32)),
                                                      reduction=reduction)
    theirs.sum().backward()
    np.testing.assert_allclose(minidl.to_numpy(ours), theirs.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "log_softmax"])
def test_activations_match_pytorch(name, rng, torch):
    values = (rng.normal(size=(3, 4)) * 5).astype(np.float32)
    args = {"softmax": (1,), "log_softmax": (1,)}.get(name, ())
    x = minidl.tensor(values, requires_grad=True)
    weights = rng.normal(size=(3, 4)).astype(np.float32)
    (getattr(F, name)(x, *args) * minidl.tensor(weights)).sum().backward()
    tx = torch.tensor(values, requires_grad=True)
    (getattr(torch.nn.functional, name)(tx, *args) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)


def test_softmax_and_cross_entropy_survive_huge_logits():
    logits = minidl.tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    probabilities = F.softmax(logits, dim=1)
    loss = F.cross_entropy(logits, minidl.tensor([2]))
    loss.backward()
    assert np.all(np.isfinite(probabilities.cpu().numpy() if not probabilities.requires_grad else probabilities.detach().cpu().numpy()))
    assert loss.item() == pytest.approx(2000.0)
    assert np.all(np.isfinite(logits.grad.cpu().numpy()))


def test_bce_with_logits_is_stable_where_sigmoid_saturates():
    loss = F.binary_cross_entropy_with_logits(minidl.tensor([100.0, -100.0]), minidl.tensor([0.0, 1.0]))
    assert loss.item() == pytest.approx(100.0)


def test_cross_entropy_rejects_float_class_indices():
    with pytest.raises(ValueError, match="for class indices pass integers"):
        F.cross_entropy(minidl.zeros(2, 3), minidl.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="integer class indices"):
        F.nll_loss(minidl.zeros(2, 3), minidl.tensor([0.0, 1.0]))


def test_cross_entropy_rejects_an_out_of_range_class():
    with pytest.raises(IndexError, match=r"Target 3 is out of bounds.*\[0, 2\]"):
        F.cross_entropy(minidl.zeros(2, 3), minidl.tensor([0, 3]))


def test_cross_entropy_rejects_a_mismatched_target_shape():
    with pytest.raises(ValueError, match=r"target of shape \(2,\)"):
        F.cross_entropy(minidl.zeros(2, 3), minidl.tensor([0, 1, 2]))


def test_bce_rejects_values_outside_zero_one():
    with pytest.raises(RuntimeError, match="input should be between 0 and 1.*binary_cross_entropy_with_logits"):
        F.binary_cross_entropy(minidl.tensor([1.5]), minidl.tensor([1.0]))


def test_mse_refuses_silent_broadcasting():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        F.mse_loss(minidl.zeros(4, 1), minidl.zeros(4))


def test_dropout_keeps_the_expected_value_and_drops_about_p():
    x = minidl.ones(20000)
    out = F.dropout(x, 0.3).cpu().numpy()
    assert set(np.unique(out)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((out == 0).mean() - 0.3) < 0.02
    assert abs(out.mean() - 1.0) < 0.03
    assert F.dropout(x, 0.3, training=False) is x


def test_one_hot():
    np.testing.assert_array_equal(F.one_hot(minidl.tensor([2, 0]), 3).cpu().numpy(), [[0, 0, 1], [1, 0, 0]])
