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
    """``F.cross_entropy`` as a layer: softmax and negative log-likelihood of the target class, from logits.

    Taught in "Losses" (book/part1/losses.md) and "Optimization in practice" (book/part1/optimization.md).
    """
    function = staticmethod(F.cross_entropy)


class NLLLoss(_Loss):
    """``F.nll_loss`` as a layer: minus the log-probability of the target class, averaged.

    Taught in "Losses" (book/part1/losses.md).
    """
    function = staticmethod(F.nll_loss)


class BCELoss(_Loss):
    """``F.binary_cross_entropy`` as a layer, on probabilities: -(y log p + (1 - y) log(1 - p)).

    Taught in "Losses" (book/part1/losses.md).
    """
    function = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """``F.binary_cross_entropy_with_logits`` as a layer: the stable binary cross-entropy from a logit.

    Taught in "Losses" (book/part1/losses.md).
    """
    function = staticmethod(F.binary_cross_entropy_with_logits)


class MSELoss(_Loss):
    """``F.mse_loss`` as a layer: the mean squared error (y - y_hat)^2.

    Taught in "Losses" (book/part1/losses.md).
    """
    function = staticmethod(F.mse_loss)
