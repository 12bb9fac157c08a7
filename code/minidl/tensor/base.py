"""What every part of the tensor layer shares: the base class, and how an operation's result is made.

``Tensor`` (in ``core.py``) is put together from one class per family of operations (arithmetic,
reductions, elementwise, shaping, in place), each in its own module. They all derive from
``TensorBase``, so any of them can recognise a tensor and make the result of an operation without
importing the finished class, which registers itself here as the type of every result.
"""

from minidl import autograd
from minidl import backend


class TensorBase:
    """The common base of Tensor's parts; ``result_type`` is the Tensor class that results are made of."""

    __slots__ = ()
    result_type = None  # set to Tensor by minidl.tensor.core

    @classmethod
    def _from_op(cls, data, parents, backward, name=None, saved=None):
        """A new tensor holding ``data``, recorded as the result of an operation on ``parents``.

        ``backward(g)`` returns one gradient array (or None) per parent; see ``minidl.autograd.record``
        for ``name`` and ``saved``. Outside a graph (no parent needs a gradient, or ``no_grad``) the
        result is a plain tensor.
        """
        out = object.__new__(TensorBase.result_type)
        if type(data) not in backend.ARRAY_TYPES and not backend.is_array(data):  # NumPy turns 0-d results into scalars (on the host)
            data = backend.xp(data, *(p.data for p in parents)).asarray(data)
        out.data = data
        out._grad = None
        out._requires_grad = False
        out._grad_accumulator = None
        out.grad_fn = None
        return autograd.record(out, parents, backward, name, saved)
