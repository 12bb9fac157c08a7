"""Activations, losses and layers as plain functions (PyTorch's ``torch.nn.functional``).

The losses are fused: each computes its value and writes its gradient in closed form, which is both
faster and numerically safer than differentiating the formula step by step.
Taught in "Losses" (``book/part1/losses.md``) and "Neural networks" (``book/part1/networks.md``).
"""

from minidl import backend
from minidl.tensor import Tensor

__all__ = [
    "linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "dropout", "one_hot",
    "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss",
]


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

    parents = (input, weight) if bias is None else (input, weight, bias)
    return Tensor._from_op(out, parents, backward)


def relu(input):
    """max(0, x): unbounded above, zero gradient below.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    return input.relu()


def sigmoid(input):
    """1 / (1 + e^(-x)), squashing into (0, 1).

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    return input.sigmoid()


def tanh(input):
    """tanh(z), the hyperbolic tangent; its derivative is 1 - tanh(z)^2.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    return input.tanh()


def softmax(input, dim):
    """e^(x_i) / sum_j e^(x_j) along ``dim``, computed after subtracting the max (same value, no overflow).

    Taught in "Losses" (book/part1/losses.md).
    """
    xp = backend.xp()
    shifted = input.data - input.data.max(axis=dim, keepdims=True)
    exps = xp.exp(shifted)
    out = exps / exps.sum(axis=dim, keepdims=True)

    def backward(g):
        return (out * (g - (g * out).sum(axis=dim, keepdims=True)),)

    return Tensor._from_op(out, (input,), backward)


def log_softmax(input, dim):
    """x_i - log sum_j e^(x_j), via the log-sum-exp trick so large logits don't overflow.

    Taught in "Losses" (book/part1/losses.md).
    """
    xp = backend.xp()
    shifted = input.data - input.data.max(axis=dim, keepdims=True)
    out = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))

    def backward(g):
        return (g - xp.exp(out) * g.sum(axis=dim, keepdims=True),)

    return Tensor._from_op(out, (input,), backward)


def dropout(input, p=0.5, training=True):
    """Inverted dropout: zero each entry with probability p and scale survivors by 1/(1-p).

    Scaling at training time keeps the expected activation unchanged, so evaluation is the identity.

    Taught in "Overfitting and regularization" (book/part1/regularization.md).
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0:
        return input
    keep = (backend.current().uniform(input.shape, input.dtype) >= p) / input.dtype.type(1 - p)
    return Tensor._from_op(input.data * keep, (input,), lambda g: (g * keep,))


def one_hot(indices, num_classes):
    """A float32 matrix with a 1 in column ``indices[i]`` of row i.

    Taught in "Encoding language" (book/part2/embeddings.md).
    """
    indices = indices if isinstance(indices, Tensor) else Tensor(indices)
    _check_class_indices(indices, num_classes, "one_hot")
    xp = backend.xp()
    out = (indices.data[..., None] == xp.arange(num_classes)).astype(backend.float32)
    return Tensor._from_op(out, (), None)


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_class_indices(target, num_classes, name):
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: target must hold integer class indices (got dtype {target.dtype}); "
            "convert with .long()"
        )
    if target.data.size and (int(target.data.min()) < 0 or int(target.data.max()) >= num_classes):
        raise ValueError(
            f"{name}: target values must lie in [0, {num_classes - 1}] for {num_classes} classes; "
            f"got values from {int(target.data.min())} to {int(target.data.max())}"
        )


def nll_loss(log_probs, target, reduction="mean"):
    """-log p(correct class), given log-probabilities of shape (N, C) and class indices (N,).

    Taught in "Losses" (book/part1/losses.md).
    """
    target = target if isinstance(target, Tensor) else Tensor(target)
    if log_probs.ndim != 2 or target.shape != log_probs.shape[:1]:
        raise ValueError(
            f"nll_loss: expected log_probs of shape (N, C) and target of shape (N,), "
            f"got {log_probs.shape} and {target.shape}"
        )
    _check_class_indices(target, log_probs.shape[1], "nll_loss")
    rows = backend.xp().arange(log_probs.shape[0])
    picked = -log_probs.data[rows, target.data]

    def backward(g):
        grad = backend.xp().zeros_like(log_probs.data)
        grad[rows, target.data] = -g
        return (grad,)

    return _reduce(Tensor._from_op(picked, (log_probs,), backward), reduction)


