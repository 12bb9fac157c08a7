"""Returns of episodes: the numbers a policy gradient multiplies ``log pi(a_t | s_t)`` by.

The reward-to-go of step t is the discounted sum of the rewards from t to the end of t's episode,

    R_t = r_t + gamma r_{t+1} + gamma^2 r_{t+2} + ... = r_t + gamma (1 - done_t) R_{t+1},

computed here in one backward pass over the steps. Rewards come one row per step: shape (T,) for one
episode, or (T, N) for N environments stepped together by a vector environment, whose episodes end at
different steps (``done_t`` true where an episode ended, terminated or truncated, after ``r_t``; the
next row of that column starts a new episode, as after an autoreset). ``normalize_returns`` rescales
the returns of a batch to mean 0 and standard deviation 1, the baseline and step size of REINFORCE.
"""

import numbers

from minidl import backend
from minidl.tensor import Tensor, tensor


def _as_rows(values, name):
    """``values`` (numbers, list, array or Tensor) as a backend array of floats with one row per step."""
    array = values.detach().data if isinstance(values, Tensor) else tensor(values).data
    if array.ndim not in (1, 2):
        raise ValueError(
            f"{name} must have shape (T,) for one episode or (T, N) for N environments, got shape {tuple(array.shape)}"
        )
    if array.dtype.kind == "b" or array.dtype.kind in "iu":
        array = array.astype(backend.float32)
    elif array.dtype.kind != "f":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array


def _as_flags(flags, reference, name, like):
    """0/1 floats of the shape and dtype of ``reference`` (the array ``like``) from booleans or 0/1 numbers.

    ValueError for another shape or for values other than 0 and 1.
    """
    shape = reference.shape
    array = flags.detach().data if isinstance(flags, Tensor) else tensor(flags).data
    if tuple(array.shape) != tuple(shape):
        raise ValueError(f"{name} must have the shape of {like} {tuple(shape)}, got shape {tuple(array.shape)}")
    array = array.astype(reference.dtype)
    if not bool(((array == 0) | (array == 1)).all()):
        raise ValueError(f"{name} must be booleans (True where an episode ended), got values other than 0 and 1")
    return array


def _check_gamma(gamma):
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not 0 <= gamma <= 1:
        raise ValueError(f"gamma must be a discount factor in [0, 1], got {gamma!r}")
    return float(gamma)


def discounted_returns(rewards, gamma, dones=None):
    """The reward-to-go of every step, R_t = r_t + gamma (1 - done_t) R_{t+1}, summed backwards.

    ``rewards``: shape (T,) (one episode) or (T, N) (N environments, one row per step), numbers, a
    list, an array or a Tensor. ``gamma``: the discount, a float in [0, 1]. ``dones``: None (the T rows
    are one episode in each column) or booleans of the shape of ``rewards``, True at the last step of
    an episode; the sum stops there and the row below starts the next episode. Steps after a column's
    last ``done`` belong to an episode still running, so their sums stop at row T - 1. Returns a float
    Tensor of the shape of ``rewards`` (float64 stays float64, else float32), outside the graph: returns
    are weights of the loss, not something to differentiate. ValueError for a gamma outside [0, 1], a
    shape other than (T,) or (T, N), or ``dones`` of another shape or with values other than 0 and 1;
    TypeError for rewards that are not real numbers.

    Taught in "Policy gradients" (book/part5/policy_gradients.md).
    """
    gamma = _check_gamma(gamma)
    rewards = _as_rows(rewards, "rewards")
    continues = 1 - _as_flags(dones, rewards, "dones", "rewards") if dones is not None else None
    returns = backend.xp().zeros_like(rewards)
    running = backend.xp().zeros_like(rewards[0]) if len(rewards) else None
    for t in reversed(range(len(rewards))):
        future = gamma * running if continues is None else gamma * continues[t] * running
        running = rewards[t] + future
        returns[t] = running
    return Tensor(returns)


def normalize_returns(returns, mask=None, eps=1e-8):
    """``(returns - mean) / (std + eps)`` over the steps of a batch: the mean is the baseline, the std the scale.

    Subtracting the mean return (a baseline) leaves the expected policy gradient unchanged and lowers its
    variance; dividing by the standard deviation keeps the step size the same as episodes grow longer.
    ``returns``: shape (T,) or (T, N), as from ``discounted_returns``. ``mask``: None (every entry
    counts) or booleans of the same shape, True for the steps to use (steps outside the episodes
    collected are False); those outside the mask come back as 0. ``eps``: a small positive float that
    keeps a batch of equal returns finite. The standard deviation is the population one (divided by the
    number of steps). Returns a float Tensor of the same shape, outside the graph. ValueError for a mask
    of another shape, non-boolean values, or one that selects no step, and for ``eps`` <= 0.

    Taught in "Policy gradients" (book/part5/policy_gradients.md).
    """
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps > 0:
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    returns = _as_rows(returns, "returns")
    weights = _as_flags(mask, returns, "mask", "returns") if mask is not None else backend.xp().ones_like(returns)
    count = float(weights.sum())
    if count == 0:
        raise ValueError("mask must select at least one step, got a mask that is False everywhere")
    mean = (returns * weights).sum() / count
    std = ((((returns - mean) * weights) ** 2).sum() / count) ** 0.5
    return Tensor(((returns - mean) / (std + eps) * weights).astype(returns.dtype))
