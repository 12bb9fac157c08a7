"""The graph engine: graph nodes, the backward pass, ``no_grad`` and version counters.

Every operation that involves a tensor needing a gradient records one :class:`Node`: the function
that turns dL/d(output) into dL/d(each input) (the chain rule, one step), and edges to the nodes
that made its inputs (``next_functions``). A leaf that requires a gradient is reached through an
:class:`AccumulateGrad` node that adds into its ``.grad``. :func:`run_backward` visits the nodes
once, in reverse topological order, as ``torch.autograd`` does.

Two safety nets make wrong gradients loud instead of silent, with PyTorch's messages:

- **Version counters.** Every in-place change bumps a counter kept per block of memory (views share
  it). A node remembers the version of each array its backward function holds; if one changed
  before the backward pass, the pass raises instead of using the overwritten value.
- **Freed graphs.** After a backward pass, nodes that hold saved values release them; a second pass
  through them raises unless the first passed ``retain_graph=True``.

Taught in the chapter "Gradient descent and backpropagation" (``book/part1/backprop.md``).
"""

import functools
import inspect
import weakref

from minidl import backend

_grad_enabled = True
_inference_mode = False


class _GradMode:
    """What the grad-mode switches share: a ``with`` block that sets the mode and restores it after,
    and a decorator that runs a function (or each step of a generator) inside such a block.

    As in PyTorch, ``@no_grad`` and ``@no_grad()`` both decorate; a subclass sets the mode in ``_set``.
    """

    def __new__(cls, function=None):
        if function is None:
            return super().__new__(cls)
        return cls()(function)  # used bare, as ``@no_grad``: ``function`` is the decorated function

    def _set(self):
        raise NotImplementedError

    def _clone(self):
        return type(self)()

    def __enter__(self):
        global _grad_enabled, _inference_mode
        self._previous = (_grad_enabled, _inference_mode)
        self._set()

    def __exit__(self, *exception):
        global _grad_enabled, _inference_mode
        _grad_enabled, _inference_mode = self._previous

    def __call__(self, function):
        if inspect.isclass(function):
            raise TypeError(f"{type(self).__name__} decorates functions, not classes; got {function.__name__}")
        if inspect.isgeneratorfunction(function):
            return self._wrap_generator(function)

        @functools.wraps(function)
        def decorated(*args, **kwargs):
            with self._clone():
                return function(*args, **kwargs)

        return decorated

    def _wrap_generator(self, function):
        """Each step of the generator runs in the mode; the caller's code between steps does not."""

        @functools.wraps(function)
        def decorated(*args, **kwargs):
            generator = function(*args, **kwargs)
            step, value = generator.send, None
            while True:
                with self._clone():
                    try:
                        response = step(value)
                    except StopIteration as stop:
                        return stop.value
                try:
                    step, value = generator.send, (yield response)
                except GeneratorExit:
                    generator.close()
                    raise
                except BaseException as error:  # thrown into the wrapper: pass it on to the generator
                    step, value = generator.throw, error

        return decorated


class no_grad(_GradMode):
    """Inside this block operations record no graph: for evaluation and parameter updates.

    ``with minidl.no_grad():`` or, as a decorator, ``@minidl.no_grad`` / ``@minidl.no_grad()``; the
    previous mode comes back when the block ends, even through an exception, as in PyTorch.

    Taught in "The perceptron" (book/part1/perceptron.md) and "Gradient descent and backpropagation" (book/part1/backprop.md).
    """

    def _set(self):
        global _grad_enabled
        _grad_enabled = False


class enable_grad(_GradMode):
    """Record the graph again inside this block, e.g. within ``no_grad`` (context manager or decorator).

    As ``torch.enable_grad``; it also records inside ``inference_mode``, as PyTorch's does.
    """

    def _set(self):
        global _grad_enabled
        _grad_enabled = True


