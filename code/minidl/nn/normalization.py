"""Normalization layers: standardize activations, then rescale with learned weights.

``LayerNorm`` standardizes each example's features; transformers put one before (pre-norm) or after
(post-norm) every sublayer so activations keep a steady scale however deep the stack. Taught in
"Attention and transformers" (``book/part2/attention.md``). ``BatchNorm1d`` and ``BatchNorm2d``
standardize each channel over the batch, and keep running statistics for evaluation.
"""


from minidl import backend
from minidl.nn import init
from minidl.nn.functional.checks import check_input_tensor, check_size, normalized_shape_tuple
from minidl.nn.functional.normalization import batch_norm, layer_norm
from minidl.nn.module import Module, Parameter
from minidl.tensor import Tensor, no_grad


class LayerNorm(Module):
    """Normalize over the trailing ``normalized_shape`` dimensions, with a learned scale and shift.

    ``weight`` starts at ones and ``bias`` at zeros (as in PyTorch), so the layer starts as a pure
    standardization.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True):
        super().__init__()
        self.normalized_shape = normalized_shape_tuple(normalized_shape)
        if any(n <= 0 for n in self.normalized_shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive, got {self.normalized_shape}")
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            xp = backend.xp()
            self.weight = Parameter(xp.empty(self.normalized_shape, dtype=backend.float32))
            self.bias = Parameter(xp.empty(self.normalized_shape, dtype=backend.float32))
            init.ones_(self.weight)
            init.zeros_(self.bias)
        else:
            self.weight = self.bias = None

    def forward(self, input):
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share: parameters, running statistics and the train/eval switch.

    ``weight`` (ones) and ``bias`` (zeros) have ``num_features`` entries when ``affine`` (``bias=False``
    leaves the shift out). With ``track_running_stats`` the buffers ``running_mean`` (zeros),
    ``running_var`` (ones) and ``num_batches_tracked`` (an int64 count) are part of ``state_dict()``;
    without, they are None and evaluation normalizes with the batch's statistics too. ``momentum``
    weighs each batch in the running statistics; None makes them the plain average of every batch seen
    (momentum 1 / num_batches_tracked).
    """

    _dims = ()  # the input dimensions the layer accepts

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True):
        super().__init__()
        self.num_features = check_size(type(self).__name__, "num_features", num_features)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        xp = backend.xp()
        self.weight = Parameter(xp.empty((self.num_features,), dtype=backend.float32)) if affine else None
        self.bias = Parameter(xp.empty((self.num_features,), dtype=backend.float32)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(xp.zeros((self.num_features,), dtype=backend.float32)))
            self.register_buffer("running_var", Tensor(xp.ones((self.num_features,), dtype=backend.float32)))
            self.register_buffer("num_batches_tracked", Tensor(xp.zeros((), dtype=backend.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        self.reset_parameters()

    def reset_running_stats(self):
        """Running mean 0, running variance 1 and no batch counted, as after construction."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        """The running statistics reset, the scale to ones and the shift to zeros."""
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        check_input_tensor(self, input)
        if input.ndim not in self._dims:
            expected = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"expected {expected} input (got {input.ndim}D input)")
        if input.shape[1] != self.num_features:
            raise RuntimeError(
                f"{self!r}: input of shape {input.shape} has {input.shape[1]} channels in dimension 1; "
                f"expected num_features={self.num_features}"
            )
        counting = self.training and self.track_running_stats
        factor = 0.0 if self.momentum is None else self.momentum
        if counting and self.momentum is None:  # the running statistics average every batch alike
            factor = 1.0 / (int(self.num_batches_tracked.item()) + 1)
        # Batch statistics in training, and in evaluation when there are no running ones.
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        out = batch_norm(
            input, self.running_mean if track else None, self.running_var if track else None,
            self.weight, self.bias, use_batch, factor, self.eps,
        )
        if counting:  # after the call, so a batch that raises is not counted (PyTorch counts it)
            self.num_batches_tracked.add_(1)
        return out

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) features or (N, C, L) sequences, per channel C (``torch.nn.BatchNorm1d``).

    In training mode each channel is standardized with the batch's mean and biased variance (over N,
    and L), then scaled by ``weight`` and shifted by ``bias``; the running statistics move towards the
    batch's (the variance unbiased, as PyTorch). In evaluation mode (``.eval()``) the running
    statistics are used, so an example's output no longer depends on the rest of its batch.
    ValueError for other than 2-D or 3-D input and for one value per channel in training,
    RuntimeError for a channel count other than ``num_features``.
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) images, per channel C over the batch and every pixel
    (``torch.nn.BatchNorm2d``); otherwise as BatchNorm1d. ValueError for other than 4-D input.
    """

    _dims = (4,)
