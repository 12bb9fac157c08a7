"""Layers, losses and functions, named as in ``torch.nn``.

The layers are grouped by family, one module each (activation, linear, dropout, normalization,
embedding, attention, transformer, recurrent, conv, pooling, upsampling, loss, container), on top of
``module`` (Module, Parameter) and the functions of ``functional``. CONTRIBUTING.md says where a new one goes.
"""

from minidl.nn import functional, init, utils
from minidl.nn.activation import (
    ELU, GELU, LeakyReLU, LogSigmoid, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh,
)
from minidl.nn.attention import MultiheadAttention, SinusoidalPositionalEncoding
from minidl.nn.container import ModuleList, Sequential
from minidl.nn.conv import Conv2d, ConvTranspose2d
from minidl.nn.dropout import Dropout
from minidl.nn.embedding import Embedding
from minidl.nn.linear import Flatten, Identity, Linear, Unflatten
from minidl.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from minidl.nn.loss import GaussianNLLLoss
from minidl.nn.module import Module, Parameter
from minidl.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from minidl.nn.pooling import AvgPool2d, MaxPool2d
from minidl.nn.recurrent import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell
from minidl.nn.transformer import TransformerBlock
from minidl.nn.upsampling import Upsample
from minidl.nn.lora import LoRAEmbedding, LoRALinear, apply_lora
