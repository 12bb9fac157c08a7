"""Exploration for value-based agents: the epsilon-greedy rule and a linear schedule for epsilon.

An agent that always takes the action it currently believes best never tries the others, so it never
learns that one of them is better. Epsilon-greedy takes a uniformly random action with probability
epsilon and the greedy one otherwise; a schedule lowers epsilon as the estimates improve.
"""

import numbers

from minidl import backend
from minidl.creation import _draw
from minidl.tensor import Tensor


def epsilon_greedy(q_values, epsilon, generator=None):
    """An action per state: argmax_a Q(s, a) with probability 1 - epsilon, a uniform action otherwise.

    ``q_values`` is a Tensor of shape (A,) for one state or (..., A) for a batch of states, A >= 1
    actions; ``epsilon`` a float in [0, 1]. The random action is drawn over all A actions, so the
    greedy one is taken with probability 1 - epsilon + epsilon / A and each other with epsilon / A.
    Draws come from the library's seeded stream, or from ``generator`` (a NumPy Generator); each call
    makes the same draws whether it explores or not, so a seed fixes the whole run. Returns a Python
    int for one state, an int64 Tensor of shape (...) for a batch. Raises TypeError for ``q_values``
    that is not a Tensor, ValueError for a scalar or empty ``q_values`` or an ``epsilon`` outside [0, 1].

    Taught in "The reinforcement learning setting and Q-learning" (book/part5/q_learning.md) and "Deep Q-networks" (book/part5/dqn.md).
    """
    if not isinstance(q_values, Tensor):
        raise TypeError(f"epsilon_greedy: q_values must be a Tensor of shape (A,) or (..., A), got {type(q_values).__name__}")
    if q_values.ndim == 0 or q_values.shape[-1] == 0:
        raise ValueError(f"epsilon_greedy: q_values needs a last dimension of A >= 1 actions, got shape {q_values.shape}")
    _check_probability(epsilon, "epsilon_greedy", "epsilon")
    n_actions = q_values.shape[-1]
    # two uniform draws per state: one decides whether to explore, the other picks the random action
    # (the draws of rand(..., dtype=float64), without wrapping them in a Tensor: this runs every step)
    draws = _draw("uniform", (*q_values.shape[:-1], 2), backend.xp().dtype(backend.float64), generator, "epsilon_greedy")
    if q_values.ndim == 1:  # one state (a table's row): Python numbers, far faster than 0-d arrays
        explore, pick = float(draws[0]), float(draws[1])
        return min(int(pick * n_actions), n_actions - 1) if explore < epsilon else int(q_values.data.argmax())
    xp = backend.xp()
    random_actions = xp.minimum(xp.floor(draws[..., 1] * n_actions), n_actions - 1).astype(backend.int64)
    return Tensor(xp.where(draws[..., 0] < epsilon, random_actions, q_values.data.argmax(axis=-1)))

class LinearSchedule:
    """A value that moves in a straight line from ``start`` to ``end`` over ``duration`` steps, then stays.

    value(t) = start + (end - start) min(t / duration, 1), for an int step t >= 0: epsilon from 1 (all
    exploration) down to a small floor, over episodes in a table or environment steps in DQN. ``start``
    and ``end`` are floats, ``duration`` a positive int. Raises ValueError for a non-positive
    ``duration`` and, when called, for a negative step.

    Taught in "The reinforcement learning setting and Q-learning" (book/part5/q_learning.md) and "Deep Q-networks" (book/part5/dqn.md).
    """

    def __init__(self, start, end, duration):
        if isinstance(duration, bool) or not isinstance(duration, numbers.Integral) or duration <= 0:
            raise ValueError(f"LinearSchedule: duration must be a positive int (steps), got {duration!r}")
        for name, value in (("start", start), ("end", end)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"LinearSchedule: {name} must be a number, got {value!r}")
        self.start, self.end, self.duration = float(start), float(end), int(duration)

    def __call__(self, step):
        """The value at ``step`` (an int >= 0), as a Python float."""
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"LinearSchedule: step must be an int >= 0, got {step!r}")
        fraction = min(step / self.duration, 1.0)
        return self.start + (self.end - self.start) * fraction

    def __repr__(self):
        return f"LinearSchedule(start={self.start}, end={self.end}, duration={self.duration})"


def _check_probability(value, caller, name):
    """ValueError unless ``value`` is a real number in [0, 1] (NaN fails)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{caller}: {name} must be a probability in [0, 1], got {value!r}")
