"""Data: map-style data sets, mini-batch loading (as ``torch.utils.data``) and the book's offline data sets."""

from minidl.data.dataset import (
    ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, default_collate, default_convert, random_split,
)
from minidl.data.datasets import (
    Split, load_digits, load_mnist_subset, load_text, make_circles, make_moons, make_spirals,
)
from minidl.data.loader import DataLoader
from minidl.data.sampler import (
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler,
)
from minidl.data.shapes import SHAPE_CLASSES, Shapes, make_shapes
from minidl.data.music import abc_to_audio, load_irish_songs, no_audio_reason  # noqa: F401
from minidl.data.text import split_corpus, unigram_cross_entropy, validation_windows  # noqa: F401
from minidl.data.faces import Faces, make_faces  # noqa: F401
from minidl.data.tokenizers import BPETokenizer, CharTokenizer  # noqa: F401
from minidl.data.toy2d import make_gaussian_ring, make_swiss_roll_2d, make_unpaired_domains, ring_centers  # noqa: F401
