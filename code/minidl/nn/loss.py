"""Losses as layers, wrapping ``minidl.nn.functional``. Taught in "Losses" (``book/part1/losses.md``)."""

from minidl.nn import functional as F
from minidl.nn.module import Module


class _Loss(Module):
    function = None

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        return type(self).function(input, target, reduction=self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    function = staticmethod(F.cross_entropy)


class NLLLoss(_Loss):
    function = staticmethod(F.nll_loss)


class BCELoss(_Loss):
    function = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    function = staticmethod(F.binary_cross_entropy_with_logits)


class MSELoss(_Loss):
    function = staticmethod(F.mse_loss)