def cross_entropy(input, target, reduction="mean"):
    """Softmax cross-entropy: -log softmax(logits)[target], averaged over the batch.

    ``input`` holds unnormalized logits of shape (N, C), (C,) or (N, C, d1, ...) with classes in
    dimension 1, as in PyTorch. ``target`` holds class indices (N,) / () / (N, d1, ...), or class
    probabilities of the same shape as ``input``.

    Taught in "Losses" (book/part1/losses.md).
    """
    target = target if isinstance(target, Tensor) else Tensor(target)
    if input.ndim == 0:
        raise ValueError("cross_entropy: input must hold logits with a class dimension, got a scalar")
    if target.dtype.kind == "f":
        if target.shape != input.shape:
            raise ValueError(
                f"cross_entropy: a float target holds class probabilities and must have the input's "
                f"shape {input.shape}, got {target.shape}; for class indices pass integers"
            )
        class_dim = 0 if input.ndim == 1 else 1
        return _reduce(-(target * log_softmax(input, class_dim)).sum(class_dim), reduction)
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.shape != expected:
        raise ValueError(
            f"cross_entropy: input of shape {input.shape} (classes in dimension {min(1, input.ndim - 1)}) "
            f"needs a target of shape {expected}, got {target.shape}"
        )
    num_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    if input.ndim == 1:
        logits, flat_target = input.reshape(1, num_classes), target.reshape(1)
    elif input.ndim == 2:
        logits, flat_target = input, target
    else:
        moved = input.permute(0, *range(2, input.ndim), 1)  # classes last, then one row per position
        logits, flat_target = moved.reshape(-1, num_classes), target.reshape(-1)
    losses = nll_loss(log_softmax(logits, 1), flat_target, reduction="none")
    return _reduce(losses.reshape(target.shape), reduction)


def binary_cross_entropy(input, target, reduction="mean"):
    """-[y log p + (1 - y) log(1 - p)] for probabilities p; logs clamped at -100 as in PyTorch.

    Taught in "Losses" (book/part1/losses.md).
    """
    target = target if isinstance(target, Tensor) else input._lift(target)
    if target.shape != input.shape:
        raise ValueError(f"binary_cross_entropy: input {input.shape} and target {target.shape} must match")
    xp = backend.xp()
    p, y = input.data, target.data
    if p.size and (float(p.min()) < 0 or float(p.max()) > 1):
        raise ValueError(
            "binary_cross_entropy: input must hold probabilities in [0, 1]; for raw scores use "
            "binary_cross_entropy_with_logits"
        )
    log_p, log_not_p = _clamped_log(p), _clamped_log(1 - p)
    loss = -(y * log_p + (1 - y) * log_not_p)

    def backward(g):
        return (g * (p - y) / xp.maximum((1 - p) * p, 1e-12), g * (log_not_p - log_p))

    return _reduce(Tensor._from_op(loss, (input, target), backward), reduction)


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """Binary cross-entropy of sigmoid(x), as max(x, 0) - x y + log(1 + e^(-|x|)): never overflows.

    Taught in "Losses" (book/part1/losses.md).
    """
    target = target if isinstance(target, Tensor) else input._lift(target)
    if target.shape != input.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: input {input.shape} and target {target.shape} must match"
        )
    xp = backend.xp()
    x, y = input.data, target.data
    loss = xp.maximum(x, 0) - x * y + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(g):
        probability = xp.exp(-xp.logaddexp(0, -x))
        return (g * (probability - y), g * -x)

    return _reduce(Tensor._from_op(loss, (input, target), backward), reduction)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error (1/n) sum (y - y_hat)^2; shapes must match (no silent broadcasting).

    Taught in "Losses" (book/part1/losses.md) and "Recurrent neural networks" (book/part2/rnn.md).
    """
    target = target if isinstance(target, Tensor) else input._lift(target)
    if target.shape != input.shape:
        raise ValueError(
            f"mse_loss: input {input.shape} and target {target.shape} must have the same shape "
            "(broadcasting them would compare every prediction with every target)"
        )
    difference = input - target
    return _reduce(difference * difference, reduction)


def _clamped_log(x):
    """log(x) floored at -100, as PyTorch's BCE does, so log(0) gives -100 and no warning."""
    xp = backend.xp()
    positive = x > 0
    return xp.where(positive, xp.maximum(xp.log(xp.where(positive, x, 1)), -100), -100).astype(x.dtype)
from minidl.nn.transformer import embedding, gelu, layer_norm, scaled_dot_product_attention  # noqa: E402,F401
from minidl.nn.conv import conv2d, conv2d_naive, conv_transpose2d  # noqa: E402
from minidl.nn.pooling import avg_pool2d, max_pool2d  # noqa: E402
