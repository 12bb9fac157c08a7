"""Denoising diffusion (DDPM, Ho, Jain and Abbeel, 2020): noise schedule, forward process, loss, sampler.

The forward process adds a little Gaussian noise at each of T steps,
x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps, until nothing of the data is left; its marginal has
the closed form x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps with abar_t = prod_{s <= t} (1 - beta_s), so a
training example at any step costs one draw. A network eps_theta(x_t, t) learns to predict the noise
(``ddpm_loss``), and the reverse process runs the chain backwards from pure noise (``ddpm_sample``).

Steps are numbered as in the paper: t = 1 .. T, and t = 0 is the data itself. The schedule's tensors
therefore have T + 1 entries, entry 0 being beta_0 = 0 and abar_0 = 1. A model is called as
``model(x_t, t)`` with ``t`` an int64 tensor of shape (N,) holding one step per example.
"""

import math
import numbers

from minidl import backend
from minidl.autograd import no_grad
from minidl.creation import full, randint, randn
from minidl.nn import functional as F
from minidl.tensor import Tensor, tensor


class NoiseSchedule:
    """The variances beta_t of the forward process and what follows from them, for t = 0 .. T.

    ``betas``: the T values beta_1 .. beta_T (a sequence, array or Tensor), each in (0, 1). The
    attributes are float32 tensors of shape (T + 1,), indexed by the step t (entry 0 is the data):
    ``betas`` (beta_0 = 0), ``alphas`` = 1 - beta_t, ``alpha_bars`` = prod_{s <= t} alpha_s (abar_0 = 1),
    and ``num_steps`` is T. The products are taken in float64. ValueError for an empty schedule or a
    beta outside (0, 1); TypeError for values that are not numbers. ``NoiseSchedule.linear`` and
    ``NoiseSchedule.cosine`` build the two usual schedules.

    Taught in "Diffusion models" (book/part4/diffusion.md).
    """

    def __init__(self, betas):
        values = betas.detach().data if isinstance(betas, Tensor) else tensor(betas, dtype=backend.float64).data
        if values.ndim != 1 or values.shape[0] == 0:
            raise ValueError(f"NoiseSchedule: betas must be a non-empty 1-D sequence, got shape {tuple(values.shape)}")
        if values.dtype.kind not in "fiu":
            raise TypeError(f"NoiseSchedule: betas must be numbers, got dtype {values.dtype}")
        xp = backend.xp()
        values = values.astype(backend.float64)
        if not bool(((values > 0) & (values < 1)).all()):
            raise ValueError(f"NoiseSchedule: every beta must lie in (0, 1), got values from "
                             f"{float(values.min().item())} to {float(values.max().item())}")
        betas = xp.concatenate([xp.zeros(1, dtype=backend.float64), values])
        self.num_steps = int(values.shape[0])
        self.betas = Tensor(betas.astype(backend.float32))
        self.alphas = Tensor((1.0 - betas).astype(backend.float32))
        self.alpha_bars = Tensor(xp.cumprod(1.0 - betas).astype(backend.float32))

    @classmethod
    def linear(cls, num_steps, beta_start=None, beta_end=None):
        """beta_t rising linearly from ``beta_start`` to ``beta_end`` over ``num_steps`` steps (DDPM's schedule).

        The defaults scale DDPM's 1e-4 .. 0.02 over 1,000 steps to ``num_steps`` (times 1000 / T, as the
        improved-DDPM code does), so that abar_T is near 0 for any T; for T <= 20 the scaled end is
        capped at 0.999. ValueError for ``num_steps`` < 1 or betas outside (0, 1).

        Taught in "Diffusion models" (book/part4/diffusion.md).
        """
        _check_steps(num_steps, "NoiseSchedule.linear")
        scale = 1000.0 / num_steps
        start = 1e-4 * scale if beta_start is None else beta_start
        end = min(0.02 * scale, 0.999) if beta_end is None else beta_end
        if num_steps == 1:
            return cls([start])
        return cls([start + (end - start) * i / (num_steps - 1) for i in range(num_steps)])

    @classmethod
    def cosine(cls, num_steps, s=0.008, max_beta=0.999):
        """The cosine schedule of Nichol and Dhariwal (2021): abar_t = f(t) / f(0), f(t) = cos^2((t/T + s) / (1 + s) pi/2).

        It destroys information more evenly over the steps than the linear one. Each beta_t =
        1 - abar_t / abar_{t-1} is clipped at ``max_beta``. ValueError for ``num_steps`` < 1 or ``s`` < 0.

        Taught in "Diffusion models" (book/part4/diffusion.md).
        """
        _check_steps(num_steps, "NoiseSchedule.cosine")
        if isinstance(s, bool) or not isinstance(s, numbers.Real) or s < 0:
            raise ValueError(f"NoiseSchedule.cosine: s must be a number >= 0, got {s!r}")

        def f(t):
            return math.cos((t / num_steps + s) / (1 + s) * math.pi / 2) ** 2

        return cls([min(1 - f(t) / f(t - 1), max_beta) for t in range(1, num_steps + 1)])


