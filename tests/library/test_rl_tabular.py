"""Tabular reinforcement learning: value iteration, the Q-learning and SARSA updates, epsilon-greedy."""

import numpy as np
import pytest
from gymnasium import spaces

import minidl
from minidl.rl.exploration import LinearSchedule, epsilon_greedy
from minidl.rl.tabular import q_learning, q_learning_update, sarsa, sarsa_update, value_iteration

# Two states, two actions, gamma = 1/2. State 0: action 0 stays (reward 0), action 1 moves to state 1
# (reward 1). State 1: action 0 stays (reward 2), action 1 ends the episode (reward 10). By hand:
# V(1) = max(2 + V(1)/2, 10) = 10, V(0) = max(V(0)/2, 1 + 10/2) = 6, so Q* = [[3, 6], [7, 10]].
DETERMINISTIC = (
    {0: {0: [(1.0, 0, 0.0, False)], 1: [(1.0, 1, 1.0, False)]},
     1: {0: [(1.0, 1, 2.0, False)], 1: [(1.0, 0, 10.0, True)]}},
    [[3.0, 6.0], [7.0, 10.0]],
)
# The same, but action 1 in state 0 reaches state 1 with probability 0.8 and stays otherwise:
# Q(0, 1) = 0.8 (1 + 10/2) + 0.2 V(0)/2 = 4.8 + 0.1 V(0) = V(0), so V(0) = 16/3 and Q(0, 0) = 8/3.
STOCHASTIC = (
    {0: {0: [(1.0, 0, 0.0, False)], 1: [(0.8, 1, 1.0, False), (0.2, 0, 0.0, False)]},
     1: {0: [(1.0, 1, 2.0, False)], 1: [(1.0, 0, 10.0, True)]}},
    [[8 / 3, 16 / 3], [7.0, 10.0]],
)


@pytest.mark.parametrize("model, expected", [DETERMINISTIC, STOCHASTIC], ids=["deterministic", "stochastic"])
def test_value_iteration_matches_the_hand_solved_mdp(model, expected):
    q, sweeps = value_iteration(model, gamma=0.5)
    assert q.dtype == minidl.float64 and q.shape == (2, 2)
    np.testing.assert_allclose(minidl.to_numpy(q), expected, atol=1e-9)
    assert 1 < sweeps < 100


def test_value_iteration_satisfies_the_bellman_equation_on_frozen_lake():
    gym = pytest.importorskip("gymnasium")
    P = gym.make("FrozenLake-v1").unwrapped.P
    q = minidl.to_numpy(value_iteration(P, gamma=0.9)[0])
    backup = np.array([[sum(p * (r + 0.9 * (0 if done else q[s2].max())) for p, s2, r, done in P[s][a])
                        for a in range(4)] for s in range(16)])
    np.testing.assert_allclose(q, backup, atol=1e-8)
    assert q.max() < 1  # the only reward is 1, at the goal, and it is discounted


@pytest.mark.parametrize("model, match", [
    ({0: {0: [(0.5, 0, 0.0, False)]}}, "sum to 0.5"),
    ({0: {0: [(1.0, 3, 0.0, False)]}}, "outside"),
    ({0: {0: [(1.0, 0, 0.0, False)]}, 1: {}}, "same number"),
])
def test_value_iteration_rejects_a_malformed_model(model, match):
    with pytest.raises(ValueError, match=match):
        value_iteration(model, gamma=0.9)


@pytest.mark.parametrize("gamma", [-0.1, 1.5, float("nan")])
def test_value_iteration_rejects_gamma_outside_the_unit_interval(gamma):
    with pytest.raises(ValueError, match="gamma"):
        value_iteration(DETERMINISTIC[0], gamma=gamma)


def test_value_iteration_without_an_end_and_gamma_one_does_not_converge():
    loop = {0: {0: [(1.0, 0, 1.0, False)]}}  # reward 1 forever: the undiscounted value is infinite
    with pytest.raises(RuntimeError, match="no convergence"):
        value_iteration(loop, gamma=1.0, max_iterations=50)


