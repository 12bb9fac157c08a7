"""Experience replay: a fixed-size memory of transitions that DQN samples its mini-batches from.

Consecutive transitions of one episode are strongly correlated, and a network trained on them in
order forgets what it learned about the states it left behind. Storing transitions and training on
uniformly drawn mini-batches breaks the correlation and reuses each transition many times. The
memory is a ring: once full, each new transition overwrites the oldest.
"""

import numbers
from typing import NamedTuple

from minidl import backend
from minidl.creation import randint
from minidl.tensor import Tensor

_FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated")
_DTYPES = (backend.float32, backend.int64, backend.float32, backend.float32, backend.float32)


class Transitions(NamedTuple):
    """A mini-batch of B transitions (s, a, r, s', terminated), each field a Tensor with B rows.

    observations and next_observations: float32 (B, *observation_shape); actions: int64 (B,);
    rewards: float32 (B,); terminated: float32 (B,), 1.0 where the episode ended at s' (so its value
    there is 0) and 0.0 otherwise, a time-limit cut included. From a buffer with ``streams``, every
    field has a leading dimension of that size: (streams, B, ...).

    Taught in "Deep Q-networks" (book/part5/dqn.md).
    """

    observations: Tensor
    actions: Tensor
    rewards: Tensor
    next_observations: Tensor
    terminated: Tensor


