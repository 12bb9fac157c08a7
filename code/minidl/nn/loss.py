"""Losses as layers, wrapping ``minidl.nn.functional``. Taught in "Losses" (``book/part1/losses.md``).

A loss layer is built once from its options and then called on the data, as in PyTorch:
``loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1); loss = loss_fn(logits, target)``.
"""

from minidl.nn import functional as F
from minidl.nn.module import Module
from minidl.tensor import Tensor


def _is_data(value):
    return isinstance(value, Tensor) or hasattr(value, "shape")


class _Loss(Module):
    """What every loss layer shares: options at construction, (input, target) at the call."""

    function = None
    _tensor_options = 0  # how many leading positional arguments may be tensors (the class weights)

    def __new__(cls, *args, **kwargs):
        # nn.CrossEntropyLoss(logits, target) would otherwise take the logits for the class weights
        if any(_is_data(value) for value in args[cls._tensor_options:]):
            raise TypeError(
                f"{cls.__name__} got the data as constructor arguments: a loss is built first and then "
                f"called, loss_fn = nn.{cls.__name__}(); loss = loss_fn(input, target)"
            )
        return super().__new__(cls)

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def _options(self):
        """The keyword arguments passed to ``function`` besides input and target."""
        return {"reduction": self.reduction}

    def forward(self, input, target):
        return type(self).function(input, target, **self._options())

    def extra_repr(self):
        return f"reduction={self.reduction!r}"

    def _register_tensor_option(self, name, value):
        """A tensor option (class weights) is a buffer, saved in the state dict as in PyTorch; None is not."""
        if value is None:
            object.__setattr__(self, name, None)
        else:
            self.register_buffer(name, value if isinstance(value, Tensor) else Tensor(value))


class _WeightedLoss(_Loss):
    _tensor_options = 1

    def __init__(self, weight=None, *, reduction="mean"):
        super().__init__(reduction)
        self._register_tensor_option("weight", weight)

    def _options(self):
        return {**super()._options(), "weight": self.weight}


class CrossEntropyLoss(_WeightedLoss):
    """``F.cross_entropy`` as a layer: softmax and negative log-likelihood of the target class, from logits.

    Options as in PyTorch: ``weight`` (C,) per class, ``ignore_index``, ``reduction``, ``label_smoothing``.
    Built first, then called: ``nn.CrossEntropyLoss()(logits, target)``.

    Taught in "Losses" (book/part1/losses.md) and "Optimization in practice" (book/part1/optimization.md).
    """
    function = staticmethod(F.cross_entropy)

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction=reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def _options(self):
        return {**super()._options(), "ignore_index": self.ignore_index, "label_smoothing": self.label_smoothing}


class NLLLoss(_WeightedLoss):
    """``F.nll_loss`` as a layer: minus the log-probability of the target class, averaged.

    Options as in PyTorch: ``weight`` (C,) per class, ``ignore_index``, ``reduction``.

    Taught in "Losses" (book/part1/losses.md).
    """
    function = staticmethod(F.nll_loss)

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean"):
        super().__init__(weight, reduction=reduction)
        self.ignore_index = ignore_index

    def _options(self):
        return {**super()._options(), "ignore_index": self.ignore_index}


class BCELoss(_WeightedLoss):
    """``F.binary_cross_entropy`` as a layer, on probabilities: -(y log p + (1 - y) log(1 - p)).

    ``weight`` rescales each entry (it broadcasts to the input), as in PyTorch.

    Taught in "Losses" (book/part1/losses.md).
    """
    function = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_WeightedLoss):
    """``F.binary_cross_entropy_with_logits`` as a layer: the stable binary cross-entropy from a logit.

    ``weight`` rescales each entry and ``pos_weight`` (one per class) the positive examples, as in PyTorch.

    Taught in "Losses" (book/part1/losses.md).
    """
    function = staticmethod(F.binary_cross_entropy_with_logits)

    def __init__(self, weight=None, *, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction=reduction)
        self._register_tensor_option("pos_weight", pos_weight)

    def _options(self):
        return {**super()._options(), "pos_weight": self.pos_weight}


class MSELoss(_Loss):
    """``F.mse_loss`` as a layer: the mean squared error (y - y_hat)^2.

    Taught in "Losses" (book/part1/losses.md).
    """
    function = staticmethod(F.mse_loss)

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)


class GaussianNLLLoss(_Loss):
    """``F.gaussian_nll_loss`` as a layer: minus the log-likelihood of the target under Normal(input, var).

    Options as in PyTorch, keyword-only: ``full`` (add log(2 pi) / 2), ``eps`` (the floor of the
    variance), ``reduction``. Called with three tensors: ``nn.GaussianNLLLoss()(mean, target, var)``.

    Taught in "Uncertainty" (book/part6/uncertainty.md).
    """
    function = staticmethod(F.gaussian_nll_loss)

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction)
        self.full, self.eps = full, eps

    def _options(self):
        return {**super()._options(), "full": self.full, "eps": self.eps}

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, **self._options())

    def extra_repr(self):
        return f"full={self.full}, eps={self.eps}, reduction={self.reduction!r}"
