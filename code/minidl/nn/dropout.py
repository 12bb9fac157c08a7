"""Dropout as a layer. Taught in "Overfitting and regularization" (``book/part1/regularization.md``)."""

from minidl.nn import functional as F
from minidl.nn.module import Module


class Dropout(Module):
    """Inverted dropout while training (``model.train()``); the identity in ``model.eval()``.

    ``p`` must lie in [0, 1] (ValueError otherwise, as in PyTorch); p = 1 drops everything.

    Taught in "Overfitting and regularization" (book/part1/regularization.md).
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
