"""Activations, losses and layers as plain functions (PyTorch's ``torch.nn.functional``).

The losses are fused: each computes its value and writes its gradient in closed form, which is both
faster and numerically safer than differentiating the formula step by step.
Taught in "Losses" (``book/part1/losses.md``) and "Neural networks" (``book/part1/networks.md``).
"""

from minidl import backend
from minidl.tensor import Tensor

__all__ = [
    "linear", "relu", "sigmoid", "tanh", "logsigmoid", "softplus", "softmax", "log_softmax", "dropout", "one_hot",
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


def logsigmoid(input):
    """log sigma(x) = min(x, 0) - log(1 + e^(-|x|)): finite for every x, where log(sigmoid(x)) gives -inf.

    The gradient is 1 - sigma(x) = sigma(-x): 1 far to the left (where log sigma(x) ~ x), 0 far to
    the right. Same values and gradients as PyTorch's ``F.logsigmoid``; shape and dtype of the input.

    Taught in "Losses" (book/part1/losses.md).
    """
    xp = backend.xp()
    x = input.data
    out = xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))
    return Tensor._from_op(out, (input,), lambda g: (g * _sigmoid(-x),))


def softplus(input, beta=1.0, threshold=20.0):
    """(1/beta) log(1 + e^(beta x)), a smooth ReLU; x itself where beta x > ``threshold`` (as PyTorch).

    Computed as (max(z, 0) + log(1 + e^(-|z|))) / beta with z = beta x, which cannot overflow: for
    large x it is x. (PyTorch overflows to inf when ``threshold`` is set above exp's range; the library
    does not.) The gradient is sigma(beta x), and 1 above the threshold. ``beta = 0`` raises ValueError.

    Taught in "Losses" (book/part1/losses.md).
    """
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero (the formula divides by it), got 0")
    xp = backend.xp()
    x = input.data
    z = x * beta
    linear = z > threshold
    out = xp.where(linear, x, (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta)
    return Tensor._from_op(_narrowed(out, x.dtype), (input,), lambda g: (g * xp.where(linear, 1, _sigmoid(z)),))


def softmax(input, dim):
    """e^(x_i) / sum_j e^(x_j) along ``dim``, computed after subtracting the max (same value, no overflow).

    float16 inputs are computed in float32 and rounded back, as PyTorch does, so a sum over more than
    65504 entries cannot overflow.

    Taught in "Losses" (book/part1/losses.md).
    """
    xp = backend.xp()
    x = _widened(input.data)
    exps = xp.exp(x - x.max(axis=dim, keepdims=True))
    out = exps / exps.sum(axis=dim, keepdims=True)

    def backward(g):
        g = _widened(g)
        return (_narrowed(out * (g - (g * out).sum(axis=dim, keepdims=True)), input.dtype),)

    return Tensor._from_op(_narrowed(out, input.dtype), (input,), backward)


def log_softmax(input, dim):
    """x_i - log sum_j e^(x_j), via the log-sum-exp trick so large logits don't overflow.

    float16 inputs are computed in float32 and rounded back, as PyTorch does.

    Taught in "Losses" (book/part1/losses.md).
    """
    xp = backend.xp()
    x = _widened(input.data)
    shifted = x - x.max(axis=dim, keepdims=True)
    out = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))

    def backward(g):
        g = _widened(g)
        return (_narrowed(g - xp.exp(out) * g.sum(axis=dim, keepdims=True), input.dtype),)

    return Tensor._from_op(_narrowed(out, input.dtype), (input,), backward)


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
        keep = backend.xp().zeros(input.shape, dtype=input.dtype)
    else:
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


def _reduce(loss, reduction, weights=None):
    """The loss per entry ("none"), their sum, or their mean: sum / count, or sum / sum(weights) if given.

    The mean is summed in at least float32, so a float16 sum or count cannot overflow; 0 / 0 is NaN
    (a mean over nothing, e.g. when every target is ignored) with a zero gradient, as in PyTorch.
    """
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction != "mean":
        raise ValueError(f"{reduction!r} is not a valid value for reduction: use 'mean', 'sum' or 'none'")
    xp = backend.xp()
    total = _widened(weights).sum() if weights is not None else xp.asarray(loss.data.size, dtype=backend.float64)
    empty = total == 0
    divisor = xp.where(empty, 1, total)
    out = _narrowed(xp.where(empty, xp.nan, _widened(loss.data).sum() / divisor), loss.dtype)

    def backward(g):  # an empty mean passes back zeros, as PyTorch's does
        return (xp.broadcast_to(_narrowed(xp.where(empty, 0, _widened(g) / divisor), loss.dtype), loss.shape),)

    return Tensor._from_op(out, (loss,), backward)


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


