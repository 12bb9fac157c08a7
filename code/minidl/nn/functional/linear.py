"""The affine map x W^T + b, and dropout."""

from minidl import backend
from minidl.tensor import Tensor


def linear(input, weight, bias=None):
    """y = x W^T + b, with W of shape (out_features, in_features) as in PyTorch.

    Taught in "The perceptron" (book/part1/perceptron.md) and "Neural networks" (book/part1/networks.md).
    """
    if input.shape[-1:] != weight.shape[1:]:
        raise ValueError(
            f"linear: input of shape {input.shape} needs last dimension {weight.shape[1]} "
            f"(weight has shape {weight.shape}, i.e. (out_features, in_features))"
        )
    out = input.data @ weight.data.T
    if bias is not None:
        out += bias.data  # in place: ``out`` is a fresh array

    def backward(g):
        grad_input = g @ weight.data if input.requires_grad else None
        rows = g.reshape(-1, g.shape[-1])
        grad_weight = rows.T @ input.data.reshape(-1, input.shape[-1]) if weight.requires_grad else None
        grad_bias = rows.sum(axis=0) if bias is not None and bias.requires_grad else None
        return grad_input, grad_weight, grad_bias

    if bias is None:
        return Tensor._from_op(out, (input, weight), backward, "LinearBackward0", (input.data, weight.data))
    return Tensor._from_op(out, (input, weight, bias), backward, "LinearBackward0", (input.data, weight.data, bias.data))


def dropout(input, p=0.5, training=True):
    """Inverted dropout: zero each entry with probability p and scale survivors by 1/(1-p).

    Scaling at training time keeps the expected activation unchanged, so evaluation is the identity.
    p = 1 drops everything (zeros, and a zero gradient); p outside [0, 1] raises ValueError, as in PyTorch.

    Taught in "Overfitting and regularization" (book/part1/regularization.md).
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if p == 1:  # nothing survives (and 1 / (1 - p) would divide by zero)
        keep = backend.xp(input.data).zeros(input.shape, dtype=input.dtype)
    else:
        keep = (backend.of(input.data).uniform(input.shape, input.dtype) >= p) / input.dtype.type(1 - p)
    return Tensor._from_op(input.data * keep, (input,), lambda g: (g * keep,))
