"""Adversarial examples: the fast gradient sign method (FGSM), projected gradient descent (PGD), robust accuracy.

An attack moves each input a small distance ε in the max-norm (every pixel by at most ε) in the
direction that raises the model's loss, using the gradient of the loss with respect to the *input*
rather than the weights. FGSM takes one step of size ε along the sign of that gradient (Goodfellow
et al., 2015); PGD takes several smaller steps, each followed by a projection back onto the ε-ball
around the clean input and onto the valid pixel range (Madry et al., 2018). Robust accuracy is the
accuracy on the attacked inputs.

The attacks leave the model's parameters and their ``.grad`` untouched, and they use the model in the
mode it is in: call ``model.eval()`` first for a model with dropout or batch normalization.
"""

import math
import numbers

from minidl.autograd import enable_grad, no_grad
from minidl.creation import rand_like
from minidl.nn import functional as F
from minidl.tensor import Tensor


def fgsm(model, inputs, targets, epsilon, loss_fn=F.cross_entropy, clamp=(0.0, 1.0)):
    """The fast gradient sign method: ``inputs + epsilon * sign(grad_x loss_fn(model(inputs), targets))``.

    One step that raises the loss as much as a first-order (linear) model of it allows among all
    perturbations with every entry in [-epsilon, epsilon]; the result is then clipped into the
    ``clamp`` box (the valid pixel range; ``None`` skips it).

    ``inputs`` is a floating tensor of any shape whose first dimension is the batch (N, ...), inside
    the ``clamp`` box; ``targets`` is what ``loss_fn`` takes with the model's outputs (class indices of
    shape (N,) for the default cross-entropy). ``epsilon`` is a number >= 0 in the units of the inputs
    (0.1 is a tenth of the pixel range for images scaled to [0, 1]). ``loss_fn`` must return a scalar.
    Returns a new tensor of the shape and dtype of ``inputs``, detached from any graph. Raises
    TypeError for arguments of the wrong type and ValueError for a negative or non-finite
    ``epsilon``, a bad ``clamp``, inputs outside it, mismatched batch sizes or a non-scalar loss.

    Taught in "Adversarial examples" (book/part6/adversarial.md).
    """
    _check_attack("fgsm", model, inputs, targets, epsilon, loss_fn, clamp)
    gradient = _input_gradient("fgsm", model, inputs, targets, loss_fn)
    with no_grad():
        adversarial = inputs + epsilon * gradient.sign()
        if clamp is not None:
            adversarial = adversarial.clamp(clamp[0], clamp[1])
    return adversarial.detach()


def pgd(model, inputs, targets, epsilon, alpha=None, steps=10, loss_fn=F.cross_entropy, clamp=(0.0, 1.0),
        random_start=True):
    """Projected gradient descent on the loss (ascent, for the attacker) inside the max-norm ε-ball.

    Starting from ``inputs`` (plus uniform noise in [-epsilon, epsilon] with ``random_start``, drawn
    from the library's seeded stream), repeat ``steps`` times: step ``alpha * sign(grad_x loss)``, then
    project onto the ε-ball around ``inputs`` and onto the ``clamp`` box. With ``alpha = None`` the
    step is ``2.5 * epsilon / steps``, so that the steps together could cross the ball with room to
    spare. ``steps=1``, ``alpha=epsilon`` and ``random_start=False`` is FGSM.

    Arguments and result are those of ``fgsm``; ``alpha`` is a number > 0 (or None) in the units of the
    inputs, ``steps`` an int >= 1. Every entry of the result lies within ``epsilon`` of ``inputs`` and
    inside ``clamp``. Raises what ``fgsm`` raises, and TypeError or ValueError for a bad ``alpha`` or
    ``steps``.

    Taught in "Adversarial examples" (book/part6/adversarial.md).
    """
    _check_attack("pgd", model, inputs, targets, epsilon, loss_fn, clamp)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"pgd: steps must be an int >= 1, got {steps!r}")
    if alpha is None:
        alpha = 2.5 * epsilon / steps
    elif isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"pgd: alpha (the step size) must be a finite number > 0 or None, got {alpha!r}")
    clean = inputs.detach()
    low, high = clean - epsilon, clean + epsilon
    adversarial = clean
    if random_start and epsilon > 0:
        adversarial = _project(clean + epsilon * (2 * rand_like(clean) - 1), low, high, clamp)
    for _ in range(steps):
        gradient = _input_gradient("pgd", model, adversarial, targets, loss_fn)
        with no_grad():
            adversarial = _project(adversarial + alpha * gradient.sign(), low, high, clamp)
    return adversarial.detach()


