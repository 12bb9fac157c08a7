"""Nonlinearities as layers. Taught in "The perceptron" (``book/part1/perceptron.md``)."""

from minidl.nn import functional as F
from minidl.nn.module import Module


class ReLU(Module):
    """max(0, x)."""

    def forward(self, input):
        return F.relu(input)


class Sigmoid(Module):
    """1 / (1 + e^(-x))."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    def forward(self, input):
        return F.tanh(input)


class Softmax(Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, input):
        return F.log_softmax(input, self.dim)