class set_grad_enabled(_GradMode):
    """Turn graph recording on or off: at once when called, or for a block, as ``torch.set_grad_enabled``.

    ``minidl.set_grad_enabled(False)`` switches recording off from now on; ``with
    minidl.set_grad_enabled(is_training):`` for a block (the mode before the call comes back at its
    end); also a decorator. ``mode`` must be a bool, else TypeError with PyTorch's message.
    """

    def __new__(cls, mode):
        return object.__new__(cls)

    def __init__(self, mode):
        global _grad_enabled
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, not {type(mode).__name__}")
        self.mode = mode
        self._before_call = _grad_enabled
        _grad_enabled = mode  # takes effect at once, as a plain call

    def __enter__(self):
        global _grad_enabled, _inference_mode
        self._previous = (self._before_call, _inference_mode)
        _grad_enabled = self.mode

    def __call__(self, function):
        global _grad_enabled
        _grad_enabled = self._before_call  # as a decorator, the call itself changes nothing
        return super().__call__(function)

    def _clone(self):
        return set_grad_enabled(self.mode)


class inference_mode(_GradMode):
    """``no_grad`` for pure inference (context manager or decorator), as ``torch.inference_mode``.

    Inside, no graph is recorded and ``is_inference_mode_enabled()`` is True. ``inference_mode(False)``
    leaves inference mode and records the graph again, as in PyTorch. Difference: PyTorch marks the
    tensors made inside as "inference tensors" that refuse to join a graph later; minidl's are
    ordinary tensors, so code that runs under PyTorch runs here too (not the other way round).
    """

    def __new__(cls, mode=True):
        if isinstance(mode, bool):
            return object.__new__(cls)
        return cls()(mode)  # used bare, as ``@inference_mode``: ``mode`` is the decorated function

    def __init__(self, mode=True):
        self.mode = mode

    def _set(self):
        global _grad_enabled, _inference_mode
        _grad_enabled, _inference_mode = not self.mode, self.mode

    def _clone(self):
        return inference_mode(self.mode)


def is_grad_enabled():
    """Whether operations record the graph now (False inside ``no_grad``), as ``torch.is_grad_enabled``."""
    return _grad_enabled


def is_inference_mode_enabled():
    """Whether the code runs inside ``inference_mode`` now, as ``torch.is_inference_mode_enabled``."""
    return _inference_mode


# ---- version counters -----------------------------------------------------------------------------
_versions = {}  # id(memory owner) -> number of in-place changes; entries die with their owner
_pinned = []  # owners that can't be weakly referenced, kept alive so their ids stay unique


def _owner(array):
    """The object that owns an array's memory: views of views all lead back to it."""
    base = getattr(array, "base", None)
    while base is not None:
        array, base = base, getattr(base, "base", None)
    return array


def is_view(array):
    """Whether ``array`` shows only part of its memory, or shows it differently (a slice, a reshape).

    Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
    """
    owner = _owner(array)
    if owner is array:
        return False
    try:
        same = owner.shape == array.shape and owner.strides == array.strides and _address(owner) == _address(array)
    except AttributeError:
        return True
    return not same


def _address(array):
    interface = getattr(array, "__array_interface__", None)
    return interface["data"][0] if interface is not None else array.data.ptr  # NumPy, or CuPy


def version(array):
    """How many times the memory behind ``array`` was changed in place (0 if never): its version counter.

    Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
    """
    if not _versions:  # nothing was changed in place (the usual case): no need to find the owner
        return 0
    return _versions.get(id(_owner(array)), 0)


def bump_version(array):
    """Record an in-place change of ``array``'s memory; every view of it sees the new version.

    Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
    """
    owner = _owner(array)
    key = id(owner)
    if key not in _versions:
        try:
            weakref.finalize(owner, _versions.pop, key, None)
        except TypeError:
            _pinned.append(owner)
    _versions[key] = _versions.get(key, 0) + 1


