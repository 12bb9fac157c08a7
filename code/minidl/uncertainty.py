"""Wrappers that make any model report how uncertain it is, named as the course's uncertainty lab named them.

The lab used the Capsa package (now withdrawn from the package index); these stand in for it:

- ``MVEWrapper``: a mean and a variance head on a network's features, trained with
  ``F.gaussian_nll_loss``: the variance is the noise in the data (aleatoric uncertainty);
- ``EnsembleWrapper`` and ``DropoutWrapper``: several predictions, from independently initialized
  members or from Monte Carlo dropout; their spread is the model's own doubt (epistemic uncertainty);
- ``TemperatureScaling``: one number T that divides a classifier's logits, fitted on held-out data so
  that its confidence matches its accuracy.
"""

import math
from typing import NamedTuple, Optional

from minidl import backend
from minidl.nn import Dropout, Linear, Module, ModuleList
from minidl.nn import functional as F
from minidl.nn.functional.checks import check_class_indices, check_size
from minidl.tensor import Tensor, cat, no_grad, stack


class Prediction(NamedTuple):
    """What ``EnsembleWrapper`` and ``DropoutWrapper`` return, each of the shape of one prediction.

    ``mean``: the average of the S predictions; ``epistemic``: their variance (divided by S, not
    S - 1); ``aleatoric``: the average of the predicted noise variances when the wrapped model is an
    ``MVEWrapper`` (its output is a pair (mean, variance)), else None. Their sum is the total
    predictive variance (the law of total variance).

    Taught in "Uncertainty" (book/part6/uncertainty.md).
    """

    mean: Tensor
    aleatoric: Optional[Tensor]
    epistemic: Tensor


def _check_module(owner, name, value):
    if not isinstance(value, Module):
        raise TypeError(f"{owner}: {name} must be an nn.Module, got {type(value).__name__}")


def _restore(modes):
    """Put each module back in the mode (training or evaluation) it had: (module, training) pairs."""
    for module, training in modes:
        object.__setattr__(module, "training", training)


def _stack_samples(outputs):
    """S outputs as one tensor (S, ...), or, for (mean, variance) pairs, a pair of such tensors."""
    if isinstance(outputs[0], tuple):
        return stack([mean for mean, _ in outputs]), stack([variance for _, variance in outputs])
    return stack(outputs)


def summarize(samples):
    """The ``Prediction`` of S sampled outputs: their mean, their spread, and the mean predicted noise.

    ``samples`` is a tensor (S, N, ...) of S predictions, or a pair (means, variances) of such tensors
    from a model that predicts a variance. The epistemic variance is the spread of the means over the
    S samples, the aleatoric one the average of the variances.

    Taught in "Uncertainty" (book/part6/uncertainty.md).
    """
    if isinstance(samples, tuple):
        means, variances = samples
        return Prediction(means.mean(0), variances.mean(0), means.var(0, unbiased=False))
    return Prediction(samples.mean(0), None, samples.var(0, unbiased=False))


class MVEWrapper(Module):
    """Mean-variance estimation: a network's features feed a mean head and a variance head.

    ``model`` maps an input to features of shape (N, ``in_features``); the wrapper returns the pair
    (mean, variance), each (N, ``out_features``), the variance softplus(linear) + ``min_variance`` so
    that it is positive. Train it with ``F.gaussian_nll_loss(mean, target, variance)``: the variance then
    learns the noise of the data around the mean (aleatoric uncertainty). TypeError if ``model`` is not
    a Module; ValueError for a size below 1 or features of the wrong width.

    Taught in "Uncertainty" (book/part6/uncertainty.md).
    """

    def __init__(self, model, in_features, out_features=1, min_variance=1e-6):
        super().__init__()
        _check_module("MVEWrapper", "model", model)
        self.in_features = check_size("MVEWrapper", "in_features", in_features)
        self.out_features = check_size("MVEWrapper", "out_features", out_features)
        if not min_variance >= 0:
            raise ValueError(f"MVEWrapper: min_variance must be at least 0, got {min_variance}")
        self.min_variance = min_variance
        self.model = model
        self.mean_head = Linear(in_features, out_features)
        self.variance_head = Linear(in_features, out_features)

    def forward(self, input):
        features = self.model(input)
        if features.shape[-1] != self.in_features:
            raise ValueError(
                f"MVEWrapper: the model returned features of shape {features.shape}, but the heads were "
                f"built for in_features={self.in_features}"
            )
        variance = F.softplus(self.variance_head(features)) + self.min_variance
        return self.mean_head(features), variance


