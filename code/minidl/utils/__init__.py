"""PyTorch's ``torch.utils`` namespace: ``minidl.utils.data`` is ``torch.utils.data``."""

from minidl.utils import data  # noqa: F401