def _class_dim(input, name):
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a scalar")
    return 0 if input.ndim == 1 else 1


def _class_weights(weight, num_classes, dtype, name):
    """The per-class weights as an array of ``dtype`` (None stays None), checked to be one per class."""
    if weight is None:
        return None
    weight = weight if isinstance(weight, Tensor) else Tensor(weight)
    if weight.shape != (num_classes,):
        raise RuntimeError(
            f"{name}: weight tensor should be defined either for all {num_classes} classes or no classes "
            f"but got weight tensor of shape: {list(weight.shape)}"
        )
    return weight.data.astype(dtype, copy=False)


def _target_weights(target, weight, ignore_index, num_classes, dtype, name):
    """For class indices y: (kept, safe, w[y]) -- which targets count, y with 0 where ignored (a valid
    index), and each target's class weight (1 without ``weight``; 0 where ignored).

    A target that is neither in [0, C - 1] nor ``ignore_index`` raises IndexError, as in PyTorch.
    """
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: target must hold integer class indices (got dtype {target.dtype}); convert with .long()"
        )
    xp = backend.xp()
    y = target.data
    kept = y != ignore_index
    wrong = kept & ((y < 0) | (y >= num_classes))
    if bool(wrong.any()):
        raise IndexError(
            f"{name}: Target {int(y[wrong][0])} is out of bounds: class indices must lie in "
            f"[0, {num_classes - 1}] for {num_classes} classes (or equal ignore_index={ignore_index})"
        )
    safe = xp.where(kept, y, 0)
    weights = kept.astype(dtype) if weight is None else weight[safe] * kept
    return kept, safe, weights