class EnsembleWrapper(Module):
    """A deep ensemble: ``num_members`` copies of a model, each initialized by its own random draw.

    ``make_member`` is a function that builds a fresh model on each call (``lambda: make_net()``); the
    members differ only by their initialization (and by the order of their batches, if trained so).
    ``samples(x)`` gives the members' predictions stacked, (M, N, ...); calling the wrapper gives their
    ``Prediction``. Train the members together on the sum (or mean) of their losses: each receives
    only the gradient of its own loss. TypeError if ``make_member`` is a model rather than a function
    that makes one, or makes something that is not a Module; ValueError for fewer than 2 members or a
    function that returns the same model twice.

    Taught in "Uncertainty" (book/part6/uncertainty.md).
    """

    def __init__(self, make_member, num_members=5):
        super().__init__()
        if isinstance(make_member, Module) or not callable(make_member):
            raise TypeError(
                "EnsembleWrapper: make_member must be a function that builds a new model on each call, "
                f"e.g. lambda: nn.Sequential(...); got {type(make_member).__name__} (one model copied "
                "M times would give M identical members)"
            )
        num_members = check_size("EnsembleWrapper", "num_members", num_members)
        if num_members < 2:
            raise ValueError(f"EnsembleWrapper: num_members must be at least 2 to have a spread, got {num_members}")
        members = [make_member() for _ in range(num_members)]
        for member in members:
            _check_module("EnsembleWrapper", "each member that make_member returns", member)
        if len({id(member) for member in members}) < num_members:
            raise ValueError("EnsembleWrapper: make_member returned the same model twice; it must build a new one")
        self.members = ModuleList(members)

    def samples(self, input):
        """Each member's prediction, stacked: (M, N, ...), or a (means, variances) pair of those.

        Taught in "Uncertainty" (book/part6/uncertainty.md).
        """
        return _stack_samples([member(input) for member in self.members])

    def forward(self, input):
        return summarize(self.samples(input))


class DropoutWrapper(Module):
    """Monte Carlo dropout: ``num_samples`` predictions with the dropout layers on, the rest in eval mode.

    Dropout turned on at prediction time makes each forward pass a different thinned network; the
    spread of their predictions estimates the epistemic uncertainty. The model is trained as usual
    (with its ``nn.Dropout`` layers); ``samples(x)`` then runs the S passes as one batch of S copies
    of x, with every ``nn.Dropout`` in training mode and every other layer (batch normalization, for
    instance) in evaluation mode, and restores each layer's mode afterwards. Calling the wrapper gives
    their ``Prediction``. TypeError if ``model`` is not a Module; ValueError if it has no nn.Dropout
    layer or ``num_samples`` is below 2.

    Taught in "Uncertainty" (book/part6/uncertainty.md).
    """

    def __init__(self, model, num_samples=20):
        super().__init__()
        _check_module("DropoutWrapper", "model", model)
        if not any(isinstance(module, Dropout) for module in model.modules()):
            raise ValueError(
                "DropoutWrapper: the model has no nn.Dropout layer, so every pass would give the same "
                "prediction; add nn.Dropout(p) after its hidden layers and train it with them"
            )
        num_samples = check_size("DropoutWrapper", "num_samples", num_samples)
        if num_samples < 2:
            raise ValueError(f"DropoutWrapper: num_samples must be at least 2 to have a spread, got {num_samples}")
        self.model, self.num_samples = model, num_samples

    def samples(self, input):
        """``num_samples`` predictions with dropout on: (S, N, ...), or a (means, variances) pair of those.

        Taught in "Uncertainty" (book/part6/uncertainty.md).
        """
        modes = [(module, module.training) for module in self.model.modules()]
        self.model.eval()
        for module, _ in modes:
            if isinstance(module, Dropout):
                module.train()
        try:
            output = self.model(cat([input] * self.num_samples))  # S copies, each with its own dropout mask
        finally:
            _restore(modes)
        shape = (self.num_samples, input.shape[0])
        if isinstance(output, tuple):
            return tuple(part.reshape(shape + part.shape[1:]) for part in output)
        return output.reshape(shape + output.shape[1:])

    def forward(self, input):
        return summarize(self.samples(input))


