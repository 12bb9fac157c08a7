"""Loss functions (cross-entropy, NLL, binary cross-entropy, MSE, Huber) with PyTorch's options and numerics."""

from minidl import backend
from minidl.tensor import Tensor
from minidl.nn.functional.activations import log_softmax
from minidl.tensor.elementwise import logistic
from minidl.tensor.promotion import narrowed, promote, widened


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
    xp = backend.xp(loss.data)
    total = widened(weights).sum() if weights is not None else xp.asarray(loss.data.size, dtype=backend.float64)
    # Only a weighted mean or a mean over no entries can divide by 0; a plain count needs no guard.
    empty = None if weights is None and loss.data.size else total == 0
    divisor = total if empty is None else xp.where(empty, 1, total)
    mean = widened(loss.data).sum() / divisor
    out = narrowed(mean if empty is None else xp.where(empty, xp.nan, mean), loss.dtype)

    def backward(g):  # an empty mean passes back zeros, as PyTorch's does
        grad = widened(g) / divisor
        if empty is not None:
            grad = xp.where(empty, 0, grad)
        return (xp.broadcast_to(narrowed(grad, loss.dtype), loss.shape),)

    return Tensor._from_op(out, (loss,), backward, "MeanBackward0", ())


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
    xp = backend.xp(target.data)
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
    index = backend.xp(input.data).arange(rows.shape[0])
    picked = -rows.data[index, y] * weights

    def backward(g):
        grad = backend.xp(g).zeros_like(rows.data)
        grad[index, y] = -backend.xp(g).asarray(g) * weights  # asarray: a 0-d gradient may arrive as a scalar
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
    xp = backend.xp(input.data)
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
    xp = backend.xp(input.data)
    x, y = input.data, target.data
    w = _elementwise_weight(weight, input, "binary_cross_entropy_with_logits")
    extra = _elementwise_weight(pos_weight, input, "binary_cross_entropy_with_logits") - 1  # 0 without pos_weight
    minus_log_sigmoid = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))  # log(1 + e^(-x)), stably
    loss = (xp.maximum(x, 0) - x * y + xp.log1p(xp.exp(-xp.abs(x))) + extra * y * minus_log_sigmoid) * w

    def backward(g):
        g = g * w
        return (g * ((1 + extra * y) * logistic(x) - (1 + extra) * y), g * (extra * minus_log_sigmoid - x))

    return _reduce(Tensor._from_op(narrowed(loss, x.dtype), (input, target), backward), reduction)


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
    input, target = promote(input, target)
    difference = input.data - target.data

    def backward(g):  # the gradient of d * d through d = input - target, as the two operations give it
        grad = g * difference
        grad = grad + grad
        return grad, -grad

    squares = Tensor._from_op(difference * difference, (input, target), backward, "MseLossBackward0", (difference,))
    return _reduce(squares, reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """Smooth L1 loss: 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere, for d = input - target.

    Quadratic near zero and linear in the tails, so one large error (a bootstrapped target far off, an
    outlier) contributes a gradient of size at most 1 instead of d: DQN's loss. ``beta`` (a float >= 0,
    in the units of the input) is where the two pieces meet; ``beta = 0`` is the L1 loss. Shapes must
    match, as in ``mse_loss``. The gradient with respect to the input is clip(d / beta, -1, 1). Raises
    ValueError for mismatched shapes or a negative ``beta``.

    Taught in "Deep Q-networks" (book/part5/dqn.md).
    """
    return _huber_like(input, target, reduction, beta, 1.0 / beta if beta > 0 else None, "smooth_l1_loss", "beta")


def huber_loss(input, target, reduction="mean", delta=1.0):
    """Huber loss: 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere, for d = input - target.

    ``delta`` times ``smooth_l1_loss`` with ``beta = delta``: the same quadratic core, but the tails
    have slope ``delta`` instead of 1 (the two agree at ``delta = 1``). The gradient with respect to the
    input is clip(d, -delta, delta). Raises ValueError for mismatched shapes or ``delta <= 0``.

    Taught in "Deep Q-networks" (book/part5/dqn.md).
    """
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta!r}")
    return _huber_like(input, target, reduction, delta, 1.0, "huber_loss", "delta")


def _huber_like(input, target, reduction, width, slope_scale, name, argument):
    """0.5 s d^2 inside |d| < width and s width (|d| - 0.5 width) outside, with s = ``slope_scale``.

    ``slope_scale`` None means width 0 (the L1 loss). Gradient: s clip(d, -width, width), or sign(d).
    """
    if not width >= 0:
        raise ValueError(f"{name}: {argument} must be non-negative, got {width!r}")
    target = target if isinstance(target, Tensor) else input._lift(target)
    if target.shape != input.shape:
        raise ValueError(
            f"{name}: input {input.shape} and target {target.shape} must have the same shape "
            "(broadcasting them would compare every prediction with every target)"
        )
    xp = backend.xp()
    difference = input.data - target.data
    size = xp.abs(difference)
    if slope_scale is None:
        loss, slope = size, xp.sign(difference)
    else:
        inside = size < width
        loss = slope_scale * xp.where(inside, 0.5 * difference * difference, width * (size - 0.5 * width))
        slope = slope_scale * xp.clip(difference, -width, width)
    slope = narrowed(slope, input.dtype)

    def backward(g):
        return (g * slope, -(g * slope))

    return _reduce(Tensor._from_op(narrowed(loss, input.dtype), (input, target), backward), reduction)