@pytest.mark.parametrize("terminated, expected_error", [(False, 1.0 + 0.9 * 4.0 - 2.0), (True, 1.0 - 2.0)])
def test_q_learning_update_moves_toward_the_best_next_value(terminated, expected_error):
    q = minidl.tensor([[2.0, 0.0], [4.0, -1.0]], dtype=minidl.float64)
    td_error = q_learning_update(q, 0, 0, 1.0, 1, terminated, alpha=0.5, gamma=0.9)
    assert td_error == pytest.approx(expected_error)
    np.testing.assert_allclose(minidl.to_numpy(q), [[2.0 + 0.5 * expected_error, 0.0], [4.0, -1.0]])


@pytest.mark.parametrize("next_action, terminated, expected_error", [
    (1, False, 1.0 + 0.9 * -1.0 - 2.0),   # SARSA uses the action taken, not the best one (4.0)
    (0, False, 1.0 + 0.9 * 4.0 - 2.0),
    (1, True, 1.0 - 2.0),
])
def test_sarsa_update_uses_the_next_action_taken(next_action, terminated, expected_error):
    q = minidl.tensor([[2.0, 0.0], [4.0, -1.0]], dtype=minidl.float64)
    td_error = sarsa_update(q, 0, 0, 1.0, 1, next_action, terminated, alpha=0.5, gamma=0.9)
    assert td_error == pytest.approx(expected_error)
    assert minidl.to_numpy(q)[0, 0] == pytest.approx(2.0 + 0.5 * expected_error)


@pytest.mark.parametrize("epsilon", [0.0, 0.3, 1.0])
def test_epsilon_greedy_frequencies(epsilon):
    n, actions, greedy = 40_000, 4, 2
    q = minidl.tensor(np.eye(actions, dtype=np.float32)[np.full(n, greedy)])  # Q = 1 for the greedy action
    chosen = minidl.to_numpy(epsilon_greedy(q, epsilon))
    frequencies = np.bincount(chosen, minlength=actions) / n
    expected = np.full(actions, epsilon / actions)
    expected[greedy] += 1 - epsilon
    # four standard errors of a frequency estimated from n draws
    np.testing.assert_allclose(frequencies, expected, atol=4 * np.sqrt(0.25 / n) + 1e-12)


def test_epsilon_greedy_returns_an_int_for_one_state_and_is_seeded():
    q = minidl.tensor([0.0, 3.0, 1.0])
    draws = [epsilon_greedy(q, 0.5, generator=np.random.default_rng(7)) for _ in range(2)]
    assert all(isinstance(action, int) for action in draws) and draws[0] == draws[1]
    assert epsilon_greedy(q, 0.0) == 1
    first = [epsilon_greedy(q, 0.5, generator=g) for g in [np.random.default_rng(3)] for _ in range(20)]
    again = [epsilon_greedy(q, 0.5, generator=g) for g in [np.random.default_rng(3)] for _ in range(20)]
    assert first == again and len(set(first)) > 1


@pytest.mark.parametrize("q_values, epsilon, error", [
    (np.zeros(3), 0.1, TypeError),
    (minidl.tensor(1.0), 0.1, ValueError),
    (minidl.zeros(2, 0), 0.1, ValueError),
    (minidl.zeros(3), 1.5, ValueError),
    (minidl.zeros(3), -0.1, ValueError),
])
def test_epsilon_greedy_rejects_bad_input(q_values, epsilon, error):
    with pytest.raises(error, match="epsilon_greedy"):
        epsilon_greedy(q_values, epsilon)


@pytest.mark.parametrize("step, expected", [(0, 1.0), (50, 0.55), (100, 0.1), (1000, 0.1)])
def test_linear_schedule(step, expected):
    assert LinearSchedule(1.0, 0.1, 100)(step) == pytest.approx(expected)


@pytest.mark.parametrize("args, step", [((1.0, 0.1, 0), 0), ((1.0, 0.1, 10), -1)])
def test_linear_schedule_rejects_bad_input(args, step):
    with pytest.raises(ValueError, match="LinearSchedule"):
        LinearSchedule(*args)(step)


