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

import contextlib
import weakref

_grad_enabled = True


@contextlib.contextmanager
def no_grad():
    """Inside this block operations record no graph: for evaluation and parameter updates.

    Taught in "The perceptron" (book/part1/perceptron.md) and "Gradient descent and backpropagation" (book/part1/backprop.md).
    """
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled():
    """Whether operations record the graph now (False inside ``no_grad``), as ``torch.is_grad_enabled``."""
    return _grad_enabled


# ---- version counters -----------------------------------------------------------------------------
_versions = {}  # id(memory owner) -> number of in-place changes; entries die with their owner


def _owner(array):
    """The object that owns an array's memory: views of views all lead back to it."""
    while getattr(array, "base", None) is not None:
        array = array.base
    return array


def is_view(array):
    """Whether ``array`` shows only part of its memory, or shows it differently (a slice, a reshape)."""
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
    """How many times the memory behind ``array`` was changed in place (0 if never)."""
    return _versions.get(id(_owner(array)), 0)


def bump_version(array):
    """Record an in-place change of ``array``'s memory; every view of it sees the new version."""
    owner = _owner(array)
    key = id(owner)
    if key not in _versions:
        try:
            weakref.finalize(owner, _versions.pop, key, None)
        except TypeError:  # an owner that can't be weakly referenced: pin it so its id stays unique
            _pinned.append(owner)
    _versions[key] = _versions.get(key, 0) + 1


_pinned = []


# ---- nodes --------------------------------------------------------------------------------------------
class Node:
    """One recorded operation: its backward function and the edges to the nodes of its inputs.

    ``name()`` is PyTorch's node name (``MulBackward0``); ``next_functions`` is a tuple of
    ``(node, 0)`` pairs, one per input, with ``None`` for an input that needs no gradient.
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
        for array, expected in self._saved:
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
    """The node of a leaf tensor that requires a gradient: it adds what arrives into ``.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        super().__init__("torch::autograd::AccumulateGrad", None, ())
        self.variable = variable

    def _apply(self, grad, retain_graph):
        self.variable._accumulate(grad)
        return ()


def saved_arrays(backward, arrays_of):
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


def node_name(backward):
    """PyTorch-style node name from the operation that defined ``backward``: ``__mul__`` -> ``MulBackward0``."""
    qualname = getattr(backward, "__qualname__", "Function")
    owner = qualname.split(".<locals>")[0].rsplit(".", 1)[-1].strip("_")
    return "".join(part[:1].upper() + part[1:] for part in owner.split("_")) + "Backward0"


# ---- the backward pass --------------------------------------------------------------------------------
def _topological_order(root):
    """Every node reachable from ``root``, each after all the nodes it feeds: one iterative walk."""
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
    what it receives, so no two tensors ever share a gradient array.
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