# ---- nodes --------------------------------------------------------------------------------------------
class Node:
    """One recorded operation: its backward function and the edges to the nodes of its inputs.

    ``name()`` is PyTorch's node name (``MulBackward0``); ``next_functions`` is a tuple of
    ``(node, 0)`` pairs, one per input, with ``None`` for an input that needs no gradient.
    Backward raises RuntimeError, with PyTorch's messages, through a freed node or when a saved
    array changed in place.

    Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
    """

    __slots__ = ("_name", "_backward", "next_functions", "_saved", "_freed", "_retained", "__weakref__")

    def __init__(self, name, backward, next_functions, saved=()):
        self._name = name
        self._backward = backward
        self.next_functions = next_functions
        self._saved = tuple((array, version(array)) for array in saved)
        self._freed = False
        self._retained = None  # a tensor that asked for its gradient with retain_grad()

    def name(self):
        """The operation's name, e.g. ``MulBackward0``."""
        return self._name

    def __repr__(self):
        return f"<{self._name} object at {id(self):#x}>"

    def _apply(self, grad, retain_graph):
        if self._freed:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors "
                "after they have already been freed). Saved intermediate values of the graph are freed "
                "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
                "backward through the graph a second time or if you need to access saved tensors after "
                f"calling backward. (node {self._name})"
            )
        # with no in-place change recorded anywhere, every saved array is unchanged (a saved array keeps
        # its owner, and so the owner's entry, alive): nothing to check
        for array, expected in self._saved if _versions else ():
            now = version(array)
            if now != expected:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{array.dtype} tensor of shape {tuple(array.shape)}], saved by "
                    f"{self._name}, is at version {now}; expected version {expected} instead. Hint: "
                    "compute the in-place change on a .clone(), or do it out of place."
                )
        grads = self._backward(grad)
        if not retain_graph and self._saved:
            self._backward, self._saved, self._freed = None, (), True  # let the saved arrays go
        return grads


class AccumulateGrad(Node):
    """The node of a leaf tensor that requires a gradient: it adds what arrives into ``.grad``.

    ``variable`` is the leaf tensor.

    Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
    """

    __slots__ = ("variable",)

    def __init__(self, variable):
        super().__init__("torch::autograd::AccumulateGrad", None, ())
        self.variable = variable

    def _apply(self, grad, retain_graph):
        self.variable._accumulate(grad)
        return ()


def _saved_arrays(backward, arrays_of):
    """The arrays a backward function holds in its closure: what its node must keep unchanged.

    ``arrays_of(value)`` returns the arrays a captured value stands for (a tensor's data, an array
    itself) or an empty tuple; lists, tuples and dicts are looked into once.
    """
    found = []
    for cell in backward.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # a cell not filled yet
            continue
        values = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else (value,)
        for item in values:
            found.extend(arrays_of(item))
    return found


_NAMES = {}  # qualified name of a backward function -> its node's name, made once per operation


def _node_name(backward):
    """PyTorch-style node name from the operation that defined ``backward``: ``__mul__`` -> ``MulBackward0``."""
    qualname = getattr(backward, "__qualname__", "Function")
    name = _NAMES.get(qualname)
    if name is None:
        name = _NAMES[qualname] = _name_from_qualname(qualname)
    return name


def _name_from_qualname(qualname):
    """``Arithmetic.__mul__.<locals>.backward`` -> ``MulBackward0``."""
    owner = qualname.split(".<locals>")[0].rsplit(".", 1)[-1].strip("_")
    return "".join(part[:1].upper() + part[1:] for part in owner.split("_")) + "Backward0"


