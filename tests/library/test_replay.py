"""The replay buffer: capacity, overwriting the oldest, uniform seeded sampling, and its errors."""

import numpy as np
import pytest

import minidl
from minidl.rl.replay import ReplayBuffer, Transitions


def _fill(buffer, count, start=0):
    """Push ``count`` transitions whose reward is their index (start, start + 1, ...) and whose
    observation repeats it, so the stored ones can be recognised."""
    for i in range(start, start + count):
        observation = np.full(buffer.observation_shape, i, dtype=np.float32)
        buffer.push(observation, i % 2, float(i), observation + 1, i % 3 == 0)


@pytest.mark.parametrize("capacity, pushed", [(5, 3), (5, 5), (5, 12), (1, 4)])
def test_length_grows_to_the_capacity_and_stays(capacity, pushed):
    buffer = ReplayBuffer(capacity, (2,))
    _fill(buffer, pushed)
    assert len(buffer) == min(capacity, pushed)


@pytest.mark.parametrize("capacity, pushed", [(4, 10), (5, 5), (3, 7)])
def test_a_full_buffer_keeps_the_most_recent_transitions(capacity, pushed):
    buffer = ReplayBuffer(capacity, (3,))
    _fill(buffer, pushed)
    kept = sorted(minidl.to_numpy(minidl.tensor(buffer.rewards)).tolist())
    assert kept == [float(i) for i in range(pushed - capacity, pushed)]


@pytest.mark.parametrize("capacity, batches", [(6, [4, 4, 5]), (4, [9]), (10, [3, 2])])
def test_extend_is_pushing_one_by_one(capacity, batches):
    one_by_one, at_once = ReplayBuffer(capacity, (2,)), ReplayBuffer(capacity, (2,))
    start = 0
    for size in batches:
        _fill(one_by_one, size, start)
        index = np.arange(start, start + size)
        observations = np.repeat(index[:, None], 2, axis=1).astype(np.float32)
        at_once.extend(observations, index % 2, index.astype(np.float32), observations + 1, index % 3 == 0)
        start += size
    for field in ("observations", "actions", "rewards", "next_observations", "terminated"):
        np.testing.assert_array_equal(minidl.to_numpy(minidl.tensor(getattr(at_once, field))),
                                      minidl.to_numpy(minidl.tensor(getattr(one_by_one, field))))
    assert len(at_once) == len(one_by_one) and at_once.position == one_by_one.position


def test_sample_returns_consistent_transitions_with_the_documented_types():
    buffer = ReplayBuffer(8, (2,))
    _fill(buffer, 6)
    batch = buffer.sample(32)
    assert isinstance(batch, Transitions)
    assert batch.observations.shape == (32, 2) and batch.observations.dtype == minidl.float32
    assert batch.actions.shape == (32,) and batch.actions.dtype == minidl.int64
    rewards = minidl.to_numpy(batch.rewards)
    # each sampled row is one stored transition: its fields agree with the index stored in its reward
    np.testing.assert_array_equal(minidl.to_numpy(batch.observations)[:, 0], rewards)
    np.testing.assert_array_equal(minidl.to_numpy(batch.next_observations)[:, 1], rewards + 1)
    np.testing.assert_array_equal(minidl.to_numpy(batch.actions), rewards.astype(int) % 2)
    np.testing.assert_array_equal(minidl.to_numpy(batch.terminated), (rewards.astype(int) % 3 == 0).astype(np.float32))
    assert set(rewards.tolist()) <= set(range(6))


@pytest.mark.parametrize("capacity, pushed", [(10, 10), (10, 25), (20, 7)])
def test_sampling_is_uniform_over_the_stored_transitions(capacity, pushed):
    buffer = ReplayBuffer(capacity, (1,), generator=np.random.default_rng(0))
    _fill(buffer, pushed)
    draws = 50_000
    rewards = minidl.to_numpy(buffer.sample(draws).rewards).astype(int)
    stored = np.arange(max(0, pushed - capacity), pushed)
    assert set(np.unique(rewards)) == set(stored)
    counts = np.bincount(rewards - stored[0], minlength=len(stored))
    expected = draws / len(stored)
    chi_square = ((counts - expected) ** 2 / expected).sum()
    assert chi_square < len(stored) + 6 * np.sqrt(2 * len(stored))  # mean k - 1, sd sqrt(2 (k - 1))


def test_sampling_is_determined_by_the_seed():
    def draw(generator=None):
        buffer = ReplayBuffer(16, (2,), generator=generator)
        _fill(buffer, 16)
        return minidl.to_numpy(buffer.sample(10).rewards)

    np.testing.assert_array_equal(draw(np.random.default_rng(5)), draw(np.random.default_rng(5)))
    assert not np.array_equal(draw(np.random.default_rng(5)), draw(np.random.default_rng(6)))
    minidl.manual_seed(3)
    first = draw()
    minidl.manual_seed(3)
    np.testing.assert_array_equal(first, draw())