def _logs(p):
    """(log p, log(1 - p)) for p in [0, 1], log 0 = -inf without a warning; log1p keeps a tiny p exact."""
    xp = backend.xp(p)
    above, below = p > 0, p < 1
    log_p = xp.where(above, xp.log(xp.where(above, p, 1)), -xp.inf)
    log_not_p = xp.where(below, xp.log1p(-xp.where(below, p, 0)), -xp.inf)
    return narrowed(log_p, p.dtype), narrowed(log_not_p, p.dtype)


def _check_unit_interval(values, what, name, error):
    """Raise ``error`` unless every entry lies in [0, 1]; written so that NaN fails the test."""
    data = values.data
    if data.size and not bool(((data >= 0) & (data <= 1)).all()):
        has_nan = bool(backend.xp(values).isnan(data).any())
        found = "NaN" if has_nan else f"values from {float(data.min())} to {float(data.max())}"
        hint = "; for raw scores (logits) use binary_cross_entropy_with_logits" if what == "input" else ""
        raise error(f"{name}: all elements of {what} should be between 0 and 1 (the range [0, 1]), got {found}{hint}")


def _elementwise_weight(weight, input, name):
    """``weight`` as an array broadcast to the input's shape (1 when None)."""
    if weight is None:
        return input.dtype.type(1)
    weight = weight if isinstance(weight, Tensor) else Tensor(weight)
    try:
        return backend.xp(input.data).broadcast_to(weight.data.astype(input.dtype, copy=False), input.shape)
    except ValueError:
        raise ValueError(
            f"{name}: a weight of shape {weight.shape} does not broadcast to the input's shape {input.shape}"
        ) from None


_HALF_LOG_TWO_PI = 0.9189385332046727  # log(2 pi) / 2, the constant that full=True adds


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """The negative log-likelihood of ``target`` under Normal(``input``, ``var``): (log v + (x - y)^2 / v) / 2.

    A network that predicts a mean x and a variance v for every target, trained with this loss, learns
    the noise of the data (aleatoric uncertainty) as v. Semantics and errors as in PyTorch:

    - ``var`` has the input's shape (one variance per entry), or the input's shape without its last
      dimension, or that shape with one dimension of size 1 (shared variances); a positive Python
      number is used for every entry. A negative variance raises ValueError, a wrong shape ValueError.
    - ``target`` has the input's shape, or one that broadcasts to it (ValueError otherwise).
    - v is clamped at ``eps`` for stability; the clamp is invisible to autograd (the gradient with
      respect to v is (1 / v - (x - y)^2 / v^2) / 2 evaluated at the clamped v), as in PyTorch.
    - ``full=True`` adds log(2 pi) / 2; ``reduction`` is "mean", "sum" or "none".

    Taught in "Uncertainty" (book/part6/uncertainty.md).
    """
    target = target if isinstance(target, Tensor) else input._lift(target)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"gaussian_nll_loss: var has negative entry/entries (got {var})")
        var = Tensor(backend.xp().full(input.shape, var, dtype=input.dtype))
    elif not isinstance(var, Tensor):
        raise TypeError(f"gaussian_nll_loss: var must be a Tensor or a positive number, got {type(var).__name__}")
    if bool((var.data < 0).any()):
        raise ValueError(
            f"gaussian_nll_loss: var has negative entry/entries (smallest {float(var.data.min())}); a variance "
            "is never negative: predict it through softplus or exp"
        )
    var = _gaussian_variance_shape(input, var)
    if not _broadcasts_to(target.shape, input.shape):
        raise ValueError(
            f"gaussian_nll_loss: target of shape {target.shape} does not broadcast to the input's shape {input.shape}"
        )
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"gaussian_nll_loss: {reduction!r} is not a valid value for reduction: use 'mean', "
                         "'sum' or 'none'")
    xp = backend.xp()
    clamped = Tensor._from_op(xp.maximum(var.data, var.dtype.type(eps)), (var,), lambda g: (g,))
    difference = input - target
    loss = 0.5 * (clamped.log() + difference * difference / clamped)
    if full:
        loss = loss + _HALF_LOG_TWO_PI
    return _reduce(loss, reduction)


def _broadcasts_to(shape, target_shape):
    """Whether an array of ``shape`` broadcasts to ``target_shape`` without changing it (NumPy's rule)."""
    return len(shape) <= len(target_shape) and all(
        s in (1, t) for s, t in zip(reversed(shape), reversed(target_shape)))


def _gaussian_variance_shape(input, var):
    """``var`` shaped to broadcast against ``input``, as PyTorch's gaussian_nll_loss accepts it."""
    if var.shape == input.shape:
        return var
    if var.shape == input.shape[:-1]:
        return var.unsqueeze(-1)
    if var.ndim == input.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
        return var
    raise ValueError(
        f"gaussian_nll_loss: var is of incorrect size: got {var.shape} for an input of shape {input.shape}; "
        "expected the input's shape, that shape without its last dimension, or with one dimension of size 1"
    )
