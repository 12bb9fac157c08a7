"""Greedy evaluation of a policy on fixed episode seeds, so that two runs and two agents compare.

An agent trained with exploration is judged without it: the policy given here should be greedy
(the action of largest Q-value, or of largest probability). Each episode starts from
``env.reset(seed=seed)``, so the same seeds give the same starting states on every build.
"""

import copy
import math
import numbers


def evaluate_policy(env, policy, seeds, max_steps=None, batched=False):
    """Play one episode per seed with ``policy`` and return each episode's undiscounted return.

    ``env`` is a gymnasium environment (not vectorised); ``policy`` maps one observation, as the
    environment returns it, to one action. ``seeds`` is a sequence of ints; ``max_steps`` (int or
    None) cuts an episode short where the environment has no time limit of its own. Returns a list
    of Python floats, one per seed, in the order of ``seeds``. Raises TypeError for a policy that is
    not callable or a seed that is not an int, ValueError for an empty ``seeds`` or a non-positive
    ``max_steps``.

    With ``batched=True`` the episodes are played side by side, in ``env`` and copies of it, and
    ``policy`` maps a list of observations (those of the episodes still running, in the order of
    ``seeds``) to one action per observation: a network scores them all in one forward pass instead
    of one pass per step of every episode. A policy that answers each observation as it would alone
    gets the returns of the one-at-a-time loop. Raises ValueError for a policy that returns another
    number of actions.

    Taught in "The reinforcement learning setting and Q-learning" (book/part5/q_learning.md), "Deep Q-networks" (book/part5/dqn.md) and "Policy gradients" (book/part5/policy_gradients.md).
    """
    if not callable(policy):
        raise TypeError(f"evaluate_policy: policy must be callable (observation -> action), got {type(policy).__name__}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("evaluate_policy: seeds must name at least one episode seed, got an empty sequence")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"evaluate_policy: every seed must be an int, got {seed!r}")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral)
                                  or max_steps <= 0):
        raise ValueError(f"evaluate_policy: max_steps must be a positive int or None, got {max_steps!r}")
    if batched:
        return _evaluate_batched(env, policy, seeds, max_steps)
    returns = []
    for seed in seeds:
        observation, _ = env.reset(seed=int(seed))
        total, steps, done = 0.0, 0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(policy(observation))
            total += float(reward)
            steps += 1
            done = terminated or truncated or (max_steps is not None and steps >= max_steps)
        returns.append(total)
    return _finite(returns, seeds)


def _evaluate_batched(env, policy, seeds, max_steps):
    """evaluate_policy with ``batched=True``: one episode per seed in ``env`` and its copies, stepped together."""
    envs = [env] + [copy.deepcopy(env) for _ in seeds[1:]]
    observations = [one.reset(seed=int(seed))[0] for one, seed in zip(envs, seeds)]
    totals, steps = [0.0] * len(seeds), [0] * len(seeds)
    running = list(range(len(seeds)))
    while running:
        actions = list(policy([observations[i] for i in running]))
        if len(actions) != len(running):
            raise ValueError(f"evaluate_policy: a batched policy must return one action per observation, "
                             f"got {len(actions)} for {len(running)}")
        still_running = []
        for i, action in zip(running, actions):
            observations[i], reward, terminated, truncated, _ = envs[i].step(action)
            totals[i] += float(reward)
            steps[i] += 1
            if not (terminated or truncated or (max_steps is not None and steps[i] >= max_steps)):
                still_running.append(i)
        running = still_running
    return _finite(totals, seeds)


def _finite(returns, seeds):
    """``returns``, after checking that every episode's return is a finite number (ValueError otherwise)."""
    for seed, total in zip(seeds, returns):
        if not math.isfinite(total):
            raise ValueError(f"evaluate_policy: the episode of seed {seed} returned {total}, not a finite number")
    return returns