def test_tensors_are_stored_too():
    buffer = ReplayBuffer(3, (2,))
    buffer.push(minidl.tensor([1.0, 2.0]), 1, 0.5, minidl.tensor([3.0, 4.0]), False)
    batch = buffer.sample(1)
    np.testing.assert_array_equal(minidl.to_numpy(batch.next_observations), [[3.0, 4.0]])


@pytest.mark.parametrize("capacity, shape", [(0, (2,)), (-3, (2,)), (2.5, (2,)), (4, 2), (4, (0,)), (4, (2.0,))])
def test_construction_rejects_bad_arguments(capacity, shape):
    with pytest.raises(ValueError, match="ReplayBuffer"):
        ReplayBuffer(capacity, shape)


@pytest.mark.parametrize("observation, next_observation", [(np.zeros(3), np.zeros(2)), (np.zeros(2), np.zeros((2, 2)))])
def test_push_rejects_an_observation_of_the_wrong_shape(observation, next_observation):
    buffer = ReplayBuffer(4, (2,))
    with pytest.raises(ValueError, match="observation"):
        buffer.push(observation, 0, 0.0, next_observation, False)


def test_extend_rejects_fields_of_different_lengths():
    buffer = ReplayBuffer(4, (2,))
    with pytest.raises(ValueError, match="actions"):
        buffer.extend(np.zeros((3, 2)), [0, 1], [0.0, 0.0, 0.0], np.zeros((3, 2)), [False] * 3)


def test_sample_rejects_an_empty_buffer_and_bad_batch_sizes():
    buffer = ReplayBuffer(4, (2,))
    with pytest.raises(RuntimeError, match="empty"):
        buffer.sample(1)
    _fill(buffer, 2)
    for batch_size in (0, -1, 2.0):
        with pytest.raises(ValueError, match="batch_size"):
            buffer.sample(batch_size)


def _fill_streams(buffer, count, rounds=1):
    """Each call adds `count` transitions per stream; the reward encodes (stream, index) as 1000 s + i."""
    streams = buffer.streams
    for r in range(rounds):
        index = np.arange(r * count, (r + 1) * count)
        codes = (1000 * np.arange(streams)[:, None] + index).astype(np.float32)      # (streams, count)
        observations = np.repeat(codes[..., None], 3, axis=2)
        buffer.extend(observations, np.zeros((streams, count), np.int64), codes, observations + 1,
                      np.zeros((streams, count), bool))


@pytest.mark.parametrize("streams, capacity, count, rounds", [(3, 8, 5, 1), (2, 4, 3, 3), (4, 6, 6, 2)])
def test_each_stream_samples_only_its_own_recent_transitions(streams, capacity, count, rounds):
    buffer = ReplayBuffer(capacity, (3,), streams=streams)
    _fill_streams(buffer, count, rounds)
    batch = buffer.sample(200)
    assert batch.observations.shape == (streams, 200, 3) and batch.actions.shape == (streams, 200)
    codes = minidl.to_numpy(batch.rewards)
    np.testing.assert_array_equal(minidl.to_numpy(batch.observations)[..., 0], codes)
    total = count * rounds
    for stream in range(streams):
        kept = set(1000 * stream + i for i in range(max(0, total - capacity), total))
        assert set(codes[stream].astype(int).tolist()) == kept


def test_streams_draw_independently():
    buffer = ReplayBuffer(50, (3,), streams=3, generator=np.random.default_rng(0))
    _fill_streams(buffer, 50)
    slots = minidl.to_numpy(buffer.sample(1000).rewards) % 1000
    assert not np.array_equal(slots[0], slots[1]) and abs(np.corrcoef(slots[0], slots[1])[0, 1]) < 0.1


def test_push_with_streams_stores_one_transition_per_stream():
    buffer = ReplayBuffer(4, (2,), streams=2)
    buffer.push(np.array([[1.0, 1.0], [2.0, 2.0]]), [0, 1], [10.0, 20.0], np.zeros((2, 2)), [False, True])
    assert len(buffer) == 1
    batch = buffer.sample(5)
    np.testing.assert_array_equal(minidl.to_numpy(batch.rewards), [[10.0] * 5, [20.0] * 5])
    np.testing.assert_array_equal(minidl.to_numpy(batch.terminated), [[0.0] * 5, [1.0] * 5])


@pytest.mark.parametrize("streams", [0, -2, 1.5, True])
def test_streams_must_be_a_positive_int(streams):
    with pytest.raises(ValueError, match="streams"):
        ReplayBuffer(4, (2,), streams=streams)


def test_extend_with_streams_rejects_a_missing_stream_dimension():
    buffer = ReplayBuffer(4, (2,), streams=3)
    with pytest.raises(ValueError, match="streams = 3"):
        buffer.extend(np.zeros((5, 2)), np.zeros(5), np.zeros(5), np.zeros((5, 2)), np.zeros(5))
