"""Tabular reinforcement learning: one number Q(s, a) per state and action, for small finite problems.

Value iteration computes Q* from the true model p(s', r | s, a) (gymnasium's toy-text environments
expose it as ``env.unwrapped.P``); Q-learning and SARSA estimate it from experience alone, one
transition at a time. Tables are float64 Tensors of shape (S, A) on the current backend.
"""

import numbers

from minidl import backend
from minidl.creation import zeros
from minidl.rl.exploration import _check_probability, epsilon_greedy
from minidl.tensor import Tensor


def value_iteration(P, gamma, tol=1e-10, max_iterations=100_000):
    """Q* of a finite MDP from its model, by repeating the Bellman optimality update until it stops moving.

    Q(s, a) <- sum_s' p(s' | s, a) [r + gamma (1 - terminated) max_a' Q(s', a')], from Q = 0, until
    the largest change is below ``tol``. ``P`` is the model in gymnasium's toy-text format:
    ``P[s][a]`` is a list of (probability, next_state, reward, terminated) for states 0..S-1 and actions
    0..A-1 (a dict or a list). ``gamma`` is in [0, 1]; with gamma = 1 it converges only where every policy
    ends. Returns (q, sweeps): q a float64 Tensor of shape (S, A), sweeps the number of updates made.
    Raises ValueError for a malformed model (probabilities not summing to 1, a next state out of range,
    states with different numbers of actions), a ``gamma`` outside [0, 1] or a non-positive ``tol``, and
    RuntimeError if ``max_iterations`` sweeps do not converge.

    Taught in "The reinforcement learning setting and Q-learning" (book/part5/q_learning.md).
    """
    _check_probability(gamma, "value_iteration", "gamma")
    if not (isinstance(tol, numbers.Real) and tol > 0):
        raise ValueError(f"value_iteration: tol must be a positive number, got {tol!r}")
    expected_reward, continuation = _model_arrays(P)
    xp = backend.xp()
    q = xp.zeros_like(expected_reward)
    for sweep in range(1, max_iterations + 1):
        # continuation[s, a, s'] = p(s' | s, a) summed over the transitions that do not end the episode
        updated = expected_reward + gamma * continuation @ q.max(axis=1)
        change = float(xp.abs(updated - q).max())
        q = updated
        if change < tol:
            return Tensor(q), sweep
    raise RuntimeError(
        f"value_iteration: no convergence to tol={tol} in {max_iterations} sweeps (last change {change:.3g}); "
        "with gamma = 1 some policy may never end"
    )


def q_learning_update(q, state, action, reward, next_state, terminated, alpha, gamma):
    """One Q-learning step in place: Q(s, a) += alpha [r + gamma max_a' Q(s', a') - Q(s, a)].

    The target uses the best next action whatever the agent will actually do (off-policy), and no
    next value after a terminal transition. ``q`` is a float Tensor (S, A), modified in place;
    ``state``, ``action``, ``next_state`` ints; ``reward`` a float; ``terminated`` a bool (True only when
    the episode really ended, not when a time limit cut it); ``alpha`` in (0, 1], ``gamma`` in [0, 1].
    Returns the temporal-difference error (the bracket) as a Python float.

    Taught in "The reinforcement learning setting and Q-learning" (book/part5/q_learning.md).
    """
    table = q.data
    next_value = 0.0 if terminated else float(table[next_state].max())
    td_error = float(reward) + gamma * next_value - float(table[state, action])
    table[state, action] += alpha * td_error
    return td_error


def sarsa_update(q, state, action, reward, next_state, next_action, terminated, alpha, gamma):
    """One SARSA step in place: Q(s, a) += alpha [r + gamma Q(s', a') - Q(s, a)], a' the action taken next.

    The target uses the action the (epsilon-greedy) agent really takes in s' (on-policy), so the values
    include the cost of its own exploration. Arguments as in ``q_learning_update``, plus
    ``next_action`` (an int). Returns the temporal-difference error as a Python float.

    Taught in "The reinforcement learning setting and Q-learning" (book/part5/q_learning.md).
    """
    table = q.data
    next_value = 0.0 if terminated else float(table[next_state, next_action])
    td_error = float(reward) + gamma * next_value - float(table[state, action])
    table[state, action] += alpha * td_error
    return td_error


