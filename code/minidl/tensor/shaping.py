"""Shape operations of tensors (reshape, permute, squeeze, expand, indexing, gather): the same entries, rearranged."""

from minidl import autograd
from minidl import backend
from minidl.tensor.base import TensorBase
from minidl.tensor.promotion import as_array
from minidl.tensor.shapes import device_index, is_advanced_index, normalize_dim, shape_arg, unbroadcast


class Shaping(TensorBase):
    """The shape operations of Tensor; each backward puts the gradient back in the input's shape."""

    __slots__ = ()

    @property
    def T(self):
        """The dimensions in reverse order; the transpose W^T of a matrix.

        Taught in "Neural networks" (book/part1/networks.md).
        """
        return self.permute(*reversed(range(self.ndim)))

    def __getitem__(self, index):
        index = device_index(index)
        shape, dtype = self.data.shape, self.data.dtype

        def backward(g):
            grad = backend.xp().zeros(shape, dtype=dtype)
            if is_advanced_index(index):
                backend.current().scatter_add(grad, index, g)  # a repeated index adds up
            else:
                grad[index] = g
            return (grad,)

        return TensorBase._from_op(self.data[index], (self,), backward)

    def reshape(self, *shape):
        """The same entries in a new shape (one dimension may be -1); ``view`` is the same method.

        Taught in "Losses" (book/part1/losses.md) and "Detection and segmentation" (book/part3/detection.md).
        """
        shape = shape_arg(shape)
        source = self.data.shape
        if sum(n == -1 for n in shape) > 1:
            raise RuntimeError(f"reshape: only one dimension can be inferred (-1), got shape {shape}")
        try:
            out = self.data.reshape(shape)
        except ValueError:
            raise RuntimeError(
                f"reshape: cannot reshape a tensor of shape {self.shape} ({self.numel()} elements) into {shape}"
            ) from None
        return TensorBase._from_op(out, (self,), lambda g: (g.reshape(source),))

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dimensions ``start_dim`` to ``end_dim`` into one, e.g. feature maps into a vector.

        Taught in "Encoding language" (book/part2/embeddings.md).
        """
        if self.ndim == 0:
            return self.reshape(1)
        start, end = normalize_dim(start_dim, self.ndim), normalize_dim(end_dim, self.ndim)
        shape = self.shape[:start] + (-1,) + self.shape[end + 1 :]
        return self.reshape(shape)

    def permute(self, *dims):
        """Reorder the dimensions; the backward applies the inverse permutation.

        Taught in "Attention and transformers" (book/part2/attention.md).
        """
        given = shape_arg(dims)
        if len(given) != self.ndim:
            raise RuntimeError(
                f"permute(): the tensor has {self.ndim} dimensions (shape {self.shape}) but dims {given} "
                f"name {len(given)}; give each dimension exactly once"
            )
        dims = tuple(normalize_dim(d, self.ndim) for d in given)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"permute(): duplicate dims are not allowed, got {given}")
        inverse = tuple(sorted(range(len(dims)), key=dims.__getitem__))
        return TensorBase._from_op(self.data.transpose(dims), (self,), lambda g: (g.transpose(inverse),))

    def t(self):
        """The transpose of a matrix (a vector or a 0-d tensor comes back as it is); RuntimeError beyond 2-D."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.permute(*reversed(range(self.ndim)))

    def transpose(self, dim0, dim1):
        """Swap dimensions ``dim0`` and ``dim1``."""
        dims = list(range(self.ndim))
        dim0, dim1 = normalize_dim(dim0, self.ndim), normalize_dim(dim1, self.ndim)
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    def squeeze(self, dim=None):
        """Remove dimensions of size 1 (only ``dim`` if given).

        Taught in "Attention and transformers" (book/part2/attention.md).
        """
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dim = normalize_dim(dim, self.ndim)
        if self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1 :])

    def unsqueeze(self, dim):
        """Insert a dimension of size 1 at ``dim``.

        Taught in "Attention and transformers" (book/part2/attention.md).
        """
        dim = normalize_dim(dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def unbind(self, dim=0):
        """The slices along ``dim`` as a tuple; see ``minidl.unbind``."""
        return unbind(self, dim)

    def expand(self, *shape):
        """Broadcast size-1 dimensions to ``shape`` without copying; the backward sums over them."""
        shape = shape_arg(shape)
        lead = len(shape) - self.ndim
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        source = self.shape
        out = backend.xp().broadcast_to(self.data, shape)
        return TensorBase._from_op(out, (self,), lambda g: (unbroadcast(g, source),))

    def gather(self, dim, index):
        """The entries of ``self`` that ``index`` picks along ``dim``; see ``minidl.gather``."""
        return gather(self, dim, index)

    view = reshape


def unbind(input, dim=0):
    """The slices of ``input`` along ``dim``, as a tuple (PyTorch's ``torch.unbind``).

    The slices write their gradients into one shared array that a single node hands down, so
    unbinding a sequence of length T costs O(T) in the backward pass; indexing step by step would
    give every step a zero gradient of the whole sequence, O(T^2).
    """
    dim = normalize_dim(dim, input.ndim)
    prefix = (slice(None),) * dim
    if not (input.requires_grad and autograd.is_grad_enabled()):
        return tuple(TensorBase._from_op(input.data[prefix + (t,)], (), None) for t in range(input.shape[dim]))
    shared = {}
    hub = TensorBase._from_op(input.data, (input,), lambda _token: (shared.pop("grad"),))

    def piece(t):
        def backward(g):
            if "grad" not in shared:
                shared["grad"] = backend.xp().zeros_like(input.data)
            shared["grad"][prefix + (t,)] += g
            return (backend.xp().zeros((), dtype=g.dtype),)  # a token: the hub has a gradient to hand down

        return TensorBase._from_op(input.data[prefix + (t,)], (hub,), backward)

    return tuple(piece(t) for t in range(input.shape[dim]))


def gather(input, dim, index):
    """Pick entries along ``dim``: ``out[i][j] = input[index[i][j]][j]`` for dim 0, ``input[i][index[i][j]]``
    for dim 1 (PyTorch's ``torch.gather``), e.g. the probability of each sample's own class.

    ``index`` is an int64 (or int32) tensor with as many dimensions as ``input`` and no larger than it
    outside ``dim``; the result has ``index``'s shape and ``input``'s dtype. The backward adds the
    gradient back into the picked places (a repeated index adds up). A bad index is a RuntimeError
    (negative indices are out of bounds, as in PyTorch); a bad ``dim`` an IndexError.
    """
    xp = backend.xp()
    index = index.data if isinstance(index, TensorBase) else as_array(index)
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"gather(): index must be an int64 or int32 tensor, got dtype {index.dtype}")
    if index.ndim != input.ndim:
        raise RuntimeError(
            f"gather(): index has {index.ndim} dimensions (shape {tuple(index.shape)}) but input has "
            f"{input.ndim} (shape {input.shape}); they must have the same number"
        )
    if input.ndim == 0:
        return gather(input.reshape(1), 0, index.reshape(1)).reshape(())
    dim = normalize_dim(dim, input.ndim)
    for d, (n, limit) in enumerate(zip(index.shape, input.shape)):
        if d != dim and n > limit:
            raise RuntimeError(
                f"gather(): index of shape {tuple(index.shape)} is larger than input of shape {input.shape} "
                f"in dimension {d}; only dimension {dim} (dim) may be larger"
            )
    if index.size:
        low, high = int(index.min()), int(index.max())
        if low < 0 or high >= input.shape[dim]:
            raise RuntimeError(
                f"gather(): index {low if low < 0 else high} is out of bounds for dimension {dim} with size "
                f"{input.shape[dim]}"
            )
    # one integer array per dimension: index along dim, the position itself along the others
    places = tuple(
        index if d == dim else xp.arange(n).reshape([-1 if e == d else 1 for e in range(index.ndim)])
        for d, n in enumerate(index.shape)
    )

    def backward(g):
        grad = xp.zeros(input.shape, dtype=g.dtype)
        backend.current().scatter_add(grad, places, g)
        return (grad,)

    return TensorBase._from_op(input.data[places], (input,), backward)
