"""Layers, losses and functions, named as in ``torch.nn``."""

from minidl.nn import functional, init, utils
from minidl.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from minidl.nn.container import ModuleList, Sequential
from minidl.nn.dropout import Dropout
from minidl.nn.linear import Flatten, Identity, Linear
from minidl.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from minidl.nn.module import Module, Parameter
from minidl.nn.recurrent import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell
from minidl.nn.transformer import GELU, Embedding, LayerNorm, MultiheadAttention, SinusoidalPositionalEncoding, TransformerBlock  # noqa: F401
from minidl.nn.conv import Conv2d, ConvTranspose2d
from minidl.nn.pooling import AvgPool2d, MaxPool2d