class ReplayBuffer:
    """A ring buffer of the last ``capacity`` transitions, sampled uniformly with replacement.

    ``capacity`` is a positive int; ``observation_shape`` a tuple of ints, the shape of one observation
    (``(4,)`` for CartPole). ``streams`` (an int, or None for one) keeps that many independent memories
    in one object, for agents trained side by side: every field then has a leading dimension of size
    ``streams``, all streams receive the same number of transitions per call, and each stream's batch is
    drawn from its own transitions, independently of the others. The arrays live on the current
    backend: 2 capacity prod(observation_shape) float32 numbers per stream for the observations, plus
    an action, a reward and a flag per slot. ``generator`` (a NumPy Generator) seeds the sampling;
    without it the library's stream does (``minidl.manual_seed``). Raises ValueError for a
    non-positive ``capacity`` or ``streams``, or a malformed ``observation_shape``.

    Taught in "Deep Q-networks" (book/part5/dqn.md).
    """

    def __init__(self, capacity, observation_shape, streams=None, generator=None):
        if isinstance(capacity, bool) or not isinstance(capacity, numbers.Integral) or capacity <= 0:
            raise ValueError(f"ReplayBuffer: capacity must be a positive int, got {capacity!r}")
        if not isinstance(observation_shape, tuple) or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0 for n in observation_shape
        ):
            raise ValueError(f"ReplayBuffer: observation_shape must be a tuple of positive ints, got {observation_shape!r}")
        if streams is not None and (isinstance(streams, bool) or not isinstance(streams, numbers.Integral)
                                    or streams <= 0):
            raise ValueError(f"ReplayBuffer: streams must be a positive int or None, got {streams!r}")
        xp = backend.xp()
        self.capacity, self.observation_shape, self.generator = int(capacity), observation_shape, generator
        self.streams = streams
        lead = () if streams is None else (int(streams),)
        self.observations = xp.zeros((*lead, capacity, *observation_shape), dtype=backend.float32)
        self.next_observations = xp.zeros((*lead, capacity, *observation_shape), dtype=backend.float32)
        self.actions = xp.zeros((*lead, capacity), dtype=backend.int64)
        self.rewards = xp.zeros((*lead, capacity), dtype=backend.float32)
        self.terminated = xp.zeros((*lead, capacity), dtype=backend.float32)
        self.position = 0  # the slot the next transition goes to
        self.size = 0      # how many slots hold a transition (in every stream)

    def __len__(self):
        return self.size

    def push(self, observation, action, reward, next_observation, terminated):
        """Store one transition: an observation of ``observation_shape`` (array, list or Tensor), an int
        action, a float reward, the next observation and a bool ``terminated`` (with ``streams``: one of
        each per stream, stacked along a first dimension). Raises ValueError for an observation of
        another shape."""
        axis = 0 if self.streams is None else 1
        xp = backend.xp()
        fields = [xp.expand_dims(_on_device(value, dtype), axis) for value, dtype in
                  zip((observation, action, reward, next_observation, terminated), _DTYPES)]
        self.extend(*fields)

    def extend(self, observations, actions, rewards, next_observations, terminated):
        """Store n transitions at once (from n environments stepped together): observations and
        next_observations of shape (n, *observation_shape), the rest of shape (n,); with ``streams``,
        (streams, n, ...) and (streams, n). The oldest are overwritten once the buffer is full. Raises
        ValueError for fields of different lengths or shapes."""
        fields = [_on_device(value, dtype) for value, dtype in
                  zip((observations, actions, rewards, next_observations, terminated), _DTYPES)]
        lead = () if self.streams is None else (self.streams,)
        first = fields[0]
        count = first.shape[len(lead)] if first.ndim > len(lead) else -1
        for name, field, shape in zip(_FIELDS, fields, (self.observation_shape, (), (), self.observation_shape, ())):
            if tuple(field.shape) != (*lead, count, *shape):
                raise ValueError(
                    f"ReplayBuffer.extend: {name} must have shape {(*lead, count, *shape)} (n = {count} "
                    f"transitions, observation_shape = {self.observation_shape}, streams = {self.streams}), "
                    f"got {tuple(field.shape)}"
                )
        skip = (slice(None),) * len(lead)  # the streams dimension, if any, is taken whole
        if count > self.capacity:  # only the last `capacity` would survive, in the slots they would reach
            dropped, count = count - self.capacity, self.capacity
            fields = [field[(*skip, slice(dropped, None))] for field in fields]
            self.position = (self.position + dropped) % self.capacity
        slots = (self.position + backend.xp().arange(count)) % self.capacity
        for name, field in zip(_FIELDS, fields):
            getattr(self, name)[(*skip, slots)] = field
        self.position = (self.position + count) % self.capacity
        self.size = min(self.size + count, self.capacity)

    def sample(self, batch_size):
        """``batch_size`` transitions drawn uniformly, with replacement, from those stored, as ``Transitions``
        (with ``streams``: ``batch_size`` per stream, each from its own memory).

        Raises ValueError for a non-positive ``batch_size`` and RuntimeError on an empty buffer.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ValueError(f"ReplayBuffer.sample: batch_size must be a positive int, got {batch_size!r}")
        if self.size == 0:
            raise RuntimeError("ReplayBuffer.sample: the buffer is empty; push transitions before sampling")
        if self.streams is None:
            rows = randint(0, self.size, (batch_size,), generator=self.generator).data
        else:  # stream k's slot j is row k capacity + j of the streams laid end to end
            slots = randint(0, self.size, (self.streams, batch_size), generator=self.generator).data
            rows = backend.xp().arange(self.streams)[:, None] * self.capacity + slots
        # take() gathers whole rows: the same values as fancy indexing, several times faster on small batches
        return Transitions(*(Tensor(self._rows(getattr(self, name)).take(rows, axis=0)) for name in _FIELDS))

    def _rows(self, field):
        """A stored field with one transition per row: the streams laid end to end, if there are any."""
        return field if self.streams is None else field.reshape(self.streams * self.capacity, *field.shape[2:])

    def __repr__(self):
        streams = "" if self.streams is None else f", streams={self.streams}"
        return (f"ReplayBuffer(capacity={self.capacity}, observation_shape={self.observation_shape}{streams}, "
                f"size={self.size})")


def _on_device(values, dtype):
    """``values`` (a Tensor, a backend array, or host data: lists, NumPy arrays, numbers) as a backend array."""
    if isinstance(values, Tensor):
        return values.data.astype(dtype, copy=False)
    current = backend.current()
    if current.is_array(values):
        return values.astype(dtype, copy=False)
    if isinstance(values, (list, tuple)):  # a list of per-transition items, some of which may be Tensors
        values = [current.to_host(v.data) if isinstance(v, Tensor) else v for v in values]
    try:
        return current.from_host(values, dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"ReplayBuffer: cannot store {type(values).__name__} {values!r} as {dtype.__name__}: {error}") from None
