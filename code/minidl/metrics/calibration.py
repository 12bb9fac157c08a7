"""How well a classifier's confidence matches its accuracy: reliability-diagram bins and the expected
calibration error (ECE) of Guo et al., "On calibration of modern neural networks" (2017).

The predictions are sorted by confidence (the largest class probability) into equal-width bins; in a
calibrated model, the examples predicted with confidence about 0.8 are right about 80% of the time.
"""

from typing import NamedTuple

from minidl import backend
from minidl.nn.functional.checks import check_class_indices, check_size
from minidl.tensor import Tensor


class ReliabilityBins(NamedTuple):
    """The bins of a reliability diagram, each field a Tensor with one entry per bin (float64).

    ``edges`` (n_bins + 1,): the bin boundaries 0, 1/n_bins, ..., 1; bin b holds the confidences in
    (edges[b], edges[b + 1]] (the first bin also holds 0). ``confidence``: the mean confidence of the
    examples in each bin; ``accuracy``: the fraction of them predicted right (both NaN for an empty
    bin); ``count``: how many examples fell into each bin.

    Taught in "Uncertainty" (book/part6/uncertainty.md).
    """

    edges: Tensor
    confidence: Tensor
    accuracy: Tensor
    count: Tensor


def _confidence_and_correct(probabilities, target, name):
    """The largest probability of each row and whether its class is the target, after checking both."""
    if not isinstance(probabilities, Tensor):
        raise TypeError(f"{name}: probabilities must be a Tensor of shape (N, C), got {type(probabilities).__name__}")
    if probabilities.ndim != 2 or probabilities.shape[1] < 2 or probabilities.dtype.kind != "f":
        raise ValueError(
            f"{name}: probabilities must be floating, of shape (N, C) with C >= 2 classes, got shape "
            f"{probabilities.shape} and dtype {probabilities.dtype}"
        )
    xp = backend.xp()
    p = probabilities.detach().data
    if p.size and not (bool(((p >= 0) & (p <= 1)).all()) and bool((xp.abs(p.sum(axis=1) - 1) < 1e-3).all())):
        raise ValueError(
            f"{name}: each row of probabilities must lie in [0, 1] and sum to 1 (got values from {float(p.min())} "
            f"to {float(p.max())}); for logits apply F.softmax(logits, dim=1) first"
        )
    target = target if isinstance(target, Tensor) else Tensor(target)
    if target.shape != probabilities.shape[:1]:
        raise ValueError(f"{name}: target must have shape ({probabilities.shape[0]},), got {target.shape}")
    check_class_indices(target, probabilities.shape[1], name)
    return p.max(axis=1), p.argmax(axis=1) == target.data  # the confidence keeps the input's dtype


def reliability_bins(probabilities, target, n_bins=15):
    """Sort predictions into ``n_bins`` equal-width bins of confidence; return each bin's statistics.

    ``probabilities`` (N, C): each row a probability distribution over C classes (a softmax's output);
    ``target`` (N,): the true class indices. Returns ``ReliabilityBins`` (edges, mean confidence,
    accuracy and count of each bin): a reliability diagram plots accuracy against confidence.
    TypeError or ValueError for a non-Tensor, a wrong shape, rows that are not distributions (logits,
    say) or bad class indices; ValueError or TypeError for an ``n_bins`` that is not a positive int.

    Taught in "Uncertainty" (book/part6/uncertainty.md).
    """
    n_bins = check_size("reliability_bins", "n_bins", n_bins)
    confidence, correct = _confidence_and_correct(probabilities, target, "reliability_bins")
    xp = backend.xp()
    edges = xp.linspace(0.0, 1.0, n_bins + 1)
    # compared in the input's dtype, so that a float32 confidence of 0.6 lies on the float32 edge 0.6
    upper, lower = edges[1:].astype(confidence.dtype), edges[:-1].astype(confidence.dtype)
    lower[0] = -1  # the first bin also holds confidence 0
    in_bin = (confidence[:, None] > lower[None, :]) & (confidence[:, None] <= upper[None, :])
    confidence = confidence.astype(backend.float64)
    count = in_bin.sum(axis=0)
    occupied = xp.maximum(count, 1)
    mean_confidence = xp.where(count > 0, (in_bin * confidence[:, None]).sum(axis=0) / occupied, xp.nan)
    accuracy = xp.where(count > 0, (in_bin * correct[:, None]).sum(axis=0) / occupied, xp.nan)
    return ReliabilityBins(Tensor(edges), Tensor(mean_confidence), Tensor(accuracy), Tensor(count))


def expected_calibration_error(probabilities, target, n_bins=15):
    """ECE = sum over bins b of (n_b / N) |accuracy_b - confidence_b|: the confidence gap, weighted by use.

    Arguments as ``reliability_bins``; empty bins count for nothing. Returns a Python float in [0, 1]:
    0 for a calibrated model, at most 1. Errors as ``reliability_bins``.

    Taught in "Uncertainty" (book/part6/uncertainty.md).
    """
    bins = reliability_bins(probabilities, target, n_bins)
    xp = backend.xp()
    count = bins.count.data
    gaps = xp.where(count > 0, xp.abs(bins.accuracy.data - bins.confidence.data), 0.0)
    return float((gaps * count).sum() / max(int(count.sum()), 1))