class Corridor:
    """Five cells in a row; action 1 moves right, action 0 left; reaching cell 4 ends with reward 1."""

    observation_space = spaces.Discrete(5)
    action_space = spaces.Discrete(2)

    def reset(self, seed=None):
        self.state = 0
        return self.state, {}

    def step(self, action):
        self.state = max(0, self.state + (1 if action == 1 else -1))
        done = self.state == 4
        return self.state, float(done), done, False, {}


@pytest.mark.parametrize("learn", [q_learning, sarsa])
def test_learning_from_experience_finds_the_way_down_the_corridor(learn):
    q, returns = learn(Corridor(), episodes=200, alpha=0.5, gamma=0.9, epsilon=LinearSchedule(1.0, 0.05, 100),
                       generator=np.random.default_rng(0))
    table = minidl.to_numpy(q)
    assert (table[:4].argmax(axis=1) == 1).all()
    np.testing.assert_allclose(table[:4, 1], 0.9 ** np.arange(3, -1, -1), atol=0.05)  # Q*(s, right) = 0.9^(3 - s)
    assert len(returns) == 200 and all(r == 1.0 for r in returns)


@pytest.mark.parametrize("learn", [q_learning, sarsa])
def test_learning_is_reproducible_from_a_seed(learn):
    runs = [learn(Corridor(), 20, 0.5, 0.9, 0.5, generator=np.random.default_rng(1))[0] for _ in range(2)]
    np.testing.assert_array_equal(minidl.to_numpy(runs[0]), minidl.to_numpy(runs[1]))


class Continuous(Corridor):
    observation_space = spaces.Box(-1.0, 1.0, (2,))


@pytest.mark.parametrize("env, kwargs, error, match", [
    (Continuous(), {}, TypeError, "Discrete"),
    (Corridor(), {"episodes": 0}, ValueError, "episodes"),
    (Corridor(), {"alpha": 0.0}, ValueError, "alpha"),
    (Corridor(), {"gamma": 2.0}, ValueError, "gamma"),
    (Corridor(), {"epsilon": 1.2}, ValueError, "epsilon"),
])
@pytest.mark.parametrize("learn", [q_learning, sarsa])
def test_learning_rejects_bad_input(learn, env, kwargs, error, match):
    arguments = {"episodes": 1, "alpha": 0.5, "gamma": 0.9, "epsilon": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        learn(env, **arguments)


def test_evaluate_policy_batched_plays_the_same_episodes_as_one_at_a_time():
    gym = pytest.importorskip("gymnasium")
    from minidl.rl.evaluation import evaluate_policy

    def one(observation):  # a deterministic rule that keeps CartPole up for a while, episodes of unequal length
        return int(observation[2] > 0)

    calls = []
    def batch(observations):
        calls.append(len(observations))
        return [one(observation) for observation in observations]

    env, seeds = gym.make("CartPole-v1"), [3, 1, 4, 1, 5]
    expected = evaluate_policy(env, one, seeds)
    assert evaluate_policy(env, batch, seeds, batched=True) == expected
    assert len(calls) == max(expected) and calls[0] == len(seeds) and calls[-1] < len(seeds)
    assert evaluate_policy(env, batch, seeds, max_steps=7, batched=True) == evaluate_policy(env, one, seeds, max_steps=7)
    with pytest.raises(ValueError, match="one action per observation"):
        evaluate_policy(env, lambda observations: [0], seeds, batched=True)


class _InfiniteRewardEnv:
    """One step per episode, with an infinite reward when the seed is 2: a return that must be refused."""

    def reset(self, seed=None):
        self.seed = seed
        return 0, {}

    def step(self, action):
        return 0, (float("inf") if self.seed == 2 else 1.0), True, False, {}


@pytest.mark.parametrize("batched", [False, True])
def test_evaluate_policy_refuses_a_return_that_is_not_finite(batched):
    from minidl.rl.evaluation import evaluate_policy

    policy = (lambda observations: [0] * len(observations)) if batched else (lambda observation: 0)
    assert evaluate_policy(_InfiniteRewardEnv(), policy, [0, 1], batched=batched) == [1.0, 1.0]
    with pytest.raises(ValueError, match="seed 2 returned inf, not a finite number"):
        evaluate_policy(_InfiniteRewardEnv(), policy, [0, 2, 1], batched=batched)
