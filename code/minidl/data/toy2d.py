"""Two-dimensional toy distributions for generative models, generated on the host and never downloaded.

A generative model of points in the plane can be judged by eye and by exact counts: the ring of eight
Gaussians has known modes to count, the swiss roll a thin curved shape, and the pair of domains of
the cycle-consistency toy two shapes with no pairing between their points. Each function returns
host NumPy arrays (float32 points) and gives the same points for the same ``seed``.
"""

import numbers

import numpy


def _check_count(value, name, caller, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{caller}: {name} must be an int >= {minimum}, got {value!r}")


def _check_positive(value, name, caller, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not numpy.isfinite(value) or (
            value < 0 or (value == 0 and not allow_zero)):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{caller}: {name} must be a finite number {bound}, got {value!r}")


def ring_centers(n_modes=8, radius=2.0):
    """The centres of the ring of Gaussians: ``n_modes`` points evenly spaced on a circle.

    Centre k is (radius cos(2 pi k / n_modes), radius sin(2 pi k / n_modes)); returns float32 of shape
    (n_modes, 2). ValueError for ``n_modes`` < 1 or a ``radius`` that is not positive.

    Taught in "Generative adversarial networks" (book/part4/gans.md) and "Diffusion models" (book/part4/diffusion.md).
    """
    _check_count(n_modes, "n_modes", "ring_centers")
    _check_positive(radius, "radius", "ring_centers")
    angles = 2 * numpy.pi * numpy.arange(n_modes) / n_modes
    return (radius * numpy.stack([numpy.cos(angles), numpy.sin(angles)], axis=1)).astype(numpy.float32)


def make_gaussian_ring(n_samples=1000, n_modes=8, radius=2.0, std=0.02, seed=0):
    """Points from an equal mixture of ``n_modes`` narrow Gaussians on a circle: the mode-collapse test.

    Each point picks a mode uniformly and adds isotropic noise of standard deviation ``std`` to its
    centre (``ring_centers``). With the defaults (eight modes, radius 2, std 0.02) the modes are
    about 77 standard deviations apart, so every sample clearly belongs to one of them. Returns
    (X, modes): X float32 of shape (n_samples, 2), modes int64 of shape (n_samples,). ValueError for a
    count below 1 or a radius or std that is not positive.

    Taught in "Generative adversarial networks" (book/part4/gans.md) and "Diffusion models" (book/part4/diffusion.md).
    """
    _check_count(n_samples, "n_samples", "make_gaussian_ring")
    _check_positive(std, "std", "make_gaussian_ring")
    centers = ring_centers(n_modes, radius).astype(numpy.float64)
    rng = numpy.random.default_rng(seed)
    modes = rng.integers(0, n_modes, n_samples)
    X = centers[modes] + rng.normal(0.0, std, (n_samples, 2))
    return X.astype(numpy.float32), modes.astype(numpy.int64)


def make_swiss_roll_2d(n_samples=1000, noise=0.3, scale=0.1, seed=0):
    """The swiss roll seen from its axis: a spiral sheet in the plane, scaled to about [-1, 1].

    The same curve as scikit-learn's ``make_swiss_roll`` projected on its two curved coordinates:
    t = 1.5 pi (1 + 2u) with u uniform on [0, 1), the point (t cos t, t sin t) plus Gaussian noise of
    standard deviation ``noise`` (in the roll's own units, as scikit-learn's), all multiplied by
    ``scale``. Returns (X, t): X float32 of shape (n_samples, 2), t float32 of shape (n_samples,),
    the position along the roll (for colouring). ValueError for ``n_samples`` < 1, a negative
    ``noise`` or a ``scale`` that is not positive.

    Taught in "Diffusion models" (book/part4/diffusion.md).
    """
    _check_count(n_samples, "n_samples", "make_swiss_roll_2d")
    _check_positive(noise, "noise", "make_swiss_roll_2d", allow_zero=True)
    _check_positive(scale, "scale", "make_swiss_roll_2d")
    rng = numpy.random.default_rng(seed)
    t = 1.5 * numpy.pi * (1 + 2 * rng.uniform(size=n_samples))
    X = numpy.stack([t * numpy.cos(t), t * numpy.sin(t)], axis=1) + rng.normal(0.0, noise, (n_samples, 2))
    return (scale * X).astype(numpy.float32), t.astype(numpy.float32)


def make_unpaired_domains(n_samples=1000, seed=0):
    """Two unpaired 2-D domains for the cycle-consistency toy: a disk and a bar.

    Domain A is uniform in the unit disk; domain B is uniform in the rectangle [-1.5, 1.5] x
    [-0.5, 0.5]. The two sets are drawn independently, so no point of A has a partner in B: a
    translator between them must be learnt from the two distributions alone, as CycleGAN's
    horses and zebras. Returns (A, B), both float32 of shape (n_samples, 2). ValueError for
    ``n_samples`` < 1.

    Taught in "Generative adversarial networks" (book/part4/gans.md).
    """
    _check_count(n_samples, "n_samples", "make_unpaired_domains")
    rng = numpy.random.default_rng(seed)
    radius = numpy.sqrt(rng.uniform(size=n_samples))       # uniform in area, not in radius
    angle = rng.uniform(0.0, 2 * numpy.pi, n_samples)
    A = numpy.stack([radius * numpy.cos(angle), radius * numpy.sin(angle)], axis=1)
    B = rng.uniform(-1.0, 1.0, (n_samples, 2)) * numpy.array([1.5, 0.5])
    return A.astype(numpy.float32), B.astype(numpy.float32)
