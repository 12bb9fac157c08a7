"""minidl.rl.returns: reward-to-go of one episode and of vector environments' batches, against hand computations."""

import numpy as np
import pytest

import minidl
from minidl.rl.returns import discounted_returns, normalize_returns


def _host(t):
    return minidl.to_numpy(t)


# (rewards of one episode, gamma, reward-to-go worked out by hand)
ONE_EPISODE = [
    pytest.param([1.0, 1.0, 1.0], 1.0, [3.0, 2.0, 1.0], id="undiscounted-count-of-steps-left"),
    pytest.param([1.0, 1.0, 1.0], 0.5, [1.75, 1.5, 1.0], id="halving"),
    pytest.param([0.0, 0.0, 10.0], 0.9, [8.1, 9.0, 10.0], id="late-reward-discounted-back"),
    pytest.param([2.0, -1.0, 3.0, 0.5], 0.0, [2.0, -1.0, 3.0, 0.5], id="gamma-zero-is-the-reward"),
    pytest.param([-1.0, 2.0], 0.8, [0.6, 2.0], id="negative-reward"),
    pytest.param([5.0], 0.99, [5.0], id="single-step"),
]


@pytest.mark.parametrize("rewards, gamma, expected", ONE_EPISODE)
def test_one_episode_matches_hand_computation(rewards, gamma, expected):
    returns = discounted_returns(rewards, gamma)
    np.testing.assert_allclose(_host(returns), expected, rtol=1e-6)


