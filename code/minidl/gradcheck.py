"""Check analytic gradients against central finite differences, (f(x + h) - f(x - h)) / 2h.

Taught in "Gradient descent and backpropagation" (``book/part1/backprop.md``).
"""

from minidl import backend
from minidl.tensor import Tensor, no_grad


class GradcheckError(RuntimeError):
    """The analytic and numerical gradients disagree.

    Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
    """


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """True if ``fn(*inputs)``'s gradients match finite differences for every float64 input.

    The output is reduced to a scalar by a fixed random weighting, so every output entry counts.
    ``inputs`` is a Tensor or a list of them (contiguous float64 for those that require grad);
    ``eps`` is the finite-difference step, ``atol``/``rtol`` the tolerances. As in PyTorch, the
    inputs' ``.grad`` are left as they were. Raises GradcheckError naming the input and entry that
    disagree most; ValueError if no input requires grad; TypeError for an input that is not float64.

    Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
    """
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for t in checked:
        if t.dtype != backend.float64:
            raise TypeError(f"gradcheck: inputs must be float64 for finite differences to be exact enough, got {t.dtype}")
    output = fn(*inputs)
    current = backend.of(output.data)
    weights = current.from_host(backend.host_generator(0).uniform(0.5, 1.5, output.shape))

    def objective():
        with no_grad():
            return float((fn(*inputs).data * weights).sum())

    previous = [t.grad for t in checked]
    try:
        for t in checked:
            t.grad = None
        (output * Tensor._from_op(weights, (), None)).sum().backward()
        analytic_of = {id(t): backend.of(t.data).to_host(t.grad.data if t.grad is not None else t.data * 0)
                       for t in checked}
    finally:
        for t, grad in zip(checked, previous):
            t.grad = grad
    for position, t in enumerate(inputs):
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        analytic = analytic_of[id(t)]
        flat = t.data.reshape(-1)
        if t.data.size and flat.base is None:
            raise ValueError("gradcheck: inputs must be contiguous arrays")
        numeric = analytic.reshape(-1) * 0
        for i in range(flat.size):
            original = float(flat[i])
            flat[i] = original + eps
            above = objective()
            flat[i] = original - eps
            below = objective()
            flat[i] = original
            numeric[i] = (above - below) / (2 * eps)
        error = abs(analytic.reshape(-1) - numeric) - (atol + rtol * abs(numeric))
        if error.size and error.max() > 0:
            worst = int(error.argmax())
            raise GradcheckError(
                f"gradcheck: input {position} (shape {t.shape}), entry {worst}: analytic gradient "
                f"{analytic.reshape(-1)[worst]:.8g} but finite differences give {numeric[worst]:.8g}"
            )
    return True