def q_learning(env, episodes, alpha, gamma, epsilon, seed=None, generator=None):
    """Learn Q from experience with epsilon-greedy behaviour and the Q-learning update.

    ``env`` is a gymnasium environment with Discrete observation and action spaces; ``episodes`` a
    positive int; ``alpha`` in (0, 1] the step size; ``gamma`` in [0, 1]; ``epsilon`` a probability or
    a callable from the episode index to one (such as ``LinearSchedule``). ``seed`` seeds the first
    ``env.reset``; ``generator`` (a NumPy Generator) the agent's draws, else the library's stream.
    Returns (q, returns): q a float64 Tensor (S, A) starting from zeros, returns the undiscounted return
    of each training episode as Python floats. Raises TypeError for non-discrete spaces and ValueError
    for arguments out of range.

    Taught in "The reinforcement learning setting and Q-learning" (book/part5/q_learning.md).
    """
    q, schedule = _start(env, episodes, alpha, gamma, epsilon, "q_learning")
    returns = []
    for episode in range(episodes):
        state, _ = env.reset(seed=seed if episode == 0 else None)
        total, done, epsilon = 0.0, False, schedule(episode)
        while not done:
            action = epsilon_greedy(q[state], epsilon, generator)
            next_state, reward, terminated, truncated, _ = env.step(action)
            q_learning_update(q, state, action, reward, next_state, terminated, alpha, gamma)
            state, total, done = next_state, total + float(reward), terminated or truncated
        returns.append(total)
    return q, returns


def sarsa(env, episodes, alpha, gamma, epsilon, seed=None, generator=None):
    """Learn Q from experience with epsilon-greedy behaviour and the SARSA update (arguments as ``q_learning``).

    The next action is chosen before the update, because the update uses it. Returns (q, returns).

    Taught in "The reinforcement learning setting and Q-learning" (book/part5/q_learning.md).
    """
    q, schedule = _start(env, episodes, alpha, gamma, epsilon, "sarsa")
    returns = []
    for episode in range(episodes):
        state, _ = env.reset(seed=seed if episode == 0 else None)
        epsilon = schedule(episode)
        action = epsilon_greedy(q[state], epsilon, generator)
        total, done = 0.0, False
        while not done:
            next_state, reward, terminated, truncated, _ = env.step(action)
            next_action = epsilon_greedy(q[next_state], epsilon, generator)
            sarsa_update(q, state, action, reward, next_state, next_action, terminated, alpha, gamma)
            state, action = next_state, next_action
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return q, returns


def _start(env, episodes, alpha, gamma, epsilon, caller):
    """Check the arguments; return a zero table (S, A) and epsilon as a function of the episode."""
    sizes = []
    for space_name in ("observation_space", "action_space"):
        space = getattr(env, space_name, None)
        size = getattr(space, "n", None)
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size <= 0:
            raise TypeError(f"{caller}: env.{space_name} must be Discrete(n) for a table, got {space!r}")
        sizes.append(int(size))
    if isinstance(episodes, bool) or not isinstance(episodes, numbers.Integral) or episodes <= 0:
        raise ValueError(f"{caller}: episodes must be a positive int, got {episodes!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha <= 1:
        raise ValueError(f"{caller}: alpha (the step size) must be in (0, 1], got {alpha!r}")
    _check_probability(gamma, caller, "gamma")
    if callable(epsilon):
        schedule = epsilon
    else:
        _check_probability(epsilon, caller, "epsilon")
        schedule = lambda episode: epsilon  # noqa: E731 - a constant schedule
    return zeros(*sizes, dtype=backend.float64), schedule


def _model_arrays(P):
    """(expected reward (S, A), continuation (S, A, S)) from gymnasium's P[s][a] = [(p, s', r, terminated)]."""
    states = range(len(P))
    try:
        n_actions = {len(P[s]) for s in states}
    except (KeyError, TypeError):
        raise ValueError("value_iteration: P must map each state 0..S-1 to its actions, as env.unwrapped.P does") from None
    if len(n_actions) != 1 or 0 in n_actions:
        raise ValueError(f"value_iteration: every state must have the same number A >= 1 of actions, got {sorted(n_actions)}")
    n_states, n_actions = len(P), n_actions.pop()
    rewards = [[0.0] * n_actions for _ in states]
    continuation = [[[0.0] * n_states for _ in range(n_actions)] for _ in states]
    for s in states:
        for a in range(n_actions):
            total = 0.0
            for probability, next_state, reward, terminated in P[s][a]:
                if not 0 <= next_state < n_states:
                    raise ValueError(f"value_iteration: P[{s}][{a}] leads to state {next_state}, outside 0..{n_states - 1}")
                total += probability
                rewards[s][a] += probability * reward
                if not terminated:
                    continuation[s][a][next_state] += probability
            if abs(total - 1) > 1e-6:
                raise ValueError(f"value_iteration: the probabilities of P[{s}][{a}] sum to {total}, not 1")
    current = backend.current()
    return current.from_host(rewards, backend.float64), current.from_host(continuation, backend.float64)