def robust_accuracy(model, inputs, targets, epsilon, attack=fgsm, **attack_kwargs):
    """The fraction of ``inputs`` that ``model`` still classifies as ``targets`` after ``attack``.

    ``attack`` is ``fgsm``, ``pgd`` or any function with their signature; ``attack_kwargs`` go to it
    (``steps=``, ``alpha=``, ``loss_fn=``...). With ``epsilon = 0`` no attack is run and the result is
    the clean accuracy. ``inputs`` (N, ...) and class indices ``targets`` (N,) as for ``fgsm``; the
    model returns logits (N, C). Returns a Python float in [0, 1]. Raises TypeError for an attack that
    is not callable and for targets that are not integer class indices, and what the attack raises.

    Taught in "Adversarial examples" (book/part6/adversarial.md).
    """
    if not callable(attack):
        raise TypeError(f"robust_accuracy: attack must be callable, such as fgsm or pgd, got {type(attack).__name__}")
    if not isinstance(targets, Tensor) or targets.dtype.kind not in "iu" or targets.ndim != 1:
        shown = f"{targets.dtype} of shape {tuple(targets.shape)}" if isinstance(targets, Tensor) else type(targets).__name__
        raise TypeError(f"robust_accuracy: targets must be a 1-D integer tensor of class indices, got {shown}")
    if epsilon != 0:
        inputs = attack(model, inputs, targets, epsilon, **attack_kwargs)
    else:
        _check_attack("robust_accuracy", model, inputs, targets, epsilon, F.cross_entropy, None)
    with no_grad():
        predictions = model(inputs).argmax(dim=-1)
    return float((predictions == targets).float().mean().item())


def _project(adversarial, low, high, clamp):
    """Onto the ε-ball (the box [low, high]) and then onto the clamp box: together, onto their intersection."""
    adversarial = adversarial.clamp(low, high)
    return adversarial if clamp is None else adversarial.clamp(clamp[0], clamp[1])


def _input_gradient(caller, model, inputs, targets, loss_fn):
    """∇_x loss_fn(model(x), targets) at x = inputs; the parameters are frozen meanwhile, so their .grad stays."""
    frozen = [p for p in model.parameters() if p.requires_grad] if hasattr(model, "parameters") else []
    for parameter in frozen:
        parameter.requires_grad_(False)
    try:
        x = inputs.detach().requires_grad_(True)
        with enable_grad():
            loss = loss_fn(model(x), targets)
            if not isinstance(loss, Tensor) or loss.ndim != 0:
                shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
                raise ValueError(f"{caller}: loss_fn must return a scalar loss (reduction='mean' or 'sum'), got {shape}")
            if loss.requires_grad:
                loss.backward()
    finally:
        for parameter in frozen:
            parameter.requires_grad_(True)
    if x.grad is None:
        raise RuntimeError(f"{caller}: the loss does not depend on the inputs, so there is no gradient to follow")
    return x.grad


def _check_attack(caller, model, inputs, targets, epsilon, loss_fn, clamp):
    """The argument checks every attack shares, with messages that name the argument."""
    for name, value in (("model", model), ("loss_fn", loss_fn)):
        if not callable(value):
            raise TypeError(f"{caller}: {name} must be callable, got {type(value).__name__}")
    if not isinstance(inputs, Tensor) or inputs.dtype.kind != "f":
        shown = f"a {inputs.dtype} tensor" if isinstance(inputs, Tensor) else type(inputs).__name__
        raise TypeError(f"{caller}: inputs must be a floating-point tensor, got {shown}")
    if inputs.ndim == 0:
        raise ValueError(f"{caller}: inputs must have a batch dimension first, got a 0-d tensor")
    if isinstance(targets, Tensor) and (targets.ndim == 0 or targets.shape[0] != inputs.shape[0]):
        raise ValueError(
            f"{caller}: targets must have one entry per input, got {tuple(targets.shape)} for inputs {tuple(inputs.shape)}"
        )
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real):
        raise TypeError(f"{caller}: epsilon must be a number, got {type(epsilon).__name__}")
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise ValueError(f"{caller}: epsilon (the largest change of any input entry) must be finite and >= 0, got {epsilon}")
    if clamp is None:
        return
    if not (isinstance(clamp, (tuple, list)) and len(clamp) == 2
            and all(isinstance(b, numbers.Real) and not isinstance(b, bool) for b in clamp) and clamp[0] < clamp[1]):
        raise ValueError(f"{caller}: clamp must be None or a pair (low, high) of numbers with low < high, got {clamp!r}")
    smallest, largest = inputs.min().item(), inputs.max().item()
    if smallest < clamp[0] or largest > clamp[1]:
        raise ValueError(
            f"{caller}: inputs must lie inside clamp = {tuple(clamp)}, got values in [{smallest:g}, {largest:g}]; "
            "scale them first or pass clamp=None"
        )
