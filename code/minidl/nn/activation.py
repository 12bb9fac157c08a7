"""Nonlinearities as layers. Taught in "The perceptron" (``book/part1/perceptron.md``)."""

from minidl.nn import functional as F
from minidl.nn.module import Module


class ReLU(Module):
    """max(0, x). ``inplace=True`` overwrites the input with the result, as PyTorch's (``F.relu``).

    Taught in "Neural networks" (book/part1/networks.md).
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, else ``negative_slope`` * x (``F.leaky_relu``); ``inplace`` as in ReLU.

    Taught in "Generative adversarial networks" (book/part4/gans.md).
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x for x > 0, else ``alpha`` (e^x - 1) (``F.elu``); ``inplace`` as in ReLU."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SiLU(Module):
    """x * sigmoid(x), the "swish" activation (``F.silu``); ``inplace`` as in ReLU."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """1 / (1 + e^(-x))."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x) = 2 sigmoid(2x) - 1, a nonlinearity with range (-1, 1).

    Taught in "The perceptron" (book/part1/perceptron.md) and "Optimization in practice" (book/part1/optimization.md).
    """
    def forward(self, input):
        return F.tanh(input)


class LogSigmoid(Module):
    """log sigma(x) = min(x, 0) - log(1 + e^(-|x|)), finite for every x (``F.logsigmoid``).

    Taught in "Losses" (book/part1/losses.md).
    """

    def forward(self, input):
        return F.logsigmoid(input)


class Softplus(Module):
    """(1/beta) log(1 + e^(beta x)), and x where beta x > threshold (``F.softplus``).

    Taught in "Losses" (book/part1/losses.md).
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """softmax along ``dim``: e^(z_k) / sum_j e^(z_j), turning scores into probabilities.

    Taught in "Losses" (book/part1/losses.md).
    """
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log-softmax along ``dim``: z_k - log sum_j e^(z_j), computed stably.

    Taught in "Losses" (book/part1/losses.md).
    """
    def forward(self, input):
        return F.log_softmax(input, self.dim)


class GELU(Module):
    """The GELU activation as a layer (``torch.nn.GELU``).

    Taught in "Attention and transformers" (book/part2/attention.md).
    """

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, self.approximate)
