"""Dropout as a layer. Taught in "Overfitting and regularization" (``book/part1/regularization.md``)."""

from minidl.nn import functional as F
from minidl.nn.module import Module


class Dropout(Module):
    """Inverted dropout while training (``model.train()``); the identity in ``model.eval()``.

    Taught in "Overfitting and regularization" (book/part1/regularization.md).
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
