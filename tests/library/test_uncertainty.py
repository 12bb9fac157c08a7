"""The Gaussian negative log-likelihood, the uncertainty wrappers, temperature scaling and calibration metrics."""

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.metrics.calibration import ReliabilityBins, expected_calibration_error, reliability_bins
from minidl.nn import functional as F
from minidl.uncertainty import (
    DropoutWrapper, EnsembleWrapper, MVEWrapper, Prediction, TemperatureScaling, fit_temperature, summarize,
)

from conftest import error_of, leaf

host = minidl.to_numpy  # a host array, detached


# ---- F.gaussian_nll_loss and nn.GaussianNLLLoss ----------------------------------------------------
# (input shape, var shape): one variance per entry, the last dimension dropped, a dimension of size 1
VAR_SHAPES = {
    "heteroscedastic": ((4, 3), (4, 3)),
    "one-fewer-dimension": ((4, 3), (4,)),
    "last-dimension-one": ((4, 3), (4, 1)),
    "middle-dimension-one": ((2, 3, 5), (2, 1, 5)),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("case", VAR_SHAPES)
def test_gaussian_nll_loss_matches_pytorch_values_and_gradients(case, full, reduction, rng, torch):
    input_shape, var_shape = VAR_SHAPES[case]
    mean, target = rng.normal(size=input_shape), rng.normal(size=input_shape)
    var = rng.uniform(0.1, 2.0, size=var_shape)
    x, y, v = leaf(mean), leaf(target), leaf(var)
    ours = F.gaussian_nll_loss(x, y, v, full=full, reduction=reduction)
    ours.sum().backward()
    tx, ty, tv = (torch.tensor(a, requires_grad=True) for a in (mean, target, var))
    theirs = torch.nn.functional.gaussian_nll_loss(tx, ty, tv, full=full, reduction=reduction)
    theirs.sum().backward()
    np.testing.assert_allclose(host(ours), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    for mine, reference in ((x, tx), (y, ty), (v, tv)):
        np.testing.assert_allclose(host(mine.grad), reference.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gaussian_nll_loss_clamps_tiny_variances_at_eps_but_passes_the_gradient_through(dtype, torch):
    var = np.array([1e-9, 0.0, 0.5], dtype=dtype)
    mean, target = np.array([0.1, 0.0, 1.0], dtype=dtype), np.zeros(3, dtype=dtype)
    v = minidl.tensor(var, requires_grad=True)
    ours = F.gaussian_nll_loss(minidl.tensor(mean), minidl.tensor(target), v, eps=1e-4)
    ours.backward()
    tv = torch.tensor(var, requires_grad=True)
    theirs = torch.nn.functional.gaussian_nll_loss(torch.tensor(mean), torch.tensor(target), tv, eps=1e-4)
    theirs.backward()
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-5)
    np.testing.assert_allclose(host(v.grad), tv.grad.numpy(), rtol=1e-5)


def test_gaussian_nll_loss_gradients_match_finite_differences(rng):
    target = minidl.tensor(rng.normal(size=(5, 2)))
    assert minidl.gradcheck(lambda x, v: F.gaussian_nll_loss(x, target, v),
                            [leaf(rng.normal(size=(5, 2))), leaf(rng.uniform(0.5, 2, size=(5, 2)))])


def test_gaussian_nll_loss_takes_one_number_for_every_variance(rng, torch):
    mean, target = rng.normal(size=(6,)), rng.normal(size=(6,))
    ours = F.gaussian_nll_loss(minidl.tensor(mean), minidl.tensor(target), 0.7, full=True)
    theirs = torch.nn.functional.gaussian_nll_loss(torch.tensor(mean), torch.tensor(target), 0.7, full=True)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12)


def test_gaussian_nll_loss_is_minimized_by_the_true_variance(rng):
    """The expected loss over Normal(0, 4) draws is smallest when the predicted variance is 4."""
    target = minidl.tensor(rng.normal(0, 2, size=20000))
    mean = minidl.zeros(20000, dtype=minidl.float64)
    losses = {var: F.gaussian_nll_loss(mean, target, float(var)).item() for var in (2.0, 4.0, 8.0)}
    assert losses[4.0] < losses[2.0] and losses[4.0] < losses[8.0]


def test_a_target_may_broadcast_over_ensemble_members(rng):
    """Members' means (M, N, 1) against one target (N, 1): each member's loss, averaged."""
    means, variances = rng.normal(size=(3, 4, 1)), rng.uniform(0.5, 1.5, size=(3, 4, 1))
    target = rng.normal(size=(4, 1))
    together = F.gaussian_nll_loss(minidl.tensor(means), minidl.tensor(target), minidl.tensor(variances)).item()
    one_by_one = [F.gaussian_nll_loss(minidl.tensor(means[m]), minidl.tensor(target), minidl.tensor(variances[m])).item()
                  for m in range(3)]
    assert together == pytest.approx(np.mean(one_by_one), rel=1e-12)


@pytest.mark.parametrize("full", [False, True])
def test_the_loss_layer_is_the_function(full, rng):
    x, y, v = (minidl.tensor(rng.uniform(0.5, 1, size=(3, 2))) for _ in range(3))
    layer = nn.GaussianNLLLoss(full=full, eps=1e-3, reduction="sum")
    assert layer(x, y, v).item() == F.gaussian_nll_loss(x, y, v, full=full, eps=1e-3, reduction="sum").item()
    assert "full=" in repr(layer)


BAD_GAUSSIAN_INPUTS = {
    "negative variance": (lambda: (np.zeros((3, 2)), np.zeros((3, 2)), -np.ones((3, 2))), {}, ValueError, "negative"),
    "wrong variance shape": (lambda: (np.zeros((3, 2)), np.zeros((3, 2)), np.ones((2, 3))), {}, ValueError,
                             "var is of incorrect size"),
    "target too big": (lambda: (np.zeros((3, 2)), np.zeros((4, 3, 2)), np.ones((3, 2))), {}, ValueError,
                       "does not broadcast"),
    "bad reduction": (lambda: (np.zeros(3), np.zeros(3), np.ones(3)), {"reduction": "avg"}, ValueError,
                      "not a valid value"),
}


@pytest.mark.parametrize("case", BAD_GAUSSIAN_INPUTS)
def test_gaussian_nll_loss_refuses_bad_input(case, torch):
    make, options, error, message = BAD_GAUSSIAN_INPUTS[case]
    arrays = make()
    with pytest.raises(error, match=message):
        F.gaussian_nll_loss(*(minidl.tensor(a) for a in arrays), **options)
    if case != "target too big":  # PyTorch broadcasts that one into a bigger loss; the library refuses
        assert type(error_of(lambda: torch.nn.functional.gaussian_nll_loss(
            *(torch.tensor(a) for a in arrays), **options))) is error


def test_gaussian_nll_loss_layer_refuses_data_in_its_constructor():
    with pytest.raises(TypeError, match="built first and then called"):
        nn.GaussianNLLLoss(minidl.zeros(3))


# ---- MVEWrapper -------------------------------------------------------------------------------------
@pytest.mark.parametrize("out_features", [1, 3])
def test_mve_wrapper_returns_a_mean_and_a_positive_variance(out_features, rng):
    model = MVEWrapper(nn.Sequential(nn.Linear(2, 8), nn.Tanh()), 8, out_features, min_variance=1e-3)
    mean, variance = model(minidl.tensor(rng.normal(size=(5, 2)).astype(np.float32) * 50))
    assert mean.shape == variance.shape == (5, out_features)
    assert (host(variance) >= 1e-3).all()
    F.gaussian_nll_loss(mean, minidl.zeros(5, out_features), variance).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_mve_wrapper_refuses_features_of_the_wrong_width():
    model = MVEWrapper(nn.Linear(2, 4), 8)
    with pytest.raises(ValueError, match="in_features=8"):
        model(minidl.zeros(3, 2))


@pytest.mark.parametrize("arguments, error", [((None, 4), TypeError), ((nn.Linear(2, 4), 0), ValueError),
                                              ((nn.Linear(2, 4), 4, 1, -1.0), ValueError)])
def test_mve_wrapper_refuses_bad_arguments(arguments, error):
    with pytest.raises(error, match="MVEWrapper"):
        MVEWrapper(*arguments)


# ---- EnsembleWrapper --------------------------------------------------------------------------------
def _net():
    return nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 3))