def _check_steps(num_steps, caller):
    if isinstance(num_steps, bool) or not isinstance(num_steps, numbers.Integral) or num_steps < 1:
        raise ValueError(f"{caller}: num_steps must be an int >= 1, got {num_steps!r}")


def _per_example(values, t, x):
    """values[t] (one entry per example) shaped (N, 1, ..., 1) to broadcast against x of shape (N, ...)."""
    return values[t].reshape((x.shape[0],) + (1,) * (x.ndim - 1))


def _check_steps_tensor(t, x, schedule, caller, lowest=0):
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"{caller}: schedule must be a NoiseSchedule, got {type(schedule).__name__}")
    if not isinstance(x, Tensor) or x.ndim < 1:
        raise TypeError(f"{caller}: x must be a Tensor of shape (N, ...), got {type(x).__name__}")
    if not isinstance(t, Tensor) or t.dtype.kind not in "iu" or tuple(t.shape) != (x.shape[0],):
        raise ValueError(f"{caller}: t must be an integer Tensor of shape ({x.shape[0]},), one step per example, "
                         f"got {type(t).__name__} {getattr(t, 'dtype', '')} {tuple(getattr(t, 'shape', ()))}")
    if x.shape[0] and (int(t.min().item()) < lowest or int(t.max().item()) > schedule.num_steps):
        raise ValueError(f"{caller}: steps t must lie in {lowest} .. {schedule.num_steps}, got "
                         f"{int(t.min().item())} .. {int(t.max().item())}")


def q_sample(x0, t, schedule, noise=None):
    """Draw x_t ~ q(x_t | x_0) in one step: sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, eps ~ N(0, I).

    ``x0``: float Tensor (N, ...); ``t``: int64 Tensor (N,) of steps in 0 .. T (0 returns x0);
    ``noise``: the eps to use, of x0's shape (drawn from the library's stream when None). Returns x_t,
    of x0's shape and dtype. TypeError or ValueError for a wrong schedule, shape or step.

    Taught in "Diffusion models" (book/part4/diffusion.md).
    """
    _check_steps_tensor(t, x0, schedule, "q_sample")
    noise = randn(*x0.shape, dtype=x0.dtype) if noise is None else noise
    if tuple(noise.shape) != tuple(x0.shape):
        raise ValueError(f"q_sample: noise must have x0's shape {tuple(x0.shape)}, got {tuple(noise.shape)}")
    alpha_bar = _per_example(schedule.alpha_bars, t, x0)
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise


def q_step(x_prev, t, schedule, noise=None):
    """One step of the forward process: x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps.

    The definition that ``q_sample`` short-cuts: applying it for t = 1 .. s gives x_s with the same
    distribution as ``q_sample(x0, s)``. ``x_prev``: Tensor (N, ...); ``t``: int64 Tensor (N,) of steps
    in 1 .. T; ``noise`` as in ``q_sample``. Returns x_t of x_prev's shape. Errors as ``q_sample``.

    Taught in "Diffusion models" (book/part4/diffusion.md).
    """
    _check_steps_tensor(t, x_prev, schedule, "q_step", lowest=1)
    noise = randn(*x_prev.shape, dtype=x_prev.dtype) if noise is None else noise
    beta = _per_example(schedule.betas, t, x_prev)
    return (1 - beta).sqrt() * x_prev + beta.sqrt() * noise