def _rows_of_classes(input, target, name):
    """``input`` as one row of C scores per target, (M, C), checking the target's shape against it."""
    class_dim = _class_dim(input, name)
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.shape != expected:
        raise ValueError(
            f"{name}: input of shape {input.shape} (classes in dimension {class_dim}) needs a target of "
            f"shape {expected}, got {target.shape}"
        )
    num_classes = input.shape[class_dim]
    if input.ndim <= 2:
        return input.reshape(-1, num_classes)
    return input.permute(0, *range(2, input.ndim), 1).reshape(-1, num_classes)  # classes last


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """-w[y] log p(y): minus the log-probability of the correct class y, weighted by its class weight.

    ``input`` holds log-probabilities, (N, C), (C,) or (N, C, d1, ...) with classes in dimension 1;
    ``target`` the class indices, (N,), () or (N, d1, ...). As in PyTorch, targets equal to
    ``ignore_index`` count for nothing, and the mean is weighted:
    sum_i w[y_i] (-log p_i(y_i)) / sum_i w[y_i] over the targets kept (NaN if none is kept).

    Taught in "Losses" (book/part1/losses.md).
    """
    target = target if isinstance(target, Tensor) else Tensor(target)
    rows = _rows_of_classes(input, target, "nll_loss")
    weight = _class_weights(weight, rows.shape[1], input.dtype, "nll_loss")
    _, y, weights = _target_weights(target.reshape(-1), weight, ignore_index, rows.shape[1], input.dtype, "nll_loss")
    index = backend.xp().arange(rows.shape[0])
    picked = -rows.data[index, y] * weights

    def backward(g):
        grad = backend.xp().zeros_like(rows.data)
        grad[index, y] = -backend.xp().asarray(g) * weights  # asarray: a 0-d gradient may arrive as a scalar
        return (grad,)

    losses = Tensor._from_op(picked, (rows,), backward).reshape(target.shape)
    return _reduce(losses, reduction, weights)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy: -log softmax(logits)[target], averaged over the batch.

    ``input`` holds unnormalized logits of shape (N, C), (C,) or (N, C, d1, ...) with classes in
    dimension 1, as in PyTorch. ``target`` holds class indices (N,) / () / (N, d1, ...), or class
    probabilities of the same shape as ``input``. ``weight``, ``ignore_index`` and ``reduction`` are
    those of ``nll_loss``. ``label_smoothing`` = e mixes the target with the uniform distribution:

        (1 - e) * nll + (e / C) * sum_c w_c (-log p_c),

    the second term averaged like the first (PyTorch's definition). For probability targets q the
    loss is -sum_c w_c q'_c log p_c with q' = (1 - e) q + e / C, and its mean is over the N (x d1 ...)
    examples. e outside [0, 1] raises RuntimeError (PyTorch ignores a negative e; the library refuses it).

    Taught in "Losses" (book/part1/losses.md).
    """
    target = target if isinstance(target, Tensor) else Tensor(target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = _class_dim(input, "cross_entropy")
    log_probs = log_softmax(input, class_dim)
    if target.dtype.kind == "f":
        return _cross_entropy_with_probabilities(log_probs, target, weight, reduction, label_smoothing)
    loss = nll_loss(log_probs, target, weight, ignore_index, reduction)
    if label_smoothing == 0:
        return loss
    smoothing = _smoothing_term(log_probs, target, weight, ignore_index, reduction)
    return (1 - label_smoothing) * loss + (label_smoothing / log_probs.shape[class_dim]) * smoothing


def _class_shaped(weights, log_probs):
    """Per-class weights (C,) shaped to broadcast along the class dimension of ``log_probs``."""
    class_dim = _class_dim(log_probs, "cross_entropy")
    return weights.reshape((-1,) + (1,) * (log_probs.ndim - class_dim - 1))


def _smoothing_term(log_probs, target, weight, ignore_index, reduction):
    """sum_c w_c (-log p_c) per example, zero where the target is ignored, reduced as ``nll_loss``."""
    class_dim = _class_dim(log_probs, "cross_entropy")
    num_classes = log_probs.shape[class_dim]
    weight = _class_weights(weight, num_classes, log_probs.dtype, "cross_entropy")
    kept, _, weights = _target_weights(target, weight, ignore_index, num_classes, log_probs.dtype, "cross_entropy")
    weighted = log_probs if weight is None else log_probs * _class_shaped(weight, log_probs)
    return _reduce(-weighted.sum(class_dim) * kept, reduction, weights)


def _cross_entropy_with_probabilities(log_probs, target, weight, reduction, label_smoothing):
    """-sum_c w_c q_c log p_c per example for target probabilities q (smoothed towards 1/C)."""
    if target.shape != log_probs.shape:
        raise ValueError(
            f"cross_entropy: a float target holds class probabilities and must have the input's "
            f"shape {log_probs.shape}, got {target.shape}; for class indices pass integers"
        )
    class_dim = _class_dim(log_probs, "cross_entropy")
    num_classes = log_probs.shape[class_dim]
    weight = _class_weights(weight, num_classes, log_probs.dtype, "cross_entropy")
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / num_classes
    weighted = log_probs * target
    if weight is not None:
        weighted = weighted * _class_shaped(weight, log_probs)
    return _reduce(-weighted.sum(class_dim), reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-w [y log p + (1 - y) log(1 - p)] for probabilities p; each log floored at -100 as in PyTorch.

    As in PyTorch, an input or a target outside [0, 1] -- NaN included -- raises RuntimeError, so a
    NaN prediction cannot hide behind the floored logarithm. ``weight`` broadcasts to the input's shape.
    Gradients: w (p - y) / max(p (1 - p), 1e-12) for p, and w (log(1 - p) - log p) (not floored) for y.

    Taught in "Losses" (book/part1/losses.md).
    """
    target = target if isinstance(target, Tensor) else input._lift(target)
    if target.shape != input.shape:
        raise ValueError(f"binary_cross_entropy: input {input.shape} and target {target.shape} must match")
    for name, values in (("input", input), ("target", target)):
        _check_unit_interval(values, name, "binary_cross_entropy", RuntimeError)
    xp = backend.xp()
    p, y = input.data, target.data
    w = _elementwise_weight(weight, input, "binary_cross_entropy")
    log_p, log_not_p = _logs(p)
    loss = -(y * xp.maximum(log_p, -100) + (1 - y) * xp.maximum(log_not_p, -100)) * w

    def backward(g):
        g = g * w
        return (g * ((p - y) / xp.maximum((1 - p) * p, 1e-12)), g * (log_not_p - log_p))

    return _reduce(Tensor._from_op(loss, (input, target), backward), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy of sigmoid(x), as max(x, 0) - x y + log(1 + e^(-|x|)): never overflows.

    ``pos_weight`` (broadcast along the last dimension, one per class) multiplies the positive term,
    adding (pos_weight - 1) y log(1 + e^(-x)); ``weight`` multiplies the whole loss; both as in PyTorch.
    A target outside [0, 1] or NaN raises ValueError: PyTorch returns a meaningless number there, so
    the library is stricter. The gradient is w (l sigma(x) - pos_weight y) with l = 1 + (pos_weight - 1) y,
    which is sigma(x) - y without weights.

    Taught in "Losses" (book/part1/losses.md).
    """
    target = target if isinstance(target, Tensor) else input._lift(target)
    if target.shape != input.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: input {input.shape} and target {target.shape} must match"
        )
    _check_unit_interval(target, "target", "binary_cross_entropy_with_logits", ValueError)
    xp = backend.xp()
    x, y = input.data, target.data
    w = _elementwise_weight(weight, input, "binary_cross_entropy_with_logits")
    extra = _elementwise_weight(pos_weight, input, "binary_cross_entropy_with_logits") - 1  # 0 without pos_weight
    minus_log_sigmoid = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))  # log(1 + e^(-x)), stably
    loss = (xp.maximum(x, 0) - x * y + xp.log1p(xp.exp(-xp.abs(x))) + extra * y * minus_log_sigmoid) * w

    def backward(g):
        g = g * w
        return (g * ((1 + extra * y) * _sigmoid(x) - (1 + extra) * y), g * (extra * minus_log_sigmoid - x))

    return _reduce(Tensor._from_op(_narrowed(loss, x.dtype), (input, target), backward), reduction)


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


# ---- numerical helpers ------------------------------------------------------------------------
def _widened(array):
    """float16 as float32 (PyTorch's accumulation type), other dtypes unchanged: for sums and counts."""
    return array.astype(backend.float32) if array.dtype == "float16" else array


def _narrowed(array, dtype):
    """``array`` in ``dtype``, e.g. a float32 result back to float16 (no copy if it already is)."""
    return array.astype(dtype, copy=False)


def _sigmoid(x):
    """1 / (1 + e^(-x)) as e^(-log(1 + e^(-x))): no overflow, and tiny values stay accurate far left."""
    xp = backend.xp()
    return _narrowed(xp.exp(-xp.logaddexp(0, -x)), x.dtype)


def _logs(p):
    """(log p, log(1 - p)) for p in [0, 1], log 0 = -inf without a warning; log1p keeps a tiny p exact."""
    xp = backend.xp()
    above, below = p > 0, p < 1
    log_p = xp.where(above, xp.log(xp.where(above, p, 1)), -xp.inf)
    log_not_p = xp.where(below, xp.log1p(-xp.where(below, p, 0)), -xp.inf)
    return _narrowed(log_p, p.dtype), _narrowed(log_not_p, p.dtype)


def _check_unit_interval(values, what, name, error):
    """Raise ``error`` unless every entry lies in [0, 1]; written so that NaN fails the test."""
    data = values.data
    if data.size and not bool(((data >= 0) & (data <= 1)).all()):
        has_nan = bool(backend.xp().isnan(data).any())
        found = "NaN" if has_nan else f"values from {float(data.min())} to {float(data.max())}"
        hint = "; for raw scores (logits) use binary_cross_entropy_with_logits" if what == "input" else ""
        raise error(f"{name}: all elements of {what} should be between 0 and 1 (the range [0, 1]), got {found}{hint}")


def _elementwise_weight(weight, input, name):
    """``weight`` as an array broadcast to the input's shape (1 when None)."""
    if weight is None:
        return input.dtype.type(1)
    weight = weight if isinstance(weight, Tensor) else Tensor(weight)
    try:
        return backend.xp().broadcast_to(weight.data.astype(input.dtype, copy=False), input.shape)
    except ValueError:
        raise ValueError(
            f"{name}: a weight of shape {weight.shape} does not broadcast to the input's shape {input.shape}"
        ) from None


from minidl.nn.transformer import embedding, gelu, layer_norm, scaled_dot_product_attention  # noqa: E402,F401
from minidl.nn.conv import conv2d, conv2d_naive, conv_transpose2d  # noqa: E402
from minidl.nn.pooling import avg_pool2d, max_pool2d  # noqa: E402
