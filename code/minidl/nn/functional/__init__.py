"""Layers and losses as functions, named as in ``torch.nn.functional`` (``import minidl.nn.functional as F``).

One module per family, each importing only the tensor layer and ``checks`` below it: ``activations``,
``linear`` (and dropout), ``losses``, ``conv``, ``pooling``, ``normalization``, ``embedding``,
``attention``, ``recurrent`` and ``upsampling``. The layers of ``minidl.nn`` are built on these functions.
"""

from minidl.nn.functional.activations import (
    elu, gelu, leaky_relu, log_softmax, logsigmoid, relu, sigmoid, silu, softmax, softplus, tanh,
)
from minidl.nn.functional.attention import causal_mask, scaled_dot_product_attention, sinusoidal_positions
from minidl.nn.functional.conv import col2im, conv2d, conv2d_naive, conv_transpose2d, im2col, pad2d, windows
from minidl.nn.functional.embedding import embedding, one_hot
from minidl.nn.functional.linear import dropout, linear
from minidl.nn.functional.losses import (
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, mse_loss, nll_loss,
    smooth_l1_loss,
)
from minidl.nn.functional.losses import gaussian_nll_loss
from minidl.nn.functional.normalization import batch_norm, layer_norm
from minidl.nn.functional.pooling import avg_pool2d, max_pool2d
from minidl.nn.functional.recurrent import gru_step, lstm_sequence_fused, lstm_step, rnn_step
from minidl.nn.functional.upsampling import interpolate

__all__ = [
    "avg_pool2d", "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits", "causal_mask", "col2im",
    "conv2d", "conv2d_naive", "conv_transpose2d", "cross_entropy", "dropout", "elu", "embedding", "gaussian_nll_loss",
    "gelu", "gru_step", "huber_loss", "im2col", "interpolate", "layer_norm", "leaky_relu", "linear", "log_softmax",
    "logsigmoid", "lstm_sequence_fused", "lstm_step", "max_pool2d", "mse_loss", "nll_loss", "one_hot", "pad2d", "relu",
    "rnn_step", "scaled_dot_product_attention", "sigmoid", "silu", "sinusoidal_positions", "smooth_l1_loss", "softmax",
    "softplus", "tanh", "windows",
]
