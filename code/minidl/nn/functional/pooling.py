"""Max and average pooling as functions, with PyTorch's NaN, tie and ceil_mode rules."""

from minidl import backend
from minidl.tensor import Tensor
from minidl.nn.functional.checks import pair


def _pooled_size(size, kernel, stride, padding, dilation, ceil_mode):
    """floor (or ceil) of (size + 2 padding - dilation (kernel - 1) - 1) / stride, plus 1, as PyTorch.

    With ``ceil_mode`` a last, partial window is kept only if it starts inside the input or the left
    padding (a window starting in the right padding would see nothing but padding).
    """
    span = dilation * (kernel - 1) + 1
    count = (size + 2 * padding - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (count - 1) * stride >= size + padding:
        count -= 1
    return count


def _pool_arguments(input, kernel_size, stride, padding, dilation, ceil_mode, name):
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        got = input.shape if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"{name}: input must be a Tensor of shape (N, C, H, W) or (C, H, W), got {got}")
    kernel = pair(kernel_size, f"{name}: kernel_size", 1)
    stride = kernel if stride is None else pair(stride, f"{name}: stride", 1)
    padding = pair(padding, f"{name}: padding", 0)
    dilation = pair(dilation, f"{name}: dilation", 1)
    if any(2 * p > d * (k - 1) + 1 for p, k, d in zip(padding, kernel, dilation)):
        raise RuntimeError(
            f"{name}: pad should be at most half of effective kernel size, but got pad={padding}, "
            f"kernel_size={kernel} and dilation={dilation}"
        )
    size = input.shape[-2:]
    out_size = tuple(_pooled_size(*args, ceil_mode) for args in zip(size, kernel, stride, padding, dilation))
    if min(out_size) < 1:
        raise RuntimeError(
            f"{name}: given input size {size}, kernel_size {kernel}, stride {stride}, padding {padding} and "
            f"dilation {dilation}, the calculated output size is {out_size}: Output size is too small"
        )
    return kernel, stride, padding, dilation, out_size


def _padded(data, padding, kernel, stride, dilation, out_size, value):
    """``data`` padded on the last two axes so that every window fits, with a mask of the real entries.

    The top and left get ``padding``; the bottom and right get what the last window needs (less than
    ``padding`` if it ends early, more in ``ceil_mode``).
    """
    xp = backend.xp(data)
    widths = []
    for n, p, k, s, d, out in zip(data.shape[-2:], padding, kernel, stride, dilation, out_size):
        widths.append((p, max((out - 1) * s + d * (k - 1) + 1 - p - n, 0)))
    if any(w for pair in widths for w in pair):
        padded = xp.pad(data, ((0, 0),) * (data.ndim - 2) + tuple(widths), constant_values=value)
    else:
        padded = data
    inside = xp.zeros(padded.shape[-2:], dtype=bool)
    (top, _), (left, _) = widths
    inside[top : top + data.shape[-2], left : left + data.shape[-1]] = True
    return padded, inside, (top, left)


def _window_slices(kernel, stride, dilation, out_size):
    """For each offset (i, j) inside the window, row by row, the slice picking that entry of every window."""
    (kh, kw), (sh, sw), (dh, dw), (h_out, w_out) = kernel, stride, dilation, out_size
    for i in range(kh):
        for j in range(kw):
            yield (Ellipsis, slice(i * dh, i * dh + sh * (h_out - 1) + 1, sh),
                   slice(j * dw, j * dw + sw * (w_out - 1) + 1, sw))


def _crop(grad, shape, corner):
    top, left = corner
    return grad[..., top : top + shape[-2], left : left + shape[-1]]


def _winners(padded, inside, out, offsets):
    """For each window, the offset its gradient goes to, as PyTorch picks it: the first maximum in
    row-major order, or the last NaN if the window holds one. Entries outside ``inside`` never win."""
    xp = backend.xp(out)
    winner = xp.full(out.shape, -1)
    has_nan = bool(xp.isnan(out).any())
    for k in reversed(range(len(offsets))):  # backwards, so the first maximum is written last
        candidate = padded[offsets[k]]
        hit = candidate == out
        if has_nan:
            hit |= xp.isnan(candidate) & (winner < 0)  # the last NaN is the first one met backwards
        if inside is not None:
            hit &= inside[offsets[k]]
        winner = xp.where(hit, k, winner)
    return winner