# ---- the backward pass --------------------------------------------------------------------------------
def _topological_order(root):
    """Every node reachable from ``root``, each after its inputs (the nodes that feed it): one iterative walk."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child, _ in node.next_functions if child is not None and id(child) not in seen)
    return order


def run_backward(root, gradient, retain_graph=False):
    """Send ``gradient`` (dL/d(root's output)) back through the graph from node ``root``.

    Gradients arriving at one node from several users are summed out of place, and every leaf copies
    what it receives, so no two tensors ever share a gradient array. ``retain_graph=False`` frees
    the saved values of each node once it has run.

    Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
    """
    grads = {id(root): gradient}
    for node in reversed(_topological_order(root)):
        grad = grads.pop(id(node), None)
        if grad is None:
            continue
        if node._retained is not None:
            node._retained._accumulate(grad)
        outputs = node._apply(grad, retain_graph)
        for (child, _), child_grad in zip(node.next_functions, outputs):
            if child is None or child_grad is None:
                continue
            key = id(child)
            grads[key] = grads[key] + child_grad if key in grads else child_grad


# ---- defining an operation ----------------------------------------------------------------------------
def record(output, inputs, backward, name=None, saved=None):
    """Make ``output`` (a new Tensor holding an operation's result) a node of the graph; return it.

    This is how every operation of the library, and any new one, joins the graph:

    - ``inputs``: the tensors the result was computed from;
    - ``backward(g)``: given g = dL/d(output) as a backend array of output's shape, returns one
      array per input, dL/d(input) of that input's shape (or None where no gradient is needed);
    - ``name``: the node's name, PyTorch's when there is one (``MulBackward0``); by default made
      from the function that defined ``backward``;
    - ``saved``: the arrays ``backward`` reads; they must not change in place before the backward
      pass. By default, every array and tensor its closure holds.

    Nothing is recorded inside ``no_grad`` or when no input requires a gradient.

    Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
    """
    if backward is None or not _grad_enabled:
        return output
    for t in inputs:
        if t.requires_grad:
            break
    else:  # no input needs a gradient
        return output
    if saved is None:
        saved = _saved_arrays(backward, _arrays_of)
    edges = tuple((t._edge(), 0) for t in inputs)
    output.grad_fn = Node(name or _node_name(backward), backward, edges, saved)
    return output


# the common captures that hold no array: numbers, flags, names, and the array module (``xp``)
_NOT_ARRAYS = frozenset((int, float, bool, complex, str, bytes, type(None), *backend.MODULE_TYPES))


def _arrays_of(value):
    """The arrays a captured value stands for: a tensor's data, or an array (anything with a dtype and shape)."""
    kind = type(value)
    if kind in _NOT_ARRAYS:  # shapes, sizes, flags: most of what a closure holds
        return ()
    if kind in backend.ARRAY_TYPES:
        return (value,)
    if hasattr(value, "grad_fn") and hasattr(value, "data"):
        return (value.data,)
    if hasattr(value, "dtype") and hasattr(value, "shape") and hasattr(value, "base"):
        return (value,)
    return ()


class _Context:
    """What ``Function.forward`` leaves for ``Function.backward``: ``save_for_backward`` and ``saved_tensors``."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *tensors):
        """Keep tensors for the backward pass; changing them in place before it makes it raise."""
        self.saved_tensors = tensors


class Function:
    """PyTorch's way to define an operation with its own gradient: subclass, write two static methods.

    ``forward(ctx, *args)`` computes the result from tensors (no graph is recorded inside it) and
    may call ``ctx.save_for_backward(...)``; ``backward(ctx, grad_output)`` returns one gradient
    tensor (or None) per argument of ``forward``. Call it as ``MyOp.apply(*args)``; the result's
    ``grad_fn`` is named ``MyOpBackward``. One tensor output only. Raises RuntimeError if
    ``backward`` returns the wrong number of gradients or a gradient of the wrong shape.

    Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("subclasses of Function define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("subclasses of Function define backward(ctx, grad_output)")

    @classmethod
    def apply(cls, *args, **kwargs):
        is_tensor = [hasattr(a, "grad_fn") and hasattr(a, "data") for a in args]
        ctx = _Context(tuple(t and a.requires_grad for t, a in zip(is_tensor, args)))
        with no_grad():
            output = cls.forward(ctx, *args, **kwargs)
        if not (hasattr(output, "grad_fn") and hasattr(output, "data")):
            raise TypeError(f"{cls.__name__}.forward must return one tensor, got {type(output).__name__}")
        output = output.detach()
        tensors = [a for a, t in zip(args, is_tensor) if t]
        wrap = type(output)

        def backward(g):
            grads = cls.backward(ctx, wrap(g))
            grads = grads if isinstance(grads, tuple) else (grads,)
            if len(grads) != len(args):
                raise RuntimeError(
                    f"function {cls.__name__}Backward returned an incorrect number of gradients "
                    f"(expected {len(args)}, got {len(grads)})"
                )
            arrays = []
            for position, (grad, arg, t) in enumerate(zip(grads, args, is_tensor)):
                if not t:
                    continue
                if grad is not None and tuple(grad.shape) != tuple(arg.shape):
                    raise RuntimeError(
                        f"function {cls.__name__}Backward returned an invalid gradient at index {position} - "
                        f"got {list(grad.shape)} but expected shape compatible with {list(arg.shape)}"
                    )
                arrays.append(None if grad is None else grad.data)
            return tuple(arrays)

        saved = [t.data for t in ctx.saved_tensors]
        return record(output, tensors, backward, name=cls.__name__ + "Backward", saved=saved)
