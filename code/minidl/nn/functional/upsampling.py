"""Resizing feature maps by interpolation (``F.interpolate``): nearest neighbour and (bi)linear.

Along each spatial axis, output position j reads input position src(j) (nearest), or blends the two
positions around a real-valued source coordinate s(j) (linear): x[i0] (1 - lambda) + x[i1] lambda with
i0 = floor(s), lambda = s - i0. Bilinear (4-D) and trilinear (5-D) resizing are linear resizing along
each spatial axis in turn. The index rules are PyTorch's, float32 rounding included, so the results
match torch.nn.functional.interpolate entry for entry. The gradient sends each output's gradient back
to the inputs it read, with the same weights (a scatter-add along each axis, in reverse order).
"""

import math
import numbers

from minidl import backend
from minidl.nn.functional.checks import is_int, type_name
from minidl.tensor import Tensor

_LINEAR_MODES = {"linear": 3, "bilinear": 4, "trilinear": 5}  # the input dimensions each needs
_NEAREST_MODES = ("nearest", "nearest-exact")
_NODE_NAMES = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear", "bilinear": "Bilinear",
               "trilinear": "Trilinear"}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
    """Resize the spatial dimensions of ``input`` (N, C, *spatial) to ``size`` or by ``scale_factor``.

    ``mode``: "nearest" (3-D to 5-D input; source index floor(j * in / out)), "nearest-exact"
    (floor((j + 0.5) * in / out)), "linear" (3-D, (N, C, L)), "bilinear" (4-D, (N, C, H, W)) or
    "trilinear" (5-D). For the linear modes, ``align_corners=True`` maps the corner pixels' centres
    onto each other, s(j) = j (in - 1) / (out - 1); False (the default) maps pixel edges,
    s(j) = (j + 0.5) in / out - 0.5, clamped at 0. Give ``size`` (an int or one int per spatial
    dimension) or ``scale_factor`` (a number or one per dimension: out = floor(in * scale_factor)),
    not both. As in PyTorch, a given scale factor (not out / in) sets the ratio of the source
    coordinates unless ``recompute_scale_factor=True``. Result: same dtype as ``input``, shape
    (N, C, *out). The gradient sends each output's gradient back to the inputs it read. PyTorch's CPU
    nearest modes have two index rules (a float32 one, and a generic one for 1-D and 3-D inputs and
    for 2-D outputs with H + W > 128) that disagree by one position where j * in / out falls within
    rounding of an integer, and its backward pass always uses the float32 one; both are reproduced,
    so values and gradients are PyTorch's there too. Errors as PyTorch's: ValueError for both or neither of size and scale_factor, for
    align_corners with a nearest mode and for a size of the wrong length; TypeError for a non-integer
    size; NotImplementedError for an unknown mode or a mode and input dimension that don't go together;
    RuntimeError for an output size below 1.
    """
    if not isinstance(input, Tensor):
        raise TypeError(
            f"interpolate: argument 'input' must be Tensor, not {type_name(input)}; convert it with minidl.tensor(x)"
        )
    if mode in _NEAREST_MODES:
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif mode in _LINEAR_MODES:
        align_corners = bool(align_corners)
    if input.ndim not in (3, 4, 5) or mode not in _NEAREST_MODES + tuple(_LINEAR_MODES):
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for the modes: "
            f"nearest | nearest-exact | linear | bilinear | trilinear (got {mode}); input is (N, C, *spatial)"
        )
    if mode in _LINEAR_MODES and input.ndim != _LINEAR_MODES[mode]:
        raise NotImplementedError(
            f"Got {input.ndim}D input, but {mode} mode needs {_LINEAR_MODES[mode]}D input"
        )
    if input.dtype.kind != "f":
        raise NotImplementedError(
            f'"upsample_{mode}" not implemented for {input.dtype}: interpolation needs a floating-point input; '
            "convert it with x.float()"
        )
    in_sizes = input.shape[2:]
    out_sizes, scales = _output_sizes(in_sizes, size, scale_factor, recompute_scale_factor)
    if any(n < 1 for n in out_sizes) or any(n < 1 for n in in_sizes):
        labels = ("D", "H", "W")[-len(in_sizes):]
        raise RuntimeError(
            "Input and output sizes should be greater than 0, but got input ("
            + ", ".join(f"{a}: {n}" for a, n in zip(labels, in_sizes)) + ") output ("
            + ", ".join(f"{a}: {n}" for a, n in zip(labels, out_sizes)) + ")"
        )
    compute = backend.float64 if input.dtype == backend.float64 else backend.float32
    sizes = list(zip(in_sizes, out_sizes, scales))
    xp = backend.xp(input.data)  # the index plans live on the input's device
    if mode in _NEAREST_MODES:
        exact = mode == "nearest-exact"
        # PyTorch's CPU forward pass uses its float32 kernel for 2-D outputs with H + W <= 128, its
        # generic one otherwise; its backward pass always the float32 one. Both are reproduced.
        kernel = "float32" if input.ndim == 4 and sum(out_sizes) <= 128 else "generic"
        plans = [((_nearest_source(i, o, s, exact, compute, kernel, xp), None),) for i, o, s in sizes]
        backward_plans = [((_nearest_source(i, o, s, exact, compute, "float32", xp), None),) for i, o, s in sizes]
    else:
        plans = backward_plans = [_linear_sources(i, o, s, align_corners, compute, xp) for i, o, s in sizes]
    axes = range(2, input.ndim)
    out = input.data
    for axis, plan in zip(axes, plans):
        out = _resample(out, axis, plan)

    def backward(g):
        for axis, plan, n_in in reversed(list(zip(axes, backward_plans, in_sizes))):
            g = _resample_adjoint(g, axis, plan, n_in)
        return (g,)

    name = f"Upsample{_NODE_NAMES[mode]}{len(in_sizes)}DBackward0"
    return Tensor._from_op(out, (input,), backward, name=name)


