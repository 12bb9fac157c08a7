"""Optimizers and schedules follow PyTorch's trajectories to float32 precision."""

import numpy as np
import pytest

import minidl
import minidl.optim as optim

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.5, dampening=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1)),
    ("Adadelta", dict(lr=1.0)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
]


def _loss(w, x):
    """A small non-quadratic loss, the same code for minidl and torch: sum(tanh(x @ w)^2) + sum(w^4)/4."""
    return ((x @ w).tanh() ** 2).sum() + (w**4).sum() / 4


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_trajectory_matches_pytorch(name, kwargs, rng, torch):
    w0 = rng.normal(size=(3, 2)).astype(np.float32)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    w = minidl.tensor(w0, requires_grad=True)
    ours = getattr(optim, name)([w], **kwargs)
    tw = torch.tensor(w0, requires_grad=True)
    theirs = getattr(torch.optim, name)([tw], **kwargs)
    for _ in range(25):
        ours.zero_grad()
        _loss(w, minidl.tensor(x)).backward()
        ours.step()
        theirs.zero_grad()
        _loss(tw, torch.tensor(x)).backward()
        theirs.step()
    np.testing.assert_allclose(w.detach().cpu().numpy(), tw.detach().cpu().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "scheduler, kwargs", [("StepLR", dict(step_size=3, gamma=0.5)), ("CosineAnnealingLR", dict(T_max=10))]
)
def test_schedules_match_pytorch(scheduler, kwargs, torch):
    w = minidl.tensor([1.0], requires_grad=True)
    tw = torch.tensor([1.0], requires_grad=True)
    ours = getattr(optim, scheduler)(optim.SGD([w], lr=0.1), **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, scheduler)(torch.optim.SGD([tw], lr=0.1), **kwargs)
    for _ in range(10):
        ours.optimizer.step()
        theirs.optimizer.step()
        ours.step()
        theirs.step()
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad", "Adadelta"])
def test_negative_learning_rate_is_refused(name):
    with pytest.raises(ValueError, match="lr must be >= 0"):
        getattr(optim, name)([minidl.tensor([1.0], requires_grad=True)], lr=-0.1)


def test_parameters_without_gradient_are_left_alone():
    a, b = minidl.tensor([1.0], requires_grad=True), minidl.tensor([2.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    (a * 3).sum().backward()
    opt.step()
    assert b.item() == 2.0 and a.item() != 1.0


def test_adam_beats_sgd_on_an_ill_conditioned_quadratic():
    def run(optimizer_class, **kwargs):
        w = minidl.tensor([1.0, 1.0], requires_grad=True)
        scales = minidl.tensor([100.0, 1.0])
        opt = optimizer_class([w], **kwargs)
        for _ in range(100):
            opt.zero_grad()
            loss = (scales * w * w).sum()
            loss.backward()
            opt.step()
        return loss.item()

    assert run(optim.Adam, lr=0.05) < run(optim.SGD, lr=0.005)