@pytest.mark.parametrize("num_members", [2, 5])
def test_ensemble_samples_one_prediction_per_member(num_members, rng):
    ensemble = EnsembleWrapper(_net, num_members)
    x = minidl.tensor(rng.normal(size=(4, 2)).astype(np.float32))
    samples = ensemble.samples(x)
    assert samples.shape == (num_members, 4, 3)
    prediction = ensemble(x)
    assert isinstance(prediction, Prediction) and prediction.aleatoric is None
    assert prediction.mean.shape == prediction.epistemic.shape == (4, 3)
    np.testing.assert_allclose(host(prediction.epistemic), host(samples).var(axis=0), rtol=1e-5, atol=1e-7)
    assert host(samples).std(axis=0).min() > 0  # the members were initialized differently


def test_an_ensemble_of_mean_variance_networks_reports_both_uncertainties(rng):
    ensemble = EnsembleWrapper(lambda: MVEWrapper(nn.Sequential(nn.Linear(1, 4), nn.ReLU()), 4), 3)
    x = minidl.tensor(rng.normal(size=(6, 1)).astype(np.float32))
    means, variances = ensemble.samples(x)
    assert means.shape == variances.shape == (3, 6, 1)
    prediction = ensemble(x)
    np.testing.assert_allclose(host(prediction.aleatoric), host(variances).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(host(prediction.epistemic), host(means).var(axis=0), rtol=1e-5, atol=1e-8)


def test_training_an_ensemble_on_its_summed_loss_gives_each_member_only_its_own_gradient(rng):
    ensemble = EnsembleWrapper(_net, 2)
    x = minidl.tensor(rng.normal(size=(4, 2)).astype(np.float32))
    ensemble.members[0](x).sum().backward()
    alone = [host(p.grad).copy() for p in ensemble.members[0].parameters()]
    ensemble.zero_grad()
    ensemble.samples(x).sum().backward()
    for together, by_itself in zip(ensemble.members[0].parameters(), alone):
        np.testing.assert_allclose(host(together.grad), by_itself, rtol=1e-6)


BAD_ENSEMBLES = {
    "a model, not a function": (lambda: (_net(),), TypeError, "function that builds a new model"),
    "one member": (lambda: (_net, 1), ValueError, "at least 2"),
    "the same model twice": (lambda: ((lambda model: lambda: model)(_net()), 3), ValueError, "same model twice"),
    "not a module": (lambda: (lambda: "net", 2), TypeError, "nn.Module"),
}


@pytest.mark.parametrize("case", BAD_ENSEMBLES)
def test_ensemble_refuses_bad_arguments(case):
    arguments, error, message = BAD_ENSEMBLES[case]
    with pytest.raises(error, match=message):
        EnsembleWrapper(*arguments())


# ---- DropoutWrapper (Monte Carlo dropout) -----------------------------------------------------------
class ModeProbe(nn.Module):
    """The identity, remembering whether it ran in training mode."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, input):
        self.seen.append(self.training)
        return input


def test_mc_dropout_keeps_dropout_on_and_everything_else_in_eval_mode(rng):
    probe = ModeProbe()
    model = nn.Sequential(nn.Linear(3, 16), nn.BatchNorm1d(16), probe, nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
    model.train()
    running_mean = host(model[1].running_mean).copy()
    samples = DropoutWrapper(model, num_samples=8).samples(minidl.tensor(rng.normal(size=(5, 3)).astype(np.float32)))
    assert samples.shape == (8, 5, 2)
    assert probe.seen == [False]  # batch normalization and the rest ran in eval mode, all S passes at once
    np.testing.assert_array_equal(host(model[1].running_mean), running_mean)  # so its statistics did not move
    assert host(samples).std(axis=0).min() > 0  # while dropout made every pass different
    assert all(module.training for module in model.modules())  # and every mode is restored


@pytest.mark.parametrize("training", [False, True])
def test_mc_dropout_restores_the_modes_it_found(training, rng):
    model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.2), nn.Linear(4, 1)).train(training)
    DropoutWrapper(model, 4)(minidl.tensor(rng.normal(size=(3, 2)).astype(np.float32)))
    assert all(module.training is training for module in model.modules())


def test_mc_dropout_of_a_mean_variance_network_reports_both_uncertainties(rng):
    model = MVEWrapper(nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Dropout(0.3)), 8)
    prediction = DropoutWrapper(model, 6)(minidl.tensor(rng.normal(size=(7, 1)).astype(np.float32)))
    assert prediction.mean.shape == prediction.aleatoric.shape == prediction.epistemic.shape == (7, 1)
    assert (host(prediction.epistemic) > 0).all()


BAD_DROPOUT = {
    "not a module": (lambda: ("model",), TypeError, "nn.Module"),
    "no dropout layer": (lambda: (nn.Linear(2, 1),), ValueError, "no nn.Dropout"),
    "one sample": (lambda: (nn.Sequential(nn.Linear(2, 1), nn.Dropout()), 1), ValueError, "at least 2"),
}


@pytest.mark.parametrize("case", BAD_DROPOUT)
def test_mc_dropout_refuses_bad_arguments(case):
    arguments, error, message = BAD_DROPOUT[case]
    with pytest.raises(error, match=message):
        DropoutWrapper(*arguments())


def test_summarize_adds_up_to_the_law_of_total_variance(rng):
    means, variances = rng.normal(size=(4, 3)), rng.uniform(0.5, 1, size=(4, 3))
    prediction = summarize((minidl.tensor(means), minidl.tensor(variances)))
    np.testing.assert_allclose(host(prediction.aleatoric + prediction.epistemic),
                               variances.mean(0) + means.var(0), rtol=1e-12)


# ---- temperature scaling ----------------------------------------------------------------------------
def _overconfident(rng, n=4000, classes=5, sharpening=3.0):
    """Labels drawn from softmax(z), and logits sharpening * z that claim more than they know."""
    logits = rng.normal(size=(n, classes)) * 2
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = (probabilities.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1).clip(max=classes - 1)
    return logits * sharpening, labels


@pytest.mark.parametrize("sharpening", [0.5, 3.0])
def test_fit_temperature_undoes_a_known_sharpening(sharpening, rng):
    logits, labels = _overconfident(rng, sharpening=sharpening)
    temperature = fit_temperature(minidl.tensor(logits), minidl.tensor(labels))
    assert temperature == pytest.approx(sharpening, rel=0.1)


def test_temperature_scaling_lowers_the_nll_of_an_overconfident_model(rng):
    logits, labels = _overconfident(rng)
    model = nn.Linear(5, 5, bias=False)
    model.weight.data[...] = minidl.eye(5, dtype=minidl.float32).data  # the identity: outputs the logits as given
    inputs, target = minidl.tensor(logits.astype(np.float32)), minidl.tensor(labels)
    scaled = TemperatureScaling(model).fit(inputs, target)
    with minidl.no_grad():
        before, after = F.cross_entropy(model(inputs), target).item(), F.cross_entropy(scaled(inputs), target).item()
        same_classes = (host(scaled(inputs)).argmax(1) == host(model(inputs)).argmax(1)).all()
    assert scaled.temperature > 2 and after < before - 0.1
    assert same_classes  # dividing by T > 0 never changes the predicted class


def test_temperature_fit_runs_the_model_in_eval_mode_and_restores_it(rng):
    probe = ModeProbe()
    model = nn.Sequential(nn.Linear(3, 4), probe).train()
    TemperatureScaling(model).fit(minidl.tensor(rng.normal(size=(8, 3)).astype(np.float32)),
                                  minidl.tensor(rng.integers(0, 4, 8)))
    assert probe.seen == [False] and model.training and probe.training


def test_fit_temperature_stops_at_its_bounds():
    """Labels that ignore the logits: the best temperature is infinite; always right: zero."""
    logits = minidl.tensor([[2.0, 0.0], [2.0, 0.0], [0.0, 2.0], [0.0, 2.0]])
    assert fit_temperature(logits, minidl.tensor([0, 1, 0, 1])) == 100.0
    assert fit_temperature(logits, minidl.tensor([0, 0, 1, 1]), min_temperature=0.05) == 0.05


BAD_TEMPERATURE = {
    "logits of one dimension": (lambda: (minidl.zeros(4), minidl.tensor([0, 1, 0, 1])), ValueError, r"\(N, C\)"),
    "integer logits": (lambda: (minidl.tensor([[1, 0]]), minidl.tensor([0])), ValueError, "floating"),
    "too few labels": (lambda: (minidl.zeros(3, 2), minidl.tensor([0, 1])), ValueError, r"shape \(3,\)"),
    "float labels": (lambda: (minidl.zeros(2, 2), minidl.tensor([0.0, 1.0])), TypeError, "integer class indices"),
    "label out of range": (lambda: (minidl.zeros(2, 2), minidl.tensor([0, 2])), ValueError, r"\[0, 1\]"),
}


@pytest.mark.parametrize("case", BAD_TEMPERATURE)
def test_fit_temperature_refuses_bad_input(case):
    make, error, message = BAD_TEMPERATURE[case]
    with pytest.raises(error, match=message):
        fit_temperature(*make())


def test_temperature_scaling_needs_a_model():
    with pytest.raises(TypeError, match="TemperatureScaling: model must be an nn.Module"):
        TemperatureScaling(lambda x: x)


# ---- calibration metrics ----------------------------------------------------------------------------
# (probabilities, labels, n_bins, ECE worked out by hand)
HAND_MADE = {
    # bins of width 0.2: {0.5} right; {0.7, 0.8} one right; {0.9} right: 1/4 0.5 + 2/4 0.25 + 1/4 0.1
    "mixed": ([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.5, 0.5]], [0, 1, 1, 0], 5, 0.275),
    "calibrated": ([[0.75, 0.25]] * 4, [0, 0, 0, 1], 10, 0.0),
    "confidently wrong": ([[0.1, 0.9, 0.0]] * 3, [0, 2, 0], 10, 0.9),
    "two bins in use": ([[0.6, 0.4], [0.6, 0.4], [0.05, 0.95], [0.05, 0.95]], [1, 1, 1, 1], 4, 0.5 * 0.6 + 0.5 * 0.05),
}


@pytest.mark.parametrize("case", HAND_MADE)
def test_expected_calibration_error_on_hand_made_predictions(case):
    probabilities, labels, n_bins, expected = HAND_MADE[case]
    ece = expected_calibration_error(minidl.tensor(probabilities), minidl.tensor(labels), n_bins)
    assert isinstance(ece, float) and ece == pytest.approx(expected, abs=1e-6)  # float32 inputs


def test_reliability_bins_hold_every_prediction_once_in_right_closed_bins():
    probabilities = minidl.tensor([[0.2, 0.8], [0.4, 0.6], [0.5, 0.5], [0.55, 0.45]])
    bins = reliability_bins(probabilities, minidl.tensor([1, 0, 0, 0]), n_bins=10)
    assert isinstance(bins, ReliabilityBins)
    np.testing.assert_allclose(host(bins.edges), np.linspace(0, 1, 11))
    np.testing.assert_array_equal(host(bins.count), [0, 0, 0, 0, 1, 2, 0, 1, 0, 0])  # 0.5 in (0.4, 0.5]
    np.testing.assert_allclose(host(bins.confidence)[[4, 5, 7]], [0.5, 0.575, 0.8])
    np.testing.assert_allclose(host(bins.accuracy)[[4, 5, 7]], [1.0, 0.5, 1.0])
    assert np.isnan(host(bins.accuracy)[0]) and np.isnan(host(bins.confidence)[9])


def test_a_classifier_that_is_always_right_and_sure_has_no_calibration_error():
    probabilities = F.one_hot(minidl.tensor([0, 2, 1]), 3).float()
    assert expected_calibration_error(probabilities, minidl.tensor([0, 2, 1])) == 0.0


BAD_CALIBRATION = {
    "logits": (lambda: (minidl.tensor([[2.0, -1.0], [0.5, 0.1]]), minidl.tensor([0, 1])), {}, ValueError,
               "F.softmax"),
    "one dimension": (lambda: (minidl.tensor([0.2, 0.8]), minidl.tensor([0, 1])), {}, ValueError, r"\(N, C\)"),
    "not a tensor": (lambda: ([[0.2, 0.8]], minidl.tensor([1])), {}, TypeError, "must be a Tensor"),
    "labels of the wrong length": (lambda: (minidl.tensor([[0.2, 0.8]]), minidl.tensor([1, 0])), {}, ValueError,
                                   r"shape \(1,\)"),
    "float labels": (lambda: (minidl.tensor([[0.2, 0.8]]), minidl.tensor([1.0])), {}, TypeError, "integer"),
    "label out of range": (lambda: (minidl.tensor([[0.2, 0.8]]), minidl.tensor([2])), {}, ValueError, r"\[0, 1\]"),
    "no bins": (lambda: (minidl.tensor([[0.2, 0.8]]), minidl.tensor([1])), {"n_bins": 0}, ValueError, "n_bins"),
    "float bins": (lambda: (minidl.tensor([[0.2, 0.8]]), minidl.tensor([1])), {"n_bins": 2.5}, TypeError, "n_bins"),
}


@pytest.mark.parametrize("function", [reliability_bins, expected_calibration_error])
@pytest.mark.parametrize("case", BAD_CALIBRATION)
def test_calibration_metrics_refuse_bad_input(case, function):
    make, options, error, message = BAD_CALIBRATION[case]
    with pytest.raises(error, match=message):
        function(*make(), **options)

