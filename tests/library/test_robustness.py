"""minidl.metrics.robustness: FGSM against PyTorch's input gradient, PGD's ball and box, robust accuracy."""

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.nn import functional as F
from minidl.metrics.robustness import fgsm, pgd, robust_accuracy


def _linear_model(rng, features, classes):
    """A minidl nn.Linear with weights from ``rng``, and the same weights as host arrays for torch."""
    weight = rng.normal(size=(classes, features))
    bias = rng.normal(size=classes)
    model = nn.Linear(features, classes).double()
    model.weight.data = minidl.tensor(weight).data
    model.bias.data = minidl.tensor(bias).data
    return model, weight, bias


def _mlp(features=6, hidden=16, classes=3):
    minidl.manual_seed(3)  # the same small network for every test that uses it
    return nn.Sequential(nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, classes)).double()


def _batch(rng, n=8, features=6, classes=3, low=0.0, high=1.0):
    inputs = minidl.tensor(rng.uniform(low, high, size=(n, features)))
    targets = minidl.tensor(rng.integers(0, classes, size=n))
    return inputs, targets


@pytest.mark.parametrize("epsilon", [0.01, 0.05, 0.1])
@pytest.mark.parametrize("clamp", [None, (0.0, 1.0)], ids=["no-box", "unit-box"])
@pytest.mark.parametrize("n, features, classes", [(1, 5, 3), (4, 5, 3), (7, 12, 4)])
def test_fgsm_step_is_epsilon_times_sign_of_torch_input_gradient(torch, rng, epsilon, clamp, n, features, classes):
    model, weight, bias = _linear_model(rng, features, classes)
    host_inputs = rng.uniform(0.2, 0.8, size=(n, features))      # far enough from 0 and 1: the box clips nothing
    host_targets = rng.integers(0, classes, size=n)
    x = torch.tensor(host_inputs, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(x @ torch.tensor(weight).T + torch.tensor(bias), torch.tensor(host_targets))
    loss.backward()
    expected = host_inputs + epsilon * np.sign(x.grad.numpy())
    adversarial = fgsm(model, minidl.tensor(host_inputs), minidl.tensor(host_targets), epsilon, clamp=clamp)
    np.testing.assert_allclose(minidl.to_numpy(adversarial), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("epsilon", [0.3, 1.0])
def test_fgsm_result_is_clipped_into_the_box(rng, epsilon):
    inputs, targets = _batch(rng)
    adversarial = minidl.to_numpy(fgsm(_mlp(), inputs, targets, epsilon))
    assert adversarial.min() >= 0.0 and adversarial.max() <= 1.0
    assert np.abs(adversarial - minidl.to_numpy(inputs)).max() <= epsilon + 1e-12


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_attacks_keep_shape_and_dtype_and_return_a_detached_tensor(rng, dtype):
    model = _mlp() if dtype == "float64" else _mlp().float()
    inputs, targets = _batch(rng)
    inputs = inputs.to(getattr(minidl, dtype))
    for attack in (fgsm, pgd):
        adversarial = attack(model, inputs, targets, 0.1)
        assert adversarial.shape == inputs.shape and adversarial.dtype == inputs.dtype
        assert not adversarial.requires_grad and adversarial.grad_fn is None


@pytest.mark.parametrize("epsilon", [0.02, 0.1, 0.3])
@pytest.mark.parametrize("steps, alpha", [(1, None), (5, None), (10, 0.05), (20, 1.0)])
@pytest.mark.parametrize("random_start", [True, False])
def test_pgd_stays_in_the_epsilon_ball_and_the_box(rng, epsilon, steps, alpha, random_start):
    inputs, targets = _batch(rng, n=16)
    adversarial = minidl.to_numpy(pgd(_mlp(), inputs, targets, epsilon, alpha=alpha, steps=steps,
                                      random_start=random_start))
    assert np.abs(adversarial - minidl.to_numpy(inputs)).max() <= epsilon + 1e-12
    assert adversarial.min() >= 0.0 and adversarial.max() <= 1.0


@pytest.mark.parametrize("epsilon", [0.05, 0.1, 0.2])
def test_pgd_raises_the_loss_at_least_as_much_as_fgsm(rng, epsilon):
    model = _mlp()
    inputs, targets = _batch(rng, n=32)
    loss = {name: F.cross_entropy(model(attack(model, inputs, targets, epsilon)), targets).item()
            for name, attack in (("fgsm", fgsm), ("pgd", pgd))}
    clean = F.cross_entropy(model(inputs), targets).item()
    assert loss["pgd"] >= loss["fgsm"] > clean, (clean, loss)


def test_pgd_with_one_full_step_and_no_random_start_is_fgsm(rng):
    model = _mlp()
    inputs, targets = _batch(rng)
    one_step = pgd(model, inputs, targets, 0.1, alpha=0.1, steps=1, random_start=False)
    np.testing.assert_array_equal(minidl.to_numpy(one_step), minidl.to_numpy(fgsm(model, inputs, targets, 0.1)))


@pytest.mark.parametrize("attack", [fgsm, pgd])
def test_attacks_leave_the_parameters_and_their_gradients_alone(rng, attack):
    model = _mlp()
    inputs, targets = _batch(rng)
    F.cross_entropy(model(inputs), targets).backward()
    before = [(minidl.to_numpy(p).copy(), minidl.to_numpy(p.grad).copy()) for p in model.parameters()]
    attack(model, inputs, targets, 0.1)
    for parameter, (value, grad) in zip(model.parameters(), before):
        assert parameter.requires_grad
        np.testing.assert_array_equal(minidl.to_numpy(parameter), value)
        np.testing.assert_array_equal(minidl.to_numpy(parameter.grad), grad)


def test_robust_accuracy_at_epsilon_zero_is_the_clean_accuracy(rng):
    model = _mlp()
    inputs, targets = _batch(rng, n=40)
    predictions = minidl.to_numpy(model(inputs)).argmax(axis=1)
    assert robust_accuracy(model, inputs, targets, 0.0) == pytest.approx(np.mean(predictions == minidl.to_numpy(targets)))


def test_robust_accuracy_of_a_linear_rule_by_hand():
    # one input, two classes, logits (x, 0.5): class 0 wins where x > 0.5. FGSM with epsilon = 0.15 moves
    # every input towards the boundary, so exactly the inputs within 0.15 of it change their answer.
    model = nn.Linear(1, 2).double()
    model.weight.data = minidl.tensor(np.array([[1.0], [0.0]])).data
    model.bias.data = minidl.tensor(np.array([0.0, 0.5])).data
    inputs = minidl.tensor(np.array([[0.1], [0.4], [0.6], [0.7], [0.9]]))
    targets = minidl.tensor(np.array([1, 1, 0, 0, 0]))
    assert robust_accuracy(model, inputs, targets, 0.0) == 1.0
    assert robust_accuracy(model, inputs, targets, 0.15) == pytest.approx(3 / 5)     # 0.4 and 0.6 cross
    assert robust_accuracy(model, inputs, targets, 0.15, attack=pgd, steps=5) == pytest.approx(3 / 5)


def _not_scalar_loss(outputs, targets):
    return F.cross_entropy(outputs, targets, reduction="none")


# (function, how the arguments differ from a good call, exception type, words the message must contain)
BAD = [
    (fgsm, dict(epsilon=-0.1), ValueError, "epsilon"),
    (fgsm, dict(epsilon=float("nan")), ValueError, "epsilon"),
    (fgsm, dict(epsilon="0.1"), TypeError, "epsilon"),
    (fgsm, dict(inputs="image"), TypeError, "inputs"),
    (fgsm, dict(inputs=minidl.tensor(np.ones((8, 6), dtype=np.int64))), TypeError, "floating"),
    (fgsm, dict(inputs=minidl.tensor(np.full((8, 6), 2.0))), ValueError, "clamp"),
    (fgsm, dict(clamp=(1.0, 0.0)), ValueError, "clamp"),
    (fgsm, dict(clamp=0.5), ValueError, "clamp"),
    (fgsm, dict(targets=minidl.tensor(np.zeros(5, dtype=np.int64))), ValueError, "one entry per input"),
    (fgsm, dict(model="net"), TypeError, "model"),
    (fgsm, dict(loss_fn=_not_scalar_loss), ValueError, "scalar"),
    (pgd, dict(steps=0), ValueError, "steps"),
    (pgd, dict(steps=2.5), ValueError, "steps"),
    (pgd, dict(alpha=-0.01), ValueError, "alpha"),
    (pgd, dict(epsilon=-1.0), ValueError, "epsilon"),
    (robust_accuracy, dict(attack="fgsm"), TypeError, "attack"),
    (robust_accuracy, dict(targets=minidl.tensor(np.zeros(8))), TypeError, "targets"),
]


@pytest.mark.parametrize("function, change, error, words", BAD,
                         ids=[f"{f.__name__}-{'-'.join(c)}-{w.replace(' ', '_')}" for f, c, _, w in BAD])
def test_bad_arguments_raise_errors_that_name_them(rng, function, change, error, words):
    inputs, targets = _batch(rng)
    arguments = dict(model=_mlp(), inputs=inputs, targets=targets, epsilon=0.1)
    arguments.update({key: value for key, value in change.items()})
    if isinstance(arguments["inputs"], minidl.Tensor):     # made at import time, on the NumPy backend
        arguments["inputs"] = minidl.tensor(minidl.to_numpy(arguments["inputs"]))
    if isinstance(arguments["targets"], minidl.Tensor):
        arguments["targets"] = minidl.tensor(minidl.to_numpy(arguments["targets"]))
    with pytest.raises(error, match=words):
        function(**arguments)


def test_the_loss_must_depend_on_the_inputs(rng):
    inputs, targets = _batch(rng)
    constant = nn.Linear(6, 3).double()
    with pytest.raises(RuntimeError, match="does not depend on the inputs"):
        fgsm(lambda x: constant(minidl.tensor(np.zeros((8, 6)))), inputs, targets, 0.1)
