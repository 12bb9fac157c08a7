"""``torch.utils.data`` under its PyTorch name: the data sets, samplers, ``DataLoader`` and collation of
``minidl.data``.

``from minidl.utils.data import DataLoader, TensorDataset, random_split`` runs a PyTorch training
loop's imports unchanged; the names are the same objects as ``minidl.data``'s.
"""

from minidl.data.dataset import (  # noqa: F401
    ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, default_collate, default_convert, random_split,
)
from minidl.data.loader import DataLoader  # noqa: F401
from minidl.data.sampler import (  # noqa: F401
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler,
)

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset", "RandomSampler", "Sampler",
           "SequentialSampler", "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
           "default_collate", "default_convert", "random_split"]
