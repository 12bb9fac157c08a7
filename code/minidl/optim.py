"""Optimizers with PyTorch's update rules, and learning-rate schedules.

Each ``_update`` is the textbook formula on raw arrays, in place. The state (momentum buffers, running
averages) lives in ``self.state[parameter]``, as in PyTorch.
Taught in "Optimization in practice" (``book/part1/optimization.md``).
"""

import itertools
import math
import numbers
import warnings

from minidl import backend
from minidl.nn.module import Module
from minidl.tensor import Tensor, no_grad
from minidl.tensor import promotion


class Optimizer:
    """Holds parameter groups (each a dict with ``params`` and hyperparameters) and per-parameter state.

    ``params`` is an iterable of tensors (``model.parameters()``) or of dicts ``{"params": ..., "lr": ...}``.
    Raises TypeError for a module, a single tensor or a non-tensor in ``params``, ValueError for an
    empty list, a non-leaf tensor or an out-of-range hyperparameter, with PyTorch's messages.

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, params, defaults):
        name = type(self).__name__
        _check_hyperparameters(name, defaults)
        self.defaults = defaults
        self.param_groups = []
        seen = set()
        for group in _groups(name, params):
            group = {**defaults, **group}
            _check_hyperparameters(name, group)
            group["params"] = _tensors(name, group["params"])
            if len({id(p) for p in group["params"]}) < len(group["params"]):
                warnings.warn(
                    "optimizer contains a parameter group with duplicate parameters; each copy is updated "
                    "at every step", UserWarning, stacklevel=3,
                )
            if seen & {id(p) for p in group["params"]}:
                raise ValueError(f"{name}: some parameters appear in more than one parameter group")
            seen |= {id(p) for p in group["params"]}
            self.param_groups.append(group)
        self.state = {}
        self._scratch = {}  # (shape, dtype, array type) -> two work arrays; id(group) -> Adam's flat buffers

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p._grad = None  # what ``p.grad = None`` does, without the checks a None needs not
                elif p.grad is not None:
                    p.grad.data[...] = 0

    def _work_arrays(self, param):
        """Two scratch arrays of ``param``'s shape, dtype and device, reused by every step of the
        parameters of that shape: an update computes into them instead of allocating temporaries."""
        key = (param.shape, param.dtype, type(param))
        pair = self._scratch.get(key)
        if pair is None:
            xp = backend.xp(param)
            pair = self._scratch[key] = (xp.empty_like(param), xp.empty_like(param))
        return pair

    def step(self):
        """One update of every parameter that has a gradient.

        Every gradient is checked first (a Tensor of its parameter's shape), so a step that raises
        has changed no parameter and no state.
        """
        pending, index = [], 0  # (group, its parameters that have a gradient)
        for group in self.param_groups:
            params = []
            for p in group["params"]:
                if p.grad is not None:
                    _check_grad(type(self).__name__, index, p)
                    params.append(p)
                index += 1
            if params:
                pending.append((group, params))
        with no_grad():
            for group, params in pending:
                self._update_group(params, group)

    def _update_group(self, params, group):
        """Update the parameters (Tensors with a gradient) of one group: one ``_update`` each, in order."""
        for p in params:
            state = self._next_state(p)
            self._update(p.data, self._gradient(p, group), state, group)

    def _gradient(self, p, group):
        """The gradient the update follows: ``p.grad``, plus the L2 penalty's unless decay is decoupled."""
        if group.get("weight_decay", 0) and not getattr(self, "decoupled_weight_decay", False):
            return p.grad.data + group["weight_decay"] * p.data  # L2 penalty (lambda/2)||w||^2
        return p.grad.data

    def _next_state(self, p):
        """``p``'s state, on ``p``'s device, with its step count advanced to the step being taken."""
        state = self.state.setdefault(p, {"step": 0})
        _follow(state, p.data)
        state["step"] += 1
        return state

    def _update(self, param, grad, state, group):
        raise NotImplementedError


def _follow(state, param):
    """Move a parameter's state arrays to the parameter's device (after ``model.to``), as PyTorch keeps them."""
    kind = type(param)
    for key, value in state.items():
        if type(value) is kind or not backend.is_array(value):  # the same type of array: the same device
            continue
        owner = backend.of(param)
        if backend.of(value) is not owner:
            state[key] = promotion.transfer(value, backend.of(value), owner)


# ---- argument checks ---------------------------------------------------------------------------
# PyTorch's wording for each hyperparameter, and the smallest (and largest) value it accepts.
_RANGES = {
    "lr": ("Invalid learning rate", 0, None),
    "momentum": ("Invalid momentum value", 0, None),
    "weight_decay": ("Invalid weight_decay value", 0, None),
    "eps": ("Invalid epsilon value", 0, None),
    "lr_decay": ("Invalid lr_decay value", 0, None),
    "initial_accumulator_value": ("Invalid initial_accumulator_value value", 0, None),
    "rho": ("Invalid rho value", 0, 1),
    "alpha": ("Invalid alpha value", 0, None),
}


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_hyperparameters(name, hyperparameters):
    for key, (message, low, high) in _RANGES.items():
        if key not in hyperparameters:
            continue
        value = hyperparameters[key]
        if not _is_number(value):
            raise TypeError(f"{name}: {key} must be a number, got {type(value).__name__} {value!r}")
        if not (low <= value and (high is None or value <= high)):
            bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise ValueError(f"{name}: {message}: {value} ({key} must be {bounds})")
    if "betas" in hyperparameters:
        betas = hyperparameters["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2 and all(_is_number(b) for b in betas)):
            raise TypeError(f"{name}: betas must be a pair of numbers (beta1, beta2), got {betas!r}")
        for index, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ValueError(f"{name}: Invalid beta parameter at index {index}: {beta} (betas must be in [0, 1))")


def _groups(name, params):
    """``params`` as a non-empty list of group dicts, after refusing the usual mix-ups."""
    if isinstance(params, Tensor):
        raise TypeError(
            f"{name}: params argument given to the optimizer should be an iterable of Tensors or dicts, "
            f"but got a Tensor; wrap it in a list: {name}([w], lr=...)"
        )
    if isinstance(params, Module):
        raise TypeError(
            f"{name}: params must be an iterable of parameters, got the module {type(params).__name__}; "
            f"pass its parameters: {name}(model.parameters(), lr=...)"
        )
    if isinstance(params, dict):
        raise TypeError(
            f"{name}: params must be an iterable of parameters or of parameter groups, got a dict; pass "
            f"model.parameters() (not a state dict), or a list of groups [{{'params': ..., 'lr': ...}}]"
        )
    try:
        params = list(params)
    except TypeError:
        raise TypeError(
            f"{name}: params must be an iterable of parameters such as model.parameters(), "
            f"got {type(params).__name__}"
        ) from None
    if not params:
        raise ValueError(
            f"{name}: optimizer got an empty parameter list (model.parameters() is a generator that can "
            "be used once: call it again for each optimizer)"
        )
    if not all(isinstance(group, dict) for group in params):
        return [{"params": params}]
    for index, group in enumerate(params):
        if "params" not in group:
            raise KeyError(f"{name}: parameter group {index} has no 'params' entry")
    return [dict(group) for group in params]


def _tensors(name, params):
    """The parameters of one group as a list, each a leaf Tensor."""
    params = [params] if isinstance(params, Tensor) else list(params)
    for p in params:
        if not isinstance(p, Tensor):
            kind = type(p).__qualname__ if type(p).__module__ == "builtins" else f"{type(p).__module__}.{type(p).__name__}"
            hint = "; pass model.parameters(), not the layers" if hasattr(p, "parameters") else ""
            raise TypeError(f"{name}: optimizer can only optimize Tensors, but one of the params is {kind}{hint}")
        if not p.is_leaf:
            raise ValueError(
                f"{name}: can't optimize a non-leaf Tensor (one computed from others); "
                "optimize the tensors it was computed from, e.g. the model's Parameters"
            )
    return params


def _check_grad(name, index, p):
    """PyTorch refuses to assign a gradient that is not a Tensor of the parameter's shape; check it here."""
    if not isinstance(p.grad, Tensor):
        raise TypeError(
            f"{name}.step: params[{index}].grad must be a Tensor or None, but got grad of type "
            f"{type(p.grad).__name__}"
        )
    if p.grad.shape != p.shape:
        raise RuntimeError(
            f"{name}.step: params[{index}] has shape {p.shape} but its .grad has shape {p.grad.shape}; "
            "the gradient and the tensor must be the same size (no parameter was updated)"
        )


class SGD(Optimizer):
    """w <- w - lr g; with momentum, b <- mu b + g and w <- w - lr b (Nesterov: w - lr (g + mu b)).

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        if nesterov and (not _is_number(momentum) or momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: Nesterov momentum requires a momentum and zero dampening, got momentum={momentum}, "
                f"dampening={dampening}"
            )
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                                      weight_decay=weight_decay))

    def _update(self, param, grad, state, group):
        momentum = group["momentum"]
        if momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.copy()
            else:
                buffer = state["momentum_buffer"]
                buffer *= momentum
                buffer += (1 - group["dampening"]) * grad
            buffer = state["momentum_buffer"]
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        step, _ = self._work_arrays(param)
        backend.xp(param).multiply(grad, group["lr"], out=step)  # lr * g, rounded as the plain expression
        param -= step


class Adagrad(Optimizer):
    """Divide each coordinate's step by the root of its summed squared gradients: G <- G + g^2.

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _update(self, param, grad, state, group):
        if "sum" not in state:
            state["sum"] = backend.xp(param).full_like(param, group["initial_accumulator_value"])
        state["sum"] += grad * grad
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        param -= lr * grad / (backend.xp(param).sqrt(state["sum"]) + group["eps"])


class Adadelta(Optimizer):
    """Step = RMS(past steps) / RMS(gradients) * g: a learning rate in the units of the weights.

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _update(self, param, grad, state, group):
        xp, rho, eps = backend.xp(param), group["rho"], group["eps"]
        if "square_avg" not in state:
            state["square_avg"], state["acc_delta"] = xp.zeros_like(param), xp.zeros_like(param)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        param -= group["lr"] * delta


class RMSprop(Optimizer):
    """Divide by the root of a running average of squared gradients: v <- alpha v + (1 - alpha) g^2.

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _update(self, param, grad, state, group):
        xp, alpha = backend.xp(param), group["alpha"]
        if "square_avg" not in state:
            state["square_avg"] = xp.zeros_like(param)
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state.setdefault("grad_avg", xp.zeros_like(param))
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            denominator = xp.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            denominator = xp.sqrt(square_avg) + group["eps"]
        if group["momentum"] > 0:
            buffer = state.setdefault("momentum_buffer", xp.zeros_like(param))
            buffer *= group["momentum"]
            buffer += grad / denominator
            param -= group["lr"] * buffer
        else:
            param -= group["lr"] * grad / denominator


class Adam(Optimizer):
    """Momentum and RMSprop together, bias-corrected:
    m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,  w <- w - lr m_hat / (sqrt(v_hat) + eps).

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _update(self, param, grad, state, group):
        xp = backend.xp(param)
        if "exp_avg" not in state:
            state["exp_avg"], state["exp_avg_sq"] = xp.zeros_like(param), xp.zeros_like(param)
        work, denominator = self._work_arrays(param)
        self._adam(xp, grad, state["exp_avg"], state["exp_avg_sq"], work, denominator, state["step"], group)
        param -= work

    def _update_group(self, params, group):
        """The whole group in one pass over its concatenated parameters where it can (``_adam_on_group``):
        the same numbers, with a dozen array operations per step instead of a dozen per parameter."""
        if not _adam_on_group(self, params, group):
            super()._update_group(params, group)

    @staticmethod
    def _adam(xp, grad, exp_avg, exp_avg_sq, work, denominator, step, group):
        """Update m and v in place and leave the step (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps) in ``work``."""
        beta1, beta2 = group["betas"]
        # The textbook lines, computed in place into two work arrays in the same order of operations
        # (so the same roundings) as  m += (1 - b1) g;  v += (1 - b2) g g;  w -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)
        exp_avg *= beta1
        xp.multiply(grad, 1 - beta1, out=work)
        exp_avg += work
        exp_avg_sq *= beta2
        xp.multiply(grad, 1 - beta2, out=work)
        work *= grad
        exp_avg_sq += work
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        xp.sqrt(exp_avg_sq, out=denominator)
        denominator /= math.sqrt(bias_correction2)
        denominator += group["eps"]
        xp.multiply(exp_avg, group["lr"] / bias_correction1, out=work)
        work /= denominator


class AdamW(Adam):
    """Adam with decoupled weight decay: w <- w (1 - lr lambda) before the Adam step.

    Taught in "Overfitting and regularization" (book/part1/regularization.md).
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _update(self, param, grad, state, group):
        param *= 1 - group["lr"] * group["weight_decay"]
        super()._update(param, grad, state, group)


# ---- Adam on a whole group at once ------------------------------------------------------------------
def _adam_on_group(optimizer, params, group):
    """Adam's step for all of ``params`` at once, if they are distinct and share dtype, device and step
    count; returns False (and changes nothing) otherwise. The gradients are concatenated, and each
    parameter's running averages are views into one buffer for m and one for v. Element-wise, so every
    number is the one ``Adam._update`` gives, bit for bit."""
    states = [optimizer.state.get(p) for p in params]
    kinds = {(p.dtype, type(p.data), p.grad.dtype) for p in params}
    steps = {state["step"] if state else 0 for state in states}
    if len(params) < 2 or len(kinds) > 1 or len(steps) > 1 or len({id(p) for p in params}) < len(params):
        return False
    grads = [optimizer._gradient(p, group) for p in params]
    states = [optimizer._next_state(p) for p in params]
    arrays = [p.data for p in params]
    xp = backend.xp(arrays[0])
    flat = _flat_state(optimizer, xp, arrays, states, group)
    work = flat["work"]
    optimizer._adam(xp, xp.concatenate([grad.reshape(-1) for grad in grads]), flat["exp_avg"], flat["exp_avg_sq"],
                    work, flat["denominator"], states[0]["step"], group)
    decoupled = getattr(optimizer, "decoupled_weight_decay", False)
    for param, start, stop in zip(arrays, flat["starts"], flat["stops"]):
        if decoupled:
            param *= 1 - group["lr"] * group["weight_decay"]  # AdamW: decay first, as its _update does
        param -= work[start:stop].reshape(param.shape)
    return True


def _flat_state(optimizer, xp, params, states, group):
    """One buffer for m, one for v and two work arrays over ``params``, kept for the group while every
    state still holds the views made into them (another set of parameters, a device move or a replaced
    state rebuilds them from the states' current values)."""
    ids = tuple(id(param) for param in params)
    flat = optimizer._scratch.get(id(group))
    if flat is not None and flat["ids"] == ids and all(
        state.get("exp_avg") is m and state.get("exp_avg_sq") is v
        for state, m, v in zip(states, flat["views_m"], flat["views_v"])
    ):
        return flat
    stops = list(itertools.accumulate(param.size for param in params))
    starts = [0] + stops[:-1]
    flat = {"ids": ids, "starts": starts, "stops": stops, "views_m": [], "views_v": []}
    for name, views in (("exp_avg", flat["views_m"]), ("exp_avg_sq", flat["views_v"])):
        flat[name] = xp.concatenate([
            (state[name] if name in state else xp.zeros_like(param)).reshape(-1) for param, state in zip(params, states)
        ])
        for param, state, start, stop in zip(params, states, starts, stops):
            state[name] = flat[name][start:stop].reshape(param.shape)
            views.append(state[name])
    flat["work"], flat["denominator"] = xp.empty_like(flat["exp_avg"]), xp.empty_like(flat["exp_avg"])
    optimizer._scratch[id(group)] = flat
    return flat


class _Scheduler:
    """Sets each group's ``lr`` from its initial value and the epoch count; call ``step()`` once an epoch."""

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        self.base_lrs = [group.setdefault("initial_lr", group["lr"]) for group in optimizer.param_groups]
        self.last_epoch = 0

    def step(self):
        self.last_epoch += 1
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base_lr, self.last_epoch)

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]


class StepLR(_Scheduler):
    """lr = lr_0 * gamma^(epoch // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(_Scheduler):
    """lr = eta_min + (lr_0 - eta_min) (1 + cos(pi epoch / T_max)) / 2.

    Taught in "Overfitting and regularization" (book/part1/regularization.md).
    """

    def __init__(self, optimizer, T_max, eta_min=0.0):
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, eta_min

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