def _output_sizes(in_sizes, size, scale_factor, recompute_scale_factor):
    """(output sizes, scale factors handed to the index rules: a number or None per dimension), as PyTorch."""
    dims = len(in_sizes)
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        sizes = list(size) if isinstance(size, (tuple, list)) else [size] * dims
        if len(sizes) != dims:
            raise ValueError(
                "Input and output must have the same number of spatial dimensions, but got input with spatial "
                f"dimensions of {list(in_sizes)} and output size of {size}. Please provide input tensor in "
                "(N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format."
            )
        if not all(is_int(n) for n in sizes):
            raise TypeError(
                "expected size to be one of int or Tuple[int] or Tuple[int, int] or Tuple[int, int, int], but got "
                f"size with types {[type(n) for n in sizes]}"
            )
        return [int(n) for n in sizes], [None] * dims
    factors = list(scale_factor) if isinstance(scale_factor, (tuple, list)) else [scale_factor] * dims
    if len(factors) != dims:
        raise ValueError(
            "Input and scale_factor must have the same number of spatial dimensions, but got input with spatial "
            f"dimensions of {list(in_sizes)} and scale_factor of shape {scale_factor}. Please provide input tensor "
            "in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format."
        )
    if not all(isinstance(f, numbers.Real) and not isinstance(f, bool) for f in factors):
        raise TypeError(f"scale_factor must be a number or a tuple of numbers, got {scale_factor!r}")
    sizes = [math.floor(float(n) * float(f)) for n, f in zip(in_sizes, factors)]
    return sizes, [None] * dims if recompute_scale_factor else [float(f) for f in factors]


def _ratio(n_in, n_out, scale, dtype):
    """in / out, or 1 / scale_factor when one was given (PyTorch's compute_scales_value), in ``dtype``."""
    if scale is not None and scale > 0:
        return dtype(1.0 / scale)
    return dtype(n_in) / dtype(n_out)


def _source_coordinates(n_in, n_out, scale, align_corners, dtype, xp):
    """s(j) for every output index j, in ``dtype``, as PyTorch's area_pixel_compute_source_index.

    align_corners: s = j (in - 1) / (out - 1); else s = max(ratio (j + 0.5) - 0.5, 0). PyTorch's
    compiled kernel fuses ratio (j + 0.5) - 0.5 into one multiply-add (a single rounding); in float64
    the product of a float32 ratio and j + 0.5 is exact, so rounding that once to float32 reproduces it.
    """
    positions = xp.arange(n_out, dtype=backend.float64)
    if align_corners:
        ratio = dtype(n_in - 1) / dtype(n_out - 1) if n_out > 1 else dtype(0)
        return positions.astype(dtype) * ratio
    ratio = _ratio(n_in, n_out, scale, dtype)
    source = (backend.float64(ratio) * (positions + 0.5) - 0.5).astype(dtype)
    return xp.maximum(source, dtype(0))


