"""Optimizers with PyTorch's update rules, and learning-rate schedules.

Each ``_update`` is the textbook formula on raw arrays, in place. The state (momentum buffers, running
averages) lives in ``self.state[parameter]``, as in PyTorch.
Taught in "Optimization in practice" (``book/part1/optimization.md``).
"""

import math

from minidl import backend
from minidl.tensor import Tensor, no_grad


class Optimizer:
    """Holds parameter groups (each a dict with ``params`` and hyperparameters) and per-parameter state.

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, params, defaults):
        if "lr" in defaults and defaults["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: learning rate lr must be >= 0, got {defaults['lr']}")
        for key in ("weight_decay", "momentum", "eps"):
            if defaults.get(key, 0) < 0:
                raise ValueError(f"{type(self).__name__}: {key} must be >= 0, got {defaults[key]}")
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of tensors, e.g. model.parameters()")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = defaults
        self.param_groups = []
        for group in groups:
            group = {**defaults, **group, "params": list(group["params"])}
            for p in group["params"]:
                if not p.requires_grad:
                    raise ValueError(f"{type(self).__name__}: can't optimize a tensor that doesn't require grad")
            self.param_groups.append(group)
        self.state = {}

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data[...] = 0

    def step(self):
        """One update of every parameter that has a gradient."""
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.data
                    if group.get("weight_decay", 0) and not getattr(self, "decoupled_weight_decay", False):
                        grad = grad + group["weight_decay"] * p.data  # L2 penalty (lambda/2)||w||^2
                    state = self.state.setdefault(p, {"step": 0})
                    state["step"] += 1
                    self._update(p.data, grad, state, group)

    def _update(self, param, grad, state, group):
        raise NotImplementedError


class SGD(Optimizer):
    """w <- w - lr g; with momentum, b <- mu b + g and w <- w - lr b (Nesterov: w - lr (g + mu b)).

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")
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
        param -= group["lr"] * grad


class Adagrad(Optimizer):
    """Divide each coordinate's step by the root of its summed squared gradients: G <- G + g^2.

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _update(self, param, grad, state, group):
        if "sum" not in state:
            state["sum"] = backend.xp().full_like(param, group["initial_accumulator_value"])
        state["sum"] += grad * grad
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        param -= lr * grad / (backend.xp().sqrt(state["sum"]) + group["eps"])


class Adadelta(Optimizer):
    """Step = RMS(past steps) / RMS(gradients) * g: a learning rate in the units of the weights.

    Taught in "Optimization in practice" (book/part1/optimization.md).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _update(self, param, grad, state, group):
        xp, rho, eps = backend.xp(), group["rho"], group["eps"]
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
        xp, alpha = backend.xp(), group["alpha"]
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
        if not all(0 <= beta < 1 for beta in betas):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _update(self, param, grad, state, group):
        xp, (beta1, beta2), step = backend.xp(), group["betas"], state["step"]
        if "exp_avg" not in state:
            state["exp_avg"], state["exp_avg_sq"] = xp.zeros_like(param), xp.zeros_like(param)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        denominator = xp.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + group["eps"]
        param -= (group["lr"] / bias_correction1) * exp_avg / denominator


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


class _Scheduler:
    """Sets each group's ``lr`` from its initial value and the epoch count; call ``step()`` once an epoch."""

    def __init__(self, optimizer):
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