def ddpm_loss(model, x0, schedule):
    """DDPM's simplified objective: the mean squared error of the predicted noise at a random step.

    For each example a step t is drawn uniformly from 1 .. T and a noise eps from N(0, I); the loss is
    mean |eps - model(q_sample(x0, t, eps), t)|^2 over examples and coordinates (Ho et al.'s L_simple).
    ``model(x_t, t)`` must return a tensor of x0's shape. Returns a scalar Tensor in the graph.

    Taught in "Diffusion models" (book/part4/diffusion.md).
    """
    if not isinstance(x0, Tensor) or x0.ndim < 1 or x0.shape[0] == 0:
        raise TypeError(f"ddpm_loss: x0 must be a Tensor of shape (N, ...) with N >= 1, got {type(x0).__name__}")
    t = randint(1, schedule.num_steps + 1, (x0.shape[0],))
    noise = randn(*x0.shape, dtype=x0.dtype)
    return F.mse_loss(model(q_sample(x0, t, schedule, noise), t), noise)


def ddpm_sample(model, shape, schedule, variance="beta", clip=None, generator=None, return_trajectory=False):
    """Run the reverse process from x_T ~ N(0, I) down to x_0 with a trained noise predictor.

    Each step removes the predicted noise and adds fresh noise of variance sigma_t^2:
    x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) model(x_t, t)) / sqrt(alpha_t) + sigma_t z, with z = 0 at
    t = 1. ``variance`` picks sigma_t^2 = beta_t ("beta") or the posterior's
    beta_t (1 - abar_{t-1}) / (1 - abar_t) ("posterior"); DDPM found the two alike. ``shape``: the
    samples' shape (N, ...); ``generator``: an optional NumPy ``Generator`` for the draws (as ``minidl.randn``'s). Runs
    without recording a graph. Returns x_0, a float32 Tensor of ``shape``; with ``return_trajectory``,
    (x_0, [x_T, x_{T-1}, ..., x_0]). ValueError for an unknown ``variance`` or a bad ``shape``.

    Taught in "Diffusion models" (book/part4/diffusion.md).
    """
    if variance not in ("beta", "posterior"):
        raise ValueError(f"ddpm_sample: variance must be 'beta' or 'posterior', got {variance!r}")
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"ddpm_sample: schedule must be a NoiseSchedule, got {type(schedule).__name__}")
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else shape
    if not isinstance(shape, tuple) or not shape or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1 for n in shape):
        raise ValueError(f"ddpm_sample: shape must be a tuple of positive ints (N, ...), got {shape!r}")
    betas, alphas, alpha_bars = (s.tolist() for s in (schedule.betas, schedule.alphas, schedule.alpha_bars))
    with no_grad():
        x = randn(*shape, generator=generator)
        trajectory = [x]
        for t in range(schedule.num_steps, 0, -1):
            predicted_noise = model(x, full((shape[0],), t))
            if clip is None:
                x = (x - betas[t] / math.sqrt(1 - alpha_bars[t]) * predicted_noise) / math.sqrt(alphas[t])
            else:  # the same mean, written through the predicted x_0, which is first clipped to the data's range
                x0 = ((x - math.sqrt(1 - alpha_bars[t]) * predicted_noise) / math.sqrt(alpha_bars[t])).clip(*clip)
                x = (math.sqrt(alpha_bars[t - 1]) * betas[t] * x0
                     + math.sqrt(alphas[t]) * (1 - alpha_bars[t - 1]) * x) / (1 - alpha_bars[t])
            if t > 1:
                sigma_squared = betas[t] if variance == "beta" else betas[t] * (1 - alpha_bars[t - 1]) / (1 - alpha_bars[t])
                x = x + math.sqrt(sigma_squared) * randn(*shape, generator=generator)
            if return_trajectory:
                trajectory.append(x)
    return (x, trajectory) if return_trajectory else x