def _floorf(values, n_in):
    """floor(values) as an index in [0, n_in): PyTorch floors in float32 (``floorf``), whatever the dtype."""
    xp = backend.xp(values)
    return xp.minimum(xp.floor(values.astype(backend.float32)).astype(backend.int64), n_in - 1)


def _nearest_source(n_in, n_out, scale, exact, dtype, kernel, xp):
    """The input index each output index reads, by the rule of one of PyTorch's two CPU kernels.

    ``kernel="float32"`` (``nearest_idx``; PyTorch's backward pass, and the forward pass of 2-D
    inputs whose output has H + W <= 128): floor(j * ratio) in float32, copying when out == in and
    halving when out == 2 in; exact: floor((j + 0.5) * ratio). ``kernel="generic"`` (every other
    forward pass): floor(j * ratio) in ``dtype``, no special cases; exact: floor(s(j) + 0.5). The
    two differ only where j * ratio lands within rounding of an integer.
    """
    positions = xp.arange(n_out, dtype=backend.int64)
    if kernel == "float32":
        if not exact and n_out == n_in:
            return positions
        if not exact and n_out == 2 * n_in:
            return positions // 2
        ratio = _ratio(n_in, n_out, scale, backend.float32)
        if exact:  # (j + 0.5) is a double in the kernel, so the product is one too
            return _floorf((positions + 0.5) * backend.float64(ratio), n_in)
        return _floorf(positions.astype(backend.float32) * ratio, n_in)
    if exact:
        return _floorf(_source_coordinates(n_in, n_out, scale, False, dtype, xp) + dtype(0.5), n_in)
    return _floorf(positions.astype(dtype) * _ratio(n_in, n_out, scale, dtype), n_in)


def _linear_sources(n_in, n_out, scale, align_corners, dtype, xp):
    """((i0, 1 - lambda), (i1, lambda)) for each output index: the two input indices it blends and their
    weights, as PyTorch's compute_source_index_and_lambda (out == in copies)."""
    if n_out == n_in:
        index = xp.arange(n_out, dtype=backend.int64)
        return ((index, xp.ones(n_out, dtype=dtype)), (index, xp.zeros(n_out, dtype=dtype)))
    source = _source_coordinates(n_in, n_out, scale, align_corners, dtype, xp)
    lower = _floorf(source, n_in)
    weight_upper = xp.clip(source - lower.astype(dtype), 0, 1).astype(dtype)
    upper = lower + (lower < n_in - 1)
    return ((lower, 1 - weight_upper), (upper, weight_upper))


def _along(weights, axis, ndim):
    """Per-position weights shaped to broadcast along ``axis`` of an ``ndim``-dimensional array."""
    return weights.reshape((-1,) + (1,) * (ndim - axis - 1))


def _resample(x, axis, plan):
    """sum over the plan's (index, weight) pairs of x taken at index along ``axis``, times weight."""
    xp = backend.xp(x.data)
    out = None
    for index, weights in plan:
        term = xp.take(x, index, axis=axis)
        if weights is not None:
            term = term * _along(weights.astype(x.dtype, copy=False), axis, x.ndim)
        out = term if out is None else out + term
    return out


def _resample_adjoint(g, axis, plan, n_in):
    """The gradient of ``_resample``: each output's gradient, times its weight, added to the input it read."""
    xp = backend.xp(g)
    moved = xp.moveaxis(g, axis, 0)
    grad = xp.zeros((n_in,) + moved.shape[1:], dtype=g.dtype)
    for index, weights in plan:
        values = moved if weights is None else moved * _along(weights.astype(g.dtype, copy=False), 0, moved.ndim)
        backend.of(grad).scatter_add(grad, index, values)
    return xp.moveaxis(grad, 0, axis)