def _tiles(kernel, stride, padding, dilation, size, out_size):
    """Whether the windows tile the input: side by side, no gaps, no padding, none partial (as in ``MaxPool2d(2)``)."""
    inside = all(o * k <= n for o, k, n in zip(out_size, kernel, size))  # ceil_mode may add a partial window
    return tuple(stride) == tuple(kernel) and tuple(padding) == (0, 0) and tuple(dilation) == (1, 1) and inside


def _tiled_max_grad(data, out, g, kernel):
    """Max pooling's input gradient when the windows tile the input, on a reshaped view of it.

    Viewed as (..., H_out, kh, W_out, kw), entry (i, j) of every window is one strided slice; the
    gradient goes to the first maximum in row-major order, as PyTorch's does (the caller handles NaN,
    where PyTorch picks the last NaN). Rows and columns past the last whole window get no gradient.
    """
    xp = backend.xp(data)
    (kh, kw), lead, (h_out, w_out) = kernel, data.shape[:-2], out.shape[-2:]
    tiles = data[..., : h_out * kh, : w_out * kw].reshape(lead + (h_out, kh, w_out, kw))
    grad = xp.zeros(data.shape, dtype=g.dtype)
    grad_tiles = grad[..., : h_out * kh, : w_out * kw].reshape(lead + (h_out, kh, w_out, kw))  # a view
    taken = xp.zeros(out.shape, dtype=bool)  # windows whose maximum already got the gradient
    for i in range(kh):
        for j in range(kw):
            hit = tiles[..., i, :, j] == out
            hit &= ~taken
            xp.multiply(hit, g, out=grad_tiles[..., i, :, j])
            taken |= hit
    return grad


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The largest value in each window (stride defaults to kernel_size, so windows don't overlap).

    As in PyTorch, a NaN in a window makes its output NaN, and the gradient flows to one entry per
    window: the first maximum if several tie, the last NaN if there is one; padding never wins.
    ``ceil_mode`` keeps a last, partial window (see ``_pooled_size``).

    Taught in "Convolutional networks" (book/part3/cnn.md).
    """
    kernel, stride, padding, dilation, out_size = _pool_arguments(
        input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    xp = backend.xp(input.data)
    padded, inside, corner = _padded(input.data, padding, kernel, stride, dilation, out_size, -float("inf"))
    offsets = list(_window_slices(kernel, stride, dilation, out_size))  # the kh*kw entries of every window
    out = padded[offsets[0]].copy()
    for offset in offsets[1:]:
        out = xp.maximum(out, padded[offset])  # NaN propagates

    def backward(g):
        if _tiles(kernel, stride, padding, dilation, input.shape[-2:], out_size) and not xp.isnan(out).any():
            return (_tiled_max_grad(input.data, out, g, kernel),)  # the common case, without loops
        winner = _winners(padded, None if padded.shape == input.shape else inside, out, offsets)
        grad = xp.zeros(padded.shape, dtype=g.dtype)
        for k, offset in enumerate(offsets):
            grad[offset] += (winner == k) * g  # += : overlapping windows add up
        return (_crop(grad, input.shape, corner),)

    return Tensor._from_op(out, (input,), backward)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    """The mean of each window; zero padding counts towards the mean, as PyTorch's default does.

    Taught in "Convolutional networks" (book/part3/cnn.md).
    """
    kernel, stride, padding, dilation, out_size = _pool_arguments(
        input, kernel_size, stride, padding, 1, False, "avg_pool2d")
    xp = backend.xp(input.data)
    padded, _, corner = _padded(input.data, padding, kernel, stride, dilation, out_size, 0)
    offsets = list(_window_slices(kernel, stride, dilation, out_size))
    size = kernel[0] * kernel[1]
    wide = backend.float32 if input.dtype == "float16" else input.dtype  # a float16 sum could overflow
    out = padded[offsets[0]].astype(wide)
    for offset in offsets[1:]:
        out += padded[offset]
    out = (out / size).astype(input.dtype, copy=False)

    def backward(g):
        grad = xp.zeros(padded.shape, dtype=g.dtype)
        share = (g.astype(wide, copy=False) / size).astype(g.dtype, copy=False)  # an equal share per entry
        for offset in offsets:
            grad[offset] += share
        return (_crop(grad, input.shape, corner),)

    return Tensor._from_op(out, (input,), backward)
