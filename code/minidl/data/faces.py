"""A synthetic, deliberately biased "face detection" data set for the debiasing lab.

The course's lab trains a face detector on CelebA faces and ImageNet non-faces and measures it on faces
of four demographic groups. No face data set with demographic labels ships with the book's packages
(the lab downloads its own), so this module builds a stand-in with the same structure, from the 8x8
handwritten digits that scikit-learn bundles:

- "faces" are the digits, drawn on a dark background;
- the *rare subgroup* is the same kind of face on a bright background, ``x' = 0.55 + 0.45 x``, and
  makes up only ``rare_fraction`` of the training faces (the under-represented group);
- "non-faces" are blobs of smoothed, thresholded noise, half of them on the bright background.

Among bright training images almost every one is a non-face, so "bright background means non-face" is a
shortcut a classifier can learn; the test set holds as many bright faces as dark ones, so the shortcut
shows as a low recall on the rare group. The images carry no information about people at all: the
data set exists to make the statistics of an under-represented group visible, nothing more. Taught in
"Lab: debiasing a classifier with a VAE" (``book/part4/debiasing_lab.md``).
"""

import numbers
from collections import namedtuple

import numpy

from minidl.data.datasets import load_digits

BRIGHT_OFFSET = 0.55  # the bright background: x' = BRIGHT_OFFSET + (1 - BRIGHT_OFFSET) * x

Faces = namedtuple("Faces", ["X_train", "y_train", "group_train", "X_test", "y_test", "group_test"])
Faces.__doc__ = """The synthetic face data set: inputs, labels (1 = face) and groups (1 = bright background).

``X_*`` float32 of shape (N, 64) (or (N, 1, 8, 8)) in [0, 1]; ``y_*`` int64, 1 for a face and 0 for a
non-face; ``group_*`` int64, 1 for an image on the bright background and 0 for the dark one. The rare
subgroup is ``(y == 1) & (group == 1)``.

Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
"""


def make_faces(rare_fraction=0.03, test_fraction=0.3, seed=0, flatten=True):
    """Biased training data and balanced test data for a face detector, generated offline from digits.

    The 1,797 digits of ``load_digits`` are split into training and test faces (``test_fraction`` of
    each digit class for the test); ``rare_fraction`` of the training faces, and half of the test
    faces, are brightened (group 1). Each split gets as many non-face noise blobs as it has faces,
    half of them brightened. The rows are shuffled; the same ``seed`` gives the same arrays.

    Returns a ``Faces`` tuple (see its docstring for shapes and dtypes). Raises ValueError for a
    ``rare_fraction`` outside (0, 0.5] or a ``test_fraction`` outside (0, 1), TypeError for a seed
    that is not an int.

    Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
    """
    if not isinstance(rare_fraction, numbers.Real) or not 0 < rare_fraction <= 0.5:
        raise ValueError(f"make_faces: rare_fraction must be a number in (0, 0.5], got {rare_fraction!r}")
    if not isinstance(test_fraction, numbers.Real) or not 0 < test_fraction < 1:
        raise ValueError(f"make_faces: test_fraction must be a number in (0, 1), got {test_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"make_faces: seed must be an int, got {type(seed).__name__} {seed!r}")
    rng = numpy.random.default_rng(seed)
    digits = load_digits(test_fraction=test_fraction, seed=seed, flatten=False)
    parts = []
    for faces, bright_share in ((digits.X_train[:, 0], rare_fraction), (digits.X_test[:, 0], 0.5)):
        n_bright = max(1, int(round(len(faces) * bright_share)))
        face_group = numpy.zeros(len(faces), numpy.int64)
        face_group[rng.choice(len(faces), n_bright, replace=False)] = 1
        blobs = noise_blobs(len(faces), rng)
        blob_group = (rng.permutation(len(faces)) < len(faces) // 2).astype(numpy.int64)
        X = numpy.concatenate([faces, blobs])
        group = numpy.concatenate([face_group, blob_group])
        X[group == 1] = brighten(X[group == 1])
        y = numpy.concatenate([numpy.ones(len(faces), numpy.int64), numpy.zeros(len(faces), numpy.int64)])
        shuffle = rng.permutation(len(X))
        X = X[shuffle].reshape(len(X), -1) if flatten else X[shuffle][:, None]
        parts += [X, y[shuffle], group[shuffle]]
    return Faces(*parts)


def brighten(images):
    """The bright background of the rare group: ``0.55 + 0.45 x``, so 0 becomes 0.55 and 1 stays 1.

    ``images``: a float array in [0, 1] of any shape; returns a float32 array of the same shape.

    Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
    """
    return (BRIGHT_OFFSET + (1 - BRIGHT_OFFSET) * numpy.asarray(images)).astype(numpy.float32)


def noise_blobs(n, rng, size=8):
    """``n`` "non-face" images: smooth random blobs, thresholded, with the digits' ink levels.

    Noise on a 4x4 grid is interpolated up to ``size`` x ``size`` (so neighbouring pixels agree, as in
    strokes), and the brightest 20-40% of each image becomes ink of strength 0.5 to 1. ``rng`` is a
    ``numpy.random.Generator``. Returns float32 of shape (n, size, size) in [0, 1].

    Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
    """
    coarse = rng.normal(size=(n, 4, 4))
    position = numpy.linspace(0, 3, size)
    upsample = numpy.maximum(0, 1 - abs(position[:, None] - numpy.arange(4)[None, :]))  # linear interpolation
    smooth = numpy.einsum("ia,nab,jb->nij", upsample, coarse, upsample)
    n_ink = rng.integers(round(0.2 * size * size), round(0.4 * size * size) + 1, size=n)
    ranked = numpy.sort(smooth.reshape(n, -1), axis=1)[:, ::-1]
    threshold = ranked[numpy.arange(n), n_ink - 1]  # the n_ink-th brightest value of each image
    ink = rng.uniform(0.5, 1.0, size=(n, 1, 1))
    return ((smooth >= threshold[:, None, None]) * ink).astype(numpy.float32)