def _nll_slope(logits, labels, inverse_temperature):
    """d/d(beta) of the mean cross-entropy of softmax(beta z): the mean over examples of E_p[z] - z_y."""
    xp = backend.xp()
    scaled = inverse_temperature * logits
    probabilities = xp.exp(scaled - scaled.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    expected = (probabilities * logits).sum(axis=1)
    return float((expected - logits[xp.arange(len(labels)), labels]).mean())


def fit_temperature(logits, target, min_temperature=1e-2, max_temperature=1e2):
    """The temperature T that minimizes the cross-entropy of softmax(logits / T) against ``target``.

    ``logits`` (N, C) floating, ``target`` (N,) class indices. The loss is convex in beta = 1 / T with
    derivative mean(E_p[z] - z_y) (the expected logit under the scaled softmax minus the true class's),
    so the derivative's zero is found by bisection (on log beta, 60 halvings); a T beyond the bounds is
    returned as the bound. Returns a Python float. ValueError for wrong shapes or bounds, TypeError or
    ValueError for bad class indices, as ``cross_entropy``.

    Taught in "Uncertainty" (book/part6/uncertainty.md).
    """
    if not isinstance(logits, Tensor) or logits.ndim != 2 or logits.dtype.kind != "f":
        got = f"shape {logits.shape}, dtype {logits.dtype}" if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"fit_temperature: logits must be a floating Tensor of shape (N, C), got {got}")
    target = target if isinstance(target, Tensor) else Tensor(target)
    if target.shape != logits.shape[:1]:
        raise ValueError(f"fit_temperature: target must have shape ({logits.shape[0]},), got {target.shape}")
    check_class_indices(target, logits.shape[1], "fit_temperature")
    if not 0 < min_temperature < max_temperature:
        raise ValueError(
            f"fit_temperature: need 0 < min_temperature < max_temperature, got {min_temperature}, {max_temperature}"
        )
    z, y = logits.detach().data.astype(backend.float64), target.data
    low, high = -math.log(max_temperature), -math.log(min_temperature)  # log beta
    if _nll_slope(z, y, math.exp(low)) >= 0:
        return float(max_temperature)
    if _nll_slope(z, y, math.exp(high)) <= 0:
        return float(min_temperature)
    for _ in range(60):  # the slope rises with beta: keep the zero between low and high
        middle = (low + high) / 2
        if _nll_slope(z, y, math.exp(middle)) < 0:
            low = middle
        else:
            high = middle
    return math.exp(-(low + high) / 2)


class TemperatureScaling(Module):
    """A classifier whose logits are divided by one temperature T, fitted on held-out data.

    T > 1 softens over-confident probabilities, T < 1 sharpens under-confident ones; the predicted
    class (the arg max) never changes, so accuracy does not either. ``fit(inputs, target)`` runs the
    model in evaluation mode on a validation set and sets ``temperature`` (a float, 1 until fitted) by
    ``fit_temperature``; calling the wrapper returns model(x) / T. TypeError if ``model`` is not a Module.

    Taught in "Uncertainty" (book/part6/uncertainty.md).
    """

    def __init__(self, model):
        super().__init__()
        _check_module("TemperatureScaling", "model", model)
        self.model = model
        self.temperature = 1.0

    def fit(self, input, target):
        """Set ``temperature`` to minimize the cross-entropy on (``input``, ``target``); returns self.

        Taught in "Uncertainty" (book/part6/uncertainty.md).
        """
        modes = [(module, module.training) for module in self.model.modules()]
        self.model.eval()
        try:
            with no_grad():
                logits = self.model(input)
        finally:
            _restore(modes)
        self.temperature = fit_temperature(logits, target)
        return self

    def forward(self, input):
        return self.model(input) / self.temperature