# (rewards (T, N), dones (T, N), gamma, expected): columns are environments, rows are steps
BATCHES = [
    pytest.param(
        [[1, 1], [1, 1], [1, 1], [1, 1]],
        [[0, 0], [1, 0], [0, 0], [0, 1]],
        0.5,
        # column 0: an episode of 2 steps, then a running one of 2; column 1: one episode of 4 steps
        [[1.5, 1.875], [1.0, 1.75], [1.5, 1.5], [1.0, 1.0]],
        id="episodes-of-different-lengths",
    ),
    pytest.param(
        [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
        [[1, 1], [1, 1], [1, 1]],
        0.9,
        [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
        id="every-step-ends-an-episode",
    ),
    pytest.param(
        [[0.0, 1.0], [10.0, 1.0], [0.0, 1.0]],
        [[1, 0], [0, 0], [0, 0]],
        1.0,
        # the reward 10 after column 0's boundary does not flow back into the first episode
        [[0.0, 3.0], [10.0, 2.0], [0.0, 1.0]],
        id="nothing-crosses-a-boundary",
    ),
]


@pytest.mark.parametrize("rewards, dones, gamma, expected", BATCHES)
def test_batch_with_done_flags_matches_hand_computation(rewards, dones, gamma, expected):
    returns = discounted_returns(rewards, gamma, dones=np.array(dones, dtype=bool))
    np.testing.assert_allclose(_host(returns), expected, rtol=1e-6)


@pytest.mark.parametrize("gamma", [0.0, 0.7, 0.99, 1.0])
def test_batch_equals_each_episode_computed_alone(rng, gamma):
    lengths = [[3, 5, 2], [4, 6], [10]]  # three environments, their episodes one after the other
    columns, flags, expected = [], [], []
    for episode_lengths in lengths:
        rewards = rng.normal(size=sum(episode_lengths))
        ends = np.cumsum(episode_lengths) - 1
        done = np.zeros(len(rewards), dtype=bool)
        done[ends] = True
        alone = np.concatenate([_host(discounted_returns(part, gamma))
                                for part in np.split(rewards, ends[:-1] + 1)])
        columns.append(rewards), flags.append(done), expected.append(alone)
    returns = discounted_returns(np.stack(columns, 1), gamma, dones=np.stack(flags, 1))
    np.testing.assert_allclose(_host(returns), np.stack(expected, 1), rtol=1e-12)


def test_running_episode_sums_to_the_last_row():
    returns = discounted_returns([[1.0], [1.0], [1.0]], 1.0, dones=[[True], [False], [False]])
    np.testing.assert_allclose(_host(returns), [[1.0], [2.0], [1.0]])


@pytest.mark.parametrize("rewards, dtype", [
    pytest.param(np.array([1.0, 2.0]), minidl.float64, id="float64-kept"),
    pytest.param(np.array([1.0, 2.0], dtype=np.float32), minidl.float32, id="float32-kept"),
    pytest.param([1, 2], minidl.float32, id="ints-become-float32"),
])
def test_dtype_of_the_returns(rewards, dtype):
    assert discounted_returns(rewards, 0.9).dtype == dtype


def test_returns_are_outside_the_graph():
    rewards = minidl.tensor([1.0, 2.0], requires_grad=True)
    returns = discounted_returns(rewards, 0.9)
    assert not returns.requires_grad and returns.grad_fn is None


def test_empty_episode_gives_empty_returns():
    assert discounted_returns(np.zeros(0), 0.9).shape == (0,)


@pytest.mark.parametrize("gamma", [-0.1, 1.5, True, "0.9", None])
def test_bad_gamma_is_refused(gamma):
    with pytest.raises(ValueError, match="gamma must be a discount factor in \\[0, 1\\]"):
        discounted_returns([1.0, 1.0], gamma)


@pytest.mark.parametrize("rewards", [5.0, np.zeros((2, 3, 4))], ids=["scalar", "three-dimensional"])
def test_rewards_of_another_shape_are_refused(rewards):
    with pytest.raises(ValueError, match="rewards must have shape \\(T,\\) for one episode or \\(T, N\\)"):
        discounted_returns(rewards, 0.9)


@pytest.mark.parametrize("dones, message", [
    pytest.param(np.zeros((3, 1), dtype=bool), "dones must have the shape of rewards \\(3, 2\\)", id="shape"),
    pytest.param(np.full((3, 2), 2.0), "dones must be booleans", id="values"),
])
def test_bad_done_flags_are_refused(dones, message):
    with pytest.raises(ValueError, match=message):
        discounted_returns(np.ones((3, 2)), 0.9, dones=dones)


@pytest.mark.parametrize("shape", [(7,), (6, 3)])
def test_normalized_returns_have_mean_zero_and_std_one(rng, shape):
    normalized = _host(normalize_returns(rng.normal(3.0, 5.0, size=shape)))
    assert abs(normalized.mean()) < 1e-6 and abs(normalized.std() - 1) < 1e-6


def test_normalization_uses_only_the_masked_steps():
    returns = np.array([[1.0, 100.0], [3.0, 5.0]])
    mask = np.array([[True, False], [True, True]])
    # the three masked values 1, 3, 5 have mean 3 and population std sqrt(8/3)
    expected = np.array([[-2.0, 0.0], [0.0, 2.0]]) / np.sqrt(8 / 3)
    np.testing.assert_allclose(_host(normalize_returns(returns, mask)), expected, rtol=1e-6)


def test_equal_returns_normalize_to_zeros_not_nan():
    np.testing.assert_array_equal(_host(normalize_returns(np.full(4, 7.0))), np.zeros(4))


@pytest.mark.parametrize("mask, eps, message", [
    pytest.param(np.zeros(3, dtype=bool), 1e-8, "mask must select at least one step", id="empty-mask"),
    pytest.param(np.ones(2, dtype=bool), 1e-8, "mask must have the shape of returns \\(3,\\)", id="mask-shape"),
    pytest.param(np.full(3, 0.5), 1e-8, "mask must be booleans", id="mask-values"),
    pytest.param(None, 0.0, "eps must be a positive number", id="zero-eps"),
])
def test_bad_normalization_arguments_are_refused(mask, eps, message):
    with pytest.raises(ValueError, match=message):
        normalize_returns(np.array([1.0, 2.0, 3.0]), mask, eps=eps)
