"""The Tensor class: an array, its gradient and its place in the graph, with every operation mixed in.

Each family of operations lives in its own module (``arithmetic``, ``reductions``, ``elementwise``,
``shaping``, ``inplace``); this one holds what a tensor is: its data, ``grad``, ``requires_grad``,
``grad_fn``, conversions, and ``backward``.

Taught in the chapter "Gradient descent and backpropagation" (``book/part1/backprop.md``).
"""

from minidl import autograd
from minidl import backend
from minidl.device import backend_for, device_of
from minidl.tensor.arithmetic import Arithmetic
from minidl.tensor.base import TensorBase
from minidl.tensor.elementwise import Elementwise
from minidl.tensor.inplace import InPlace
from minidl.tensor.printing import tensor_repr
from minidl.tensor.promotion import as_array, as_dtype, move
from minidl.tensor.reductions import Reductions
from minidl.tensor.shaping import Shaping

_NUMPY_NEEDS_DETACH = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
_NUMPY_NEEDS_HOST = ("can't convert {} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory "
                     "first.")


class Tensor(Arithmetic, Reductions, Elementwise, Shaping, InPlace):
    """An array (``.data``, from the backend) plus what autodiff needs: ``.grad`` and the graph.

    ``data`` is the backend array (assignable in place); ``grad`` is a Tensor of dL/dx after
    ``backward`` (None before); ``requires_grad`` says whether operations on it are recorded;
    ``grad_fn`` is the graph node that made it (None for a leaf).

    Taught in "The perceptron" (book/part1/perceptron.md) and "Gradient descent and backpropagation" (book/part1/backprop.md).
    """

    __array_ufunc__ = None  # make ``numpy_array * tensor`` call Tensor.__rmul__
    __slots__ = ("data", "_grad", "grad_fn", "_requires_grad", "_grad_accumulator", "__weakref__")

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = as_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self._grad_accumulator = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    def _edge(self):
        """The node that a gradient for this tensor goes to: its operation's, or its leaf accumulator."""
        if self.grad_fn is not None:
            return self.grad_fn
        if not self._requires_grad:
            return None
        if self._grad_accumulator is None:
            self._grad_accumulator = autograd.AccumulateGrad(self)
        return self._grad_accumulator

    @property
    def grad(self):
        """dL/d(this tensor) after ``backward``: a Tensor of the same shape and dtype, or None.

        Assigning it checks what PyTorch checks: a Tensor (or None) of this shape, dtype and device, else
        TypeError or RuntimeError, so an optimizer never broadcasts a wrong-shaped gradient.

        Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, TensorBase):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor of size "
                    f"'{list(self.shape)}'. Please ensure that the gradient and the tensor are the same size"
                )
            if value.dtype != self.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{value.dtype}' to a tensor with dtype "
                    f"'{self.dtype}'; cast it first with .to({self.dtype})"
                )
            if backend.on_gpu(value.data) != backend.on_gpu(self.data):
                raise RuntimeError(
                    f"attempting to assign a gradient located on device '{value.device}' to a tensor located on "
                    f"device '{self.device}'. Please ensure that the gradient and the tensor are on the same device"
                )
        self._grad = value

    @property
    def requires_grad(self):
        """Whether operations on this tensor are recorded for ``backward``.

        Only floating-point leaves can be set to require a gradient; a result of recorded
        operations always requires one. Raises RuntimeError otherwise, with PyTorch's messages.

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        return self.grad_fn is not None or self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to use a "
                    "computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach()."
                )
            return
        if value and self.data.dtype.kind not in "fc":
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients "
                f"(this tensor's dtype is {self.data.dtype}; convert it with .float() first)"
            )
        self._requires_grad = value
        if not value:
            self._grad_accumulator = None

    @property
    def shape(self):
        """The sizes of the dimensions, a tuple of ints.

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        return tuple(self.data.shape)

    @property
    def dtype(self):
        """The element type of ``.data`` (float32 by default; float64 for gradient checks).

        Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        return self.data.dtype

    @property
    def ndim(self):
        """The number of dimensions.

        Taught in "Attention and transformers" (book/part2/attention.md).
        """
        return self.data.ndim

    @property
    def is_leaf(self):
        """True for tensors not made by a recorded operation (inputs, parameters): their ``.grad`` is kept.

        Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        return self.grad_fn is None

    def size(self, dim=None):
        """The shape, or the size of dimension ``dim`` (PyTorch's spelling)."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        """The number of elements, e.g. to count a model's parameters.

        Taught in "Neural networks" (book/part1/networks.md).
        """
        return int(self.data.size)

    def dim(self):
        """The number of dimensions (PyTorch's spelling of ``ndim``)."""
        return self.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __hash__(self):
        return id(self)

    def item(self):
        """The value of a one-element tensor as a Python number (e.g. a loss, to print or plot).

        RuntimeError, with PyTorch's message, for a tensor of several elements or none.

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        if self.data.size != 1:
            raise RuntimeError(f"a Tensor with {self.data.size} elements cannot be converted to Scalar")
        return self.data.item()

    def tolist(self):
        """The values as (nested) Python lists.

        Taught in "Lab: generating music" (book/part2/music_lab.md).
        """
        return self.data.tolist()

    def numpy(self, *, force=False):
        """The NumPy array of a CPU tensor, sharing its memory as PyTorch's does. Detach first, as in PyTorch.

        RuntimeError, with PyTorch's message, for a tensor that requires grad unless ``force=True``
        (which detaches); TypeError, with PyTorch's message, for a tensor on a GPU: copy it to the host
        with ``.cpu()`` first, ``x.detach().cpu().numpy()``.

        Taught in "Recurrent neural networks" (book/part2/rnn.md).
        """
        if self.requires_grad and not force:
            raise RuntimeError(_NUMPY_NEEDS_DETACH)
        if backend.on_gpu(self.data):
            raise TypeError(_NUMPY_NEEDS_HOST.format(self.device))
        return backend.host().to_host(self.data)

    def __array__(self, dtype=None, copy=None):
        """The host array for ``np.asarray(t)`` and ``np.array(t)`` (and so ``plt.imshow(t)``).

        Shares a CPU tensor's memory unless ``copy`` or a new ``dtype`` asks for a copy; copies a GPU
        tensor to the host (where PyTorch raises, so that plotting works on every device);
        ``copy=False`` where a copy cannot be avoided (a GPU tensor, a new dtype) is a ValueError, as
        NumPy's protocol asks. RuntimeError for a tensor that requires grad, as ``numpy()``.
        """
        host = self.cpu().numpy()
        copied = host is not self.data
        if dtype is not None and host.dtype != dtype:
            if copy is False:
                raise ValueError(f"np.asarray(tensor, dtype={dtype}, copy=False): a cast from {self.dtype} must copy")
            return host.astype(dtype)
        if copy is False and copied:
            raise ValueError(
                f"np.asarray(tensor, copy=False): the tensor lives on {self.device}, so its host array is a copy"
            )
        return host.copy() if copy and not copied else host

    def __index__(self):
        """The integer of a one-element integer (or bool) tensor, so ``array[t]`` and ``range(t)`` work.

        TypeError, with PyTorch's message, for a float tensor or one of several elements.
        """
        if self.data.size != 1 or self.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.data.item())

    def __format__(self, format_spec):
        """``f"{t:.2f}"``: a 0-d tensor formats its number (``f"{t}"`` gives ``3.0``, as in PyTorch);
        another tensor accepts only an empty spec (its repr), else TypeError, as ``object.__format__``."""
        if self.ndim == 0:
            return self.data.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __bool__(self):
        if self.data.size > 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def _scalar(self):
        """The one value of ``float(t)`` and ``int(t)``; ValueError for several, as in PyTorch."""
        if self.data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.data.item()

    def __repr__(self):
        grad = None
        if self.requires_grad:
            grad = "requires_grad=True" if self.is_leaf else f"grad_fn=<{self.grad_fn.name()}>"
        return tensor_repr(backend.of(self.data).to_host(self.data), grad)

    def detach(self):
        """The same data, cut from the graph.

        Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        return TensorBase._from_op(self.data, (), None)

    def requires_grad_(self, requires_grad=True):
        """Start (or stop) recording operations on this tensor for ``backward``; returns the tensor.

        Taught in "Attention and transformers" (book/part2/attention.md).
        """
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Keep ``.grad`` on this intermediate result after ``backward`` (leaves always keep it).

        Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        if self.grad_fn is None and not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn._retained = self
        return self

    @property
    def retains_grad(self):
        """True for a non-leaf tensor whose ``retain_grad()`` was called."""
        return self.grad_fn is not None and self.grad_fn._retained is self

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        """Cast to ``dtype`` or copy to ``device``: ``x.to(minidl.float64)``, ``x.to("cpu")``, ``x.to(other_tensor)``.

        A cast between floating dtypes stays in the graph (the gradient is cast back); a cast to an
        integer or bool dtype cuts it, as in PyTorch. A copy to another device (``"cpu"``, ``"cuda"``,
        a ``minidl.device``, another tensor's device) stays in the graph too: the gradient is copied
        back. Returns ``self`` when nothing changes and ``copy`` is False; TypeError for a non-dtype,
        RuntimeError for ``"cuda"`` where no GPU backend is in use (see ``minidl.device``).
        """
        del non_blocking  # accepted for PyTorch compatibility; copies here are synchronous
        for arg in args:
            if isinstance(arg, TensorBase):
                dtype, device = arg.dtype, arg.device
            elif isinstance(arg, str):
                device = arg
            else:
                dtype = arg
        if device is not None:
            moved = move(self, backend_for(device))
            if moved is not self:
                return moved if dtype is None else moved.to(dtype)
        target = self.dtype if dtype is None else as_dtype(dtype)
        if target == self.dtype and not copy:
            return self
        data = self.data.astype(target)
        if target.kind not in "fc":  # integer and bool results have no gradient
            return TensorBase._from_op(data, (), None)
        source = self.dtype
        return TensorBase._from_op(data, (self,), lambda g: (g.astype(source),))

    # ---- devices: a tensor's is its array's (see minidl.device) ----
    @property
    def device(self):
        """Where the tensor lives: ``minidl.device("cpu")`` for a NumPy array, ``("cuda:0")`` on CuPy and the simulated GPU."""
        return device_of(self.data)

    @property
    def is_cuda(self):
        """True when the tensor lives on a GPU (the CuPy backend, or the simulated GPU of the tests)."""
        return self.device.type == "cuda"

    def cpu(self):
        """The tensor in host memory (NumPy), as ``.to("cpu")``: itself if it is there, else a copy in the graph.

        ``x.cpu().numpy()`` is how a GPU tensor's values reach NumPy, as in PyTorch.
        """
        if not backend.on_gpu(self.data):  # already in host memory: nothing to look up or move
            return self
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        """The tensor on the GPU, as ``.to("cuda")``: itself if it is there, else a copy in the graph.

        RuntimeError where no GPU backend is in use (``minidl.use_backend("cupy")``, or ``"gpusim"`` in tests)."""
        return self.to("cuda" if device is None else device, non_blocking=non_blocking)

    def float(self):
        """Cast to float32 (differentiable)."""
        return self.to(backend.float32)

    def double(self):
        """Cast to float64 (differentiable).

        Taught in "Losses" (book/part1/losses.md).
        """
        return self.to(backend.float64)

    def half(self):
        """Cast to float16 (differentiable)."""
        return self.to(backend.xp(self.data).float16)

    def long(self):
        """Cast to int64, e.g. for class indices; the result is out of the graph."""
        return self.to(backend.int64)

    def int(self):
        """Cast to int32; the result is out of the graph."""
        return self.to(backend.xp(self.data).int32)

    def bool(self):
        """Cast to bool (nonzero is True); the result is out of the graph."""
        return self.to(backend.bool_)

    def clone(self):
        """A copy of the data that stays in the graph (the gradient passes through unchanged)."""
        return TensorBase._from_op(self.data.copy(), (self,), lambda g: (g,))

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires a gradient.

        ``self`` must be a scalar (a loss) unless ``gradient``, of self's shape, is given. The graph's
        saved values are freed afterwards; pass ``retain_graph=True`` to go through it again.
        Raises RuntimeError, with PyTorch's message, for a tensor without a graph, a second pass
        through a freed graph, or a saved value changed in place since the forward pass.

        Taught in "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        if create_graph:
            raise NotImplementedError(
                "backward(create_graph=True): minidl does not record the backward pass, so it has no "
                "higher-order derivatives; differentiate twice with finite differences instead"
            )
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        xp = backend.xp(self.data)
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; this tensor has shape "
                    f"{self.shape}, so pass gradient= of that shape (or call .sum() first)"
                )
            gradient = xp.ones_like(self.data)
        else:
            gradient = as_array(gradient, self.dtype, backend.of(self.data))
            if gradient.shape != self.data.shape:
                raise RuntimeError(
                    f"backward(): gradient has shape {tuple(gradient.shape)}, expected {self.shape}"
                )
        autograd.run_backward(self._edge(), gradient, retain_graph=bool(retain_graph))

    def _accumulate(self, grad):
        """Add ``grad`` into ``self.grad``, which owns its memory: a first gradient is copied, never kept."""
        grad = backend.xp(self.data).asarray(grad)
        if grad.shape != self.data.shape:
            raise RuntimeError(
                f"backward: the gradient computed for a tensor of shape {self.shape} has shape "
                f"{tuple(grad.shape)}"
            )
        if self.grad is None:
            self._grad = TensorBase._from_op(grad.astype(self.data.dtype, copy=True), (), None)
        else:
            self.grad.data += grad


TensorBase.result_type = Tensor
