"""Reductions of tensors (sum, mean, var, std, max, min, argmax, prod, logsumexp, norm) and the orderings
(sort, argsort, topk), with PyTorch's gradients and NaN rules."""

from collections import namedtuple

from minidl import backend
from minidl.tensor.base import TensorBase
from minidl.tensor.promotion import is_number, quiet, zero_where
from minidl.tensor.shapes import axes_of, normalize_dim, reduced_count, restore_dims, restore_shape_without


ReductionResult = namedtuple("ReductionResult", ["values", "indices"])
SortResult = namedtuple("SortResult", ["values", "indices"])
TopKResult = namedtuple("TopKResult", ["values", "indices"])


class Reductions(TensorBase):
    """The reductions of Tensor: each combines entries along ``dim`` (all of them by default)."""

    __slots__ = ()

    def sum(self, dim=None, keepdim=False):
        """The sum over ``dim`` (all dimensions by default); the gradient is broadcast back to every entry.

        Taught in "The perceptron" (book/part1/perceptron.md).
        """
        shape = self.data.shape

        def backward(g):
            return (backend.xp(g).broadcast_to(restore_dims(g, dim, len(shape), keepdim), shape),)

        return TensorBase._from_op(self.data.sum(axis=axes_of(dim), keepdims=keepdim), (self,), backward)

    def mean(self, dim=None, keepdim=False):
        """The mean over ``dim`` (all dimensions by default), e.g. the average loss over a batch.

        Taught in "Losses" (book/part1/losses.md) and "Gradient descent and backpropagation" (book/part1/backprop.md).
        """
        if self.data.dtype.kind not in "fc":
            raise RuntimeError(f"mean(): needs a floating-point tensor (got {self.dtype}); use .float()")
        return self.sum(dim, keepdim) / reduced_count(self.shape, dim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """The variance over ``dim``: sum((x - mean)^2) / (n - correction), PyTorch's signature.

        ``correction`` is 1 by default (Bessel's, the same as ``unbiased=True``); ``unbiased=False``
        means 0. Where n - correction <= 0 the result is inf or nan, as in PyTorch. Floating tensors
        only (RuntimeError otherwise); giving both ``unbiased`` and ``correction`` is a TypeError.
        """
        dim, dof = _degrees_of_freedom("var", self, dim, unbiased, correction)
        axes = axes_of(dim)
        centered = self.data - self.data.mean(axis=axes, keepdims=True)
        with quiet():
            out = (centered * centered).sum(axis=axes, keepdims=keepdim) / dof

        def backward(g):  # d/dx_i of sum (x - mean)^2 / dof = 2 (x_i - mean) / dof
            with quiet():
                return (2 * centered * (restore_dims(g, dim, self.ndim, keepdim) / dof),)

        return TensorBase._from_op(out, (self,), backward)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """The standard deviation over ``dim``: the square root of ``var`` (same arguments).

        The gradient g / (2 std) is 0, not inf * 0 = nan, where std is 0 (a constant row), as in PyTorch.

        Taught in "Generative adversarial networks" (book/part4/gans.md).
        """
        if isinstance(dim, bool):  # std(False): the unbiased flag given first, as PyTorch allows
            dim, unbiased = None, dim
        _degrees_of_freedom("std", self, dim, unbiased, correction)  # errors name std, not var
        variance = self.var(dim, unbiased, keepdim, correction=correction)
        xp = backend.xp(self.data)
        out = xp.sqrt(variance.data)

        def backward(g):
            zero = out == 0
            return (zero_where(zero, g / (2 * xp.where(zero, 1, out))),)

        return TensorBase._from_op(out, (variance,), backward)

    def max(self, dim=None, keepdim=False):
        """The largest entry; with ``dim``, a (values, indices) pair as in PyTorch.

        NaN counts as the largest value (the result is nan and the index points at the first NaN).
        Without ``dim`` the gradient is shared evenly by all entries equal to the maximum; with ``dim``
        it goes to the returned index.

        Taught in "Losses" (book/part1/losses.md).
        """
        return self._extreme("max", dim, keepdim)

    def min(self, dim=None, keepdim=False):
        """The smallest entry; with ``dim``, a (values, indices) pair; NaN wins, as in ``max``."""
        return self._extreme("min", dim, keepdim)

    def _extreme(self, name, dim, keepdim):
        """max or min: one value and a shared gradient without ``dim``, (values, indices) with it;
        ``max(other_tensor)`` is the elementwise ``maximum``, as in PyTorch."""
        if isinstance(dim, TensorBase):
            return self.maximum(dim) if name == "max" else self.minimum(dim)
        xp = backend.xp(self.data)
        if dim is None:
            if self.data.size == 0:
                raise RuntimeError(
                    f"{name}(): expected a reduction dim to be specified for an empty tensor (shape "
                    f"{self.shape}); give dim="
                )
            out = getattr(self.data, name)()  # a NaN anywhere makes the result nan

            def backward_all(g):
                ties = (self.data == out) | (xp.isnan(self.data) & xp.isnan(out))
                # an even share for each tie, as in PyTorch; counted in int64 and divided in float64,
                # so 70,000 float16 ties don't overflow float16 (whose largest value is 65504)
                share = (g.astype(backend.float64) / ties.sum()).astype(self.dtype)
                return (ties * share,)

            return TensorBase._from_op(out, (self,), backward_all)
        dim = normalize_dim(dim, self.ndim)
        if self.ndim and self.shape[dim] == 0:
            raise IndexError(f"{name}(): expected reduction dim {dim} to have non-zero size (shape {self.shape})")
        indices = _arg_extreme(self.data, name == "max", dim)
        expanded = xp.expand_dims(indices, dim)
        values = xp.take_along_axis(self.data, expanded, axis=dim)
        if not keepdim:
            values = values.squeeze(dim)

        def backward(g):
            positions = xp.arange(self.shape[dim]).reshape([-1 if d == dim else 1 for d in range(self.ndim)])
            winner = positions == expanded
            return (winner * restore_dims(g, dim, self.ndim, keepdim),)

        result = TensorBase._from_op(values, (self,), backward)
        return ReductionResult(result, TensorBase._from_op(indices if not keepdim else expanded, (), None))

    def all(self, dim=None, keepdim=False):
        """True where every entry along ``dim`` (all of them by default) is nonzero; a bool tensor, no gradient."""
        return TensorBase._from_op(self.data.astype(bool).all(axis=axes_of(dim), keepdims=keepdim), (), None)

    def any(self, dim=None, keepdim=False):
        """True where some entry along ``dim`` (any of them by default) is nonzero; a bool tensor, no gradient."""
        return TensorBase._from_op(self.data.astype(bool).any(axis=axes_of(dim), keepdims=keepdim), (), None)

    def cumsum(self, dim):
        """The running sum along ``dim``: out[i] = x[0] + ... + x[i]; bool and integers sum in int64.

        The backward is the running sum of the gradient taken from the other end (each x[i] counts in
        every out[j] with j >= i).
        """
        xp = backend.xp(self.data)
        dim = normalize_dim(dim, self.ndim)
        data = self.data.astype(backend.int64) if self.dtype.kind in "biu" else self.data
        out = data.cumsum(axis=dim) if self.ndim else data.copy()

        def backward(g):
            return (xp.flip(xp.flip(g, dim).cumsum(axis=dim), dim) if g.ndim else g,)

        return TensorBase._from_op(out, (self,), backward)

    def argmax(self, dim=None, keepdim=False):
        """The index of the largest entry along ``dim``, e.g. the predicted class; no gradient.

        Without ``dim``, the index into the flattened tensor. A NaN counts as the largest, as in PyTorch.

        Taught in "Neural networks" (book/part1/networks.md).
        """
        return self._index_of_extreme(True, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        """The index of the smallest entry along ``dim`` (flattened without ``dim``); NaN wins; no gradient."""
        return self._index_of_extreme(False, dim, keepdim)

    def _index_of_extreme(self, largest, dim, keepdim):
        xp = backend.xp(self.data)
        name = "argmax" if largest else "argmin"
        if dim is None:
            if self.data.size == 0:
                raise IndexError(f"{name}(): expected a reduction dim to be specified for an empty tensor; give dim=")
            index = xp.asarray(_arg_extreme(self.data, largest, None))
            return TensorBase._from_op(index.reshape((1,) * self.ndim) if keepdim else index, (), None)
        dim = normalize_dim(dim, self.ndim)
        indices = _arg_extreme(self.data, largest, dim)
        return TensorBase._from_op(xp.expand_dims(indices, dim) if keepdim else indices, (), None)

    def prod(self, dim=None, keepdim=False):
        """The product over ``dim`` (all entries by default); bool and integers multiply in int64.

        The gradient of each entry is the product of all the others, computed from running products
        from both ends, so a zero entry gets the right gradient instead of 0/0.
        """
        xp = backend.xp(self.data)
        data = self.data.astype(backend.int64) if self.dtype.kind in "biu" else self.data
        if dim is None:
            flat = self.reshape(-1).prod(0)
            return flat.reshape((1,) * self.ndim) if keepdim else flat
        dim = normalize_dim(dim, self.ndim)
        out = data.prod(axis=dim, keepdims=keepdim) if self.ndim else data.copy()

        def backward(g):
            if not self.ndim:
                return (g,)
            ones = xp.ones_like(xp.take(data, [0], axis=dim))
            before = xp.concatenate([ones, xp.cumprod(data, axis=dim)], axis=dim)
            after = xp.flip(xp.concatenate([ones, xp.cumprod(xp.flip(data, dim), axis=dim)], axis=dim), dim)
            n = self.shape[dim]
            others = xp.take(before, range(n), axis=dim) * xp.take(after, range(1, n + 1), axis=dim)
            return (others * restore_dims(g, dim, self.ndim, keepdim),)

        return TensorBase._from_op(out, (self,), backward)

    def logsumexp(self, dim, keepdim=False):
        """log(sum(exp(x))) over ``dim``, computed as m + log(sum(exp(x - m))) with m the maximum, so
        large entries do not overflow; the gradient is softmax(x) along ``dim``. All -inf gives -inf.
        """
        xp = backend.xp(self.data)
        if self.dtype.kind not in "fc":
            raise RuntimeError(f"logsumexp(): expected a floating-point tensor, got {self.dtype}; use .float()")
        axes = axes_of(dim)
        with quiet():
            peak = self.data.max(axis=axes, keepdims=True) if self.data.size else xp.zeros((1,) * self.ndim, self.dtype)
            peak = xp.where(xp.isfinite(peak), peak, 0)
            total = xp.exp(self.data - peak).sum(axis=axes, keepdims=True)
            kept = xp.log(total) + peak
        out = kept if keepdim else kept.reshape(restore_shape_without(self.shape, axes))

        def backward(g):
            with quiet():
                weights = xp.exp(self.data - kept)
            return (weights * restore_dims(g, dim, self.ndim, keepdim),)

        return TensorBase._from_op(out, (self,), backward)

    def norm(self, p="fro", dim=None, keepdim=False):
        """The p-norm over ``dim`` (all entries by default): (sum |x|^p)^(1/p); p = 2 and "fro" are the
        Euclidean norm, p = 1 the sum of magnitudes, p = inf the largest magnitude. As in PyTorch, the
        gradient of the 2-norm at the zero vector is 0. Raises ValueError for another string ``p``.
        """
        if p == "fro":
            p = 2
        if isinstance(p, str) or not is_number(p):
            raise ValueError(f"norm(): p must be a number, inf or 'fro', got {p!r}")
        magnitude = self.abs()
        if p == float("inf"):
            return magnitude.amax(dim, keepdim)
        if p == 1:
            return magnitude.sum(dim, keepdim)
        if p == 2:
            xp = backend.xp(self.data)
            axes = axes_of(dim)
            kept = xp.sqrt((self.data * self.data).sum(axis=axes, keepdims=True))
            out = kept if keepdim else kept.reshape(restore_shape_without(self.shape, axes))

            def backward(g):
                safe = xp.where(kept == 0, 1, kept)
                return (xp.where(kept == 0, 0, self.data / safe) * restore_dims(g, dim, self.ndim, keepdim),)

            return TensorBase._from_op(out, (self,), backward)
        return (magnitude ** p).sum(dim, keepdim) ** (1.0 / p)

    def amax(self, dim=None, keepdim=False):
        """The largest entry over ``dim`` (several dims allowed), a tensor without indices (``torch.amax``)."""
        if dim is None or isinstance(dim, (tuple, list)):
            if dim is None:
                return self.max() if not keepdim else self.max().reshape((1,) * self.ndim)
            out = self
            for d in sorted((normalize_dim(d, self.ndim) for d in dim), reverse=True):
                out = out.max(d, keepdim=True).values
            return out if keepdim else out.reshape(restore_shape_without(self.shape, axes_of(tuple(dim))))
        return self.max(dim, keepdim).values

    def sort(self, dim=-1, descending=False, stable=False):
        """The entries sorted along ``dim`` and where each came from: a (values, indices) pair, as in
        PyTorch. NaN sorts as the largest value; ties keep their order when ascending. The gradient goes
        back to each entry's place.
        """
        indices = self.argsort(dim, descending, stable)
        return SortResult(self.gather(normalize_dim(dim, max(self.ndim, 1)) if self.ndim else 0, indices), indices)

    def argsort(self, dim=-1, descending=False, stable=False):
        """The indices that sort ``self`` along ``dim`` (int64, no gradient); see ``sort``."""
        xp = backend.xp(self.data)
        if not self.ndim:
            return TensorBase._from_op(xp.zeros((), dtype=backend.int64), (), None)
        dim = normalize_dim(dim, self.ndim)
        order = xp.argsort(self.data, axis=dim, kind="stable")
        if descending:  # NaN (last when ascending) comes first, as in PyTorch
            order = xp.flip(order, dim)
        return TensorBase._from_op(order.astype(backend.int64), (), None)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The ``k`` largest (or smallest) entries along ``dim`` and their indices, as a (values, indices)
        pair, e.g. the k most likely next tokens. Raises RuntimeError when k is out of range.
        """
        dim = normalize_dim(dim, max(self.ndim, 1)) if self.ndim else 0
        size = self.shape[dim] if self.ndim else 1
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= size:
            raise RuntimeError(f"topk(): k must be an int from 0 to {size} (the size of dim {dim}), got {k!r}")
        indices = self.argsort(dim, descending=largest, stable=True)
        if self.ndim:
            indices = indices[(slice(None),) * dim + (slice(0, k),)]
        return TopKResult(self.gather(dim, indices), indices)



def _arg_extreme(data, largest, axis):
    """argmax (or argmin) along ``axis`` where a NaN beats every number, the first one among ties,
    as in NumPy and PyTorch; spelled out so every backend agrees."""
    xp = backend.xp(data)
    index = (xp.argmax if largest else xp.argmin)(data, axis=axis)
    if data.dtype.kind in "fc":
        nan = xp.isnan(data)
        index = xp.where(nan.any(axis=axis), xp.argmax(nan, axis=axis), index)
    return index


def _degrees_of_freedom(name, tensor, dim, unbiased, correction):
    """``dim`` and n - correction for var and std, with PyTorch's argument rules."""
    if isinstance(dim, bool):  # var(False): the unbiased flag given first, as PyTorch allows
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}(): give unbiased or correction, not both (correction=1 is unbiased=True)")
    if tensor.dtype.kind not in "fc":
        raise RuntimeError(f"{name}(): std and var only support floating-point tensors, got {tensor.dtype}; use .float()")
    if correction is None:
        correction = 0 if unbiased is False else 1
    return dim, max(0, reduced_count(tensor.shape, dim) - correction)

