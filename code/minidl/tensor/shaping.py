"""Shape operations of tensors (reshape, permute, squeeze, expand, repeat, split, flip, triangles,
indexing, gather, masked_fill): the same entries, rearranged or masked."""

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
        index = device_index(index, backend.of(self.data))
        shape, dtype = self.data.shape, self.data.dtype

        def backward(g):
            grad = backend.xp(g).zeros(shape, dtype=dtype)
            if is_advanced_index(index):
                backend.of(grad).scatter_add(grad, index, g)  # a repeated index adds up
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
        out = backend.xp(self.data).broadcast_to(self.data, shape)
        return TensorBase._from_op(out, (self,), lambda g: (unbroadcast(g, source),))

    def gather(self, dim, index):
        """The entries of ``self`` that ``index`` picks along ``dim``; see ``minidl.gather``."""
        return gather(self, dim, index)

    def repeat(self, *sizes):
        """Tile the tensor: ``sizes[d]`` copies along each dimension d (more sizes than dimensions add
        leading ones), as ``torch.Tensor.repeat``; the backward sums the copies."""
        sizes = shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError(
                f"repeat(): the number of sizes ({len(sizes)}) can not be smaller than the number of "
                f"dimensions of the tensor ({self.ndim})"
            )
        source = (1,) * (len(sizes) - self.ndim) + self.shape
        out = backend.xp(self.data).tile(self.data.reshape(source), sizes)
        shape = self.shape

        def backward(g):
            split = [n for pair in zip(sizes, source) for n in pair]
            return (g.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(shape),)

        return TensorBase._from_op(out, (self,), backward)

    def split(self, split_size_or_sections, dim=0):
        """Pieces along ``dim``: of ``split_size`` entries each (the last may be shorter), or of the
        listed sizes, which must add up to the dimension's size; a tuple of views, as in PyTorch."""
        dim = normalize_dim(dim, self.ndim)
        size = self.shape[dim]
        if isinstance(split_size_or_sections, (list, tuple)):
            sections = list(split_size_or_sections)
            if sum(sections) != size:
                raise RuntimeError(
                    f"split(): split sizes {sections} add up to {sum(sections)}, not to the size {size} of dim {dim}"
                )
        else:
            step = split_size_or_sections
            if isinstance(step, bool) or not isinstance(step, int) or step <= 0:
                raise RuntimeError(f"split(): split_size must be a positive int, got {step!r}")
            sections = [min(step, size - start) for start in range(0, size, step)] or [0]
        pieces, start = [], 0
        for n in sections:
            pieces.append(self[(slice(None),) * dim + (slice(start, start + n),)])
            start += n
        return tuple(pieces)

    def chunk(self, chunks, dim=0):
        """At most ``chunks`` pieces of equal size along ``dim`` (the last may be smaller), as in PyTorch."""
        if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks <= 0:
            raise RuntimeError(f"chunk(): chunks must be a positive int, got {chunks!r}")
        size = self.shape[normalize_dim(dim, self.ndim)]
        return self.split(max(1, -(-size // chunks)), dim)

    def flip(self, *dims):
        """The entries in reverse order along each of ``dims``; the backward flips the gradient back."""
        dims = tuple(normalize_dim(d, self.ndim) for d in shape_arg(dims))
        xp = backend.xp(self.data)
        return TensorBase._from_op(xp.flip(self.data, dims), (self,), lambda g: (xp.flip(g, dims),))

    def tril(self, diagonal=0):
        """The lower triangle of the last two dimensions (entries j <= i + diagonal), zeros above; the
        mask of causal attention."""
        return self._triangle(diagonal, lower=True)

    def triu(self, diagonal=0):
        """The upper triangle of the last two dimensions (entries j >= i + diagonal), zeros below."""
        return self._triangle(diagonal, lower=False)

    def _triangle(self, diagonal, lower):
        if self.ndim < 2:
            raise RuntimeError(f"{'tril' if lower else 'triu'}(): input must have at least 2 dimensions, got shape {self.shape}")
        xp = backend.xp(self.data)
        rows, cols = self.shape[-2:]
        keep = (xp.tril if lower else xp.triu)(xp.ones((rows, cols), dtype=bool), diagonal)
        return TensorBase._from_op(xp.where(keep, self.data, 0).astype(self.dtype), (self,), lambda g: (xp.where(keep, g, 0),))

    def masked_fill(self, mask, value):
        """``self`` with ``value`` wherever the bool ``mask`` (broadcastable to self's shape) is True, e.g.
        -inf at the future positions of causal attention; no gradient flows through the filled places."""
        xp = backend.xp(self.data)
        mask = mask.data if isinstance(mask, TensorBase) else as_array(mask, None, backend.of(self.data))
        if mask.dtype != bool:
            raise RuntimeError(f"masked_fill(): mask must be a bool tensor, got dtype {mask.dtype}")
        if isinstance(value, TensorBase):
            if value.ndim:
                raise RuntimeError(f"masked_fill(): value must be a number or a 0-d tensor, got shape {value.shape}")
            value = value.item()
        try:
            mask = xp.broadcast_to(mask, self.shape)
        except ValueError:
            raise RuntimeError(
                f"masked_fill(): mask of shape {tuple(mask.shape)} does not broadcast to the tensor's shape {self.shape}"
            ) from None
        out = xp.where(mask, xp.asarray(value).astype(self.dtype), self.data)
        return TensorBase._from_op(out, (self,), lambda g: (xp.where(mask, 0, g),))

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
                shared["grad"] = backend.xp(g).zeros_like(input.data)
            shared["grad"][prefix + (t,)] += g
            return (backend.xp(g).zeros((), dtype=g.dtype),)  # a token: the hub has a gradient to hand down

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
    xp = backend.xp(input.data)
    index = index.data if isinstance(index, TensorBase) else as_array(index, None, backend.of(input.data))
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
        backend.of(grad).scatter_add(grad, places, g)
        return (grad,)

    return TensorBase._from_op(input.data[places], (input,), backward)
