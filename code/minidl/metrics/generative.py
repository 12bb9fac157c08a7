"""How good a generative model's samples are, when the data's distribution is known or sampled.

Two measures that need no trained network, so they judge a GAN and a diffusion model alike:

- ``mode_coverage``: for a mixture of narrow Gaussians with known centres, how many modes the samples
  reach and what fraction of them land close to a mode (within k standard deviations): the usual
  test of mode collapse on the ring of Gaussians;
- ``energy_distance``: a distance between two sets of samples, zero when their distributions agree,
  which catches a wrong shape as well as a wrong spread.

Both take Tensors or arrays of shape (N, D) and compute on the current backend in float64.
"""

import numbers
from collections import namedtuple

from minidl import backend
from minidl.tensor import Tensor, tensor

ModeCoverage = namedtuple("ModeCoverage", ["modes_covered", "fraction_within", "counts"])
ModeCoverage.__doc__ = """The result of ``mode_coverage``: ``(modes_covered, fraction_within, counts)``.

``modes_covered`` (int): modes that received at least ``min_fraction`` of the samples within k std;
``fraction_within`` (float): the fraction of all samples within k std of their nearest mode;
``counts`` (list of ints, one per mode): how many samples landed within k std of that mode.

Taught in "Generative adversarial networks" (book/part4/gans.md).
"""


def _points(values, name, caller):
    """``values`` as a float64 backend array of shape (N, D) with N >= 1, or a clear error."""
    if isinstance(values, Tensor):
        array = values.detach().data
    else:
        try:
            array = tensor(values).data
        except (TypeError, ValueError) as error:
            raise TypeError(f"{caller}: {name} must be a Tensor or an array of shape (N, D), got {type(values).__name__}") from error
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{caller}: {name} must be a Tensor or an array of real numbers, got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{caller}: {name} must have shape (N, D) with N, D >= 1, got shape {tuple(array.shape)}")
    array = array.astype(backend.float64)
    if not bool(backend.xp().isfinite(array).all()):
        raise ValueError(f"{caller}: {name} holds NaN or infinite values")
    return array


def _pairwise_distances(x, y):
    """Euclidean distances between the rows of x (N, D) and y (M, D), as an (N, M) array."""
    xp = backend.xp()
    # |x|^2 + |y|^2 - 2 x.y, computed in place in the (N, M) product: the same numbers as the written-out
    # expression, with two fewer arrays of N M entries to allocate and fill
    squared = x @ y.T
    squared *= -2.0
    squared += (x * x).sum(axis=1)[:, None] + (y * y).sum(axis=1)[None, :]
    xp.maximum(squared, 0.0, out=squared)
    return xp.sqrt(squared, out=squared)


def _positive(value, name, caller):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0 or value == float("inf"):
        raise ValueError(f"{caller}: {name} must be a finite number > 0, got {value!r}")


def mode_coverage(samples, centers, std, k=3.0, min_fraction=0.01):
    """Count the modes of a Gaussian mixture that ``samples`` cover, and how many samples are close to one.

    Each sample is assigned to its nearest centre and counts for it when it lies within ``k * std`` of
    it (a "high-quality" sample, the 3-sigma rule of VEEGAN and PacGAN for the ring of Gaussians). A
    mode is covered when at least ``min_fraction`` of all samples count for it, so that a few stray
    points do not make a mode. ``samples``: (N, D) Tensor or array; ``centers``: (K, D); ``std``: the
    mixture's standard deviation (same units as the samples); ``k`` > 0; ``min_fraction`` in [0, 1].
    Returns a ``ModeCoverage`` (modes_covered, fraction_within, counts) of Python numbers. ValueError
    for shapes that are not (N, D) and (K, D) with the same D, non-finite values, or a ``std``, ``k`` or
    ``min_fraction`` out of range; TypeError for an input that is not numeric.

    Taught in "Generative adversarial networks" (book/part4/gans.md) and "Diffusion models" (book/part4/diffusion.md).
    """
    x = _points(samples, "samples", "mode_coverage")
    c = _points(centers, "centers", "mode_coverage")
    if x.shape[1] != c.shape[1]:
        raise ValueError(f"mode_coverage: samples have {x.shape[1]} coordinates but centers have {c.shape[1]}")
    _positive(std, "std", "mode_coverage")
    _positive(k, "k", "mode_coverage")
    if isinstance(min_fraction, bool) or not isinstance(min_fraction, numbers.Real) or not 0 <= min_fraction <= 1:
        raise ValueError(f"mode_coverage: min_fraction must be a number in [0, 1], got {min_fraction!r}")
    xp = backend.xp()
    distances = _pairwise_distances(x, c)
    nearest = distances.argmin(axis=1)
    within = distances.min(axis=1) <= k * std
    counts = [int((within & (nearest == mode)).sum()) for mode in range(c.shape[0])]
    threshold = min_fraction * x.shape[0]
    covered = sum(1 for count in counts if count > 0 and count >= threshold)
    return ModeCoverage(covered, float(xp.mean(within.astype(backend.float64)).item()), counts)


def energy_distance(x, y):
    """The (squared) energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'| between two sets of samples.

    Szekely and Rizzo's statistic, with |.| the Euclidean norm and each expectation the mean over all
    pairs of the two sets (the V-statistic, pairs of a point with itself included). It is 0 for two
    identical sets and, for large samples, 0 exactly when the two distributions agree; unlike a
    comparison of means and variances it also sees a wrong shape. SciPy's ``energy_distance`` (1-D
    only) returns the square root of this value. ``x``: (N, D) and ``y``: (M, D), Tensors or arrays with
    the same D; returns a Python float in the units of the samples. Costs N M distances: subsample
    sets of more than a few thousand points. ValueError for shapes that are not (N, D) and (M, D) with
    the same D or for non-finite values; TypeError for an input that is not numeric.

    Taught in "Generative adversarial networks" (book/part4/gans.md) and "Diffusion models" (book/part4/diffusion.md).
    """
    a = _points(x, "x", "energy_distance")
    b = _points(y, "y", "energy_distance")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"energy_distance: x has {a.shape[1]} coordinates but y has {b.shape[1]}")
    between = _pairwise_distances(a, b).mean()
    within_x = _pairwise_distances(a, a).mean()
    within_y = _pairwise_distances(b, b).mean()
    return float((2.0 * between - within_x - within_y).item())
