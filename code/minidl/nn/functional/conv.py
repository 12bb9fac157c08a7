"""Convolution and transposed convolution as functions: im2col and one matrix product, and a naive loop."""

from minidl import backend
from minidl.tensor import Tensor
from minidl.nn.functional.checks import check_image_input, pair
from minidl.tensor import stack


def output_size(size, kernel, stride, padding, name):
    """floor((size + 2 padding - kernel) / stride) + 1, per spatial dimension, after checking it is >= 1.

    Taught in "Convolution" (book/part3/convolution.md).
    """
    padded = tuple(s + 2 * p for s, p in zip(size, padding))
    if any(k > p for k, p in zip(kernel, padded)):
        raise ValueError(
            f"{name}: kernel_size {kernel} is larger than the padded input {padded} "
            f"(input {size} plus padding {padding} on each side)"
        )
    return tuple((p - k) // s + 1 for p, k, s in zip(padded, kernel, stride))


# ---- im2col and col2im ---------------------------------------------------------------------------
def pad2d(data, padding, value=0.0):
    """Pad the last two axes of an array by ``padding = (ph, pw)`` on each side with ``value``.

    Taught in "Convolution" (book/part3/convolution.md).
    """
    ph, pw = padding
    if ph == 0 and pw == 0:
        return data
    height, width = data.shape[-2:]
    out = backend.xp(data).full(data.shape[:-2] + (height + 2 * ph, width + 2 * pw), value, dtype=data.dtype)
    out[..., ph : ph + height, pw : pw + width] = data  # one fill and one copy: cheaper than a general pad
    return out


def windows(data, kernel, stride):
    """Every kernel-sized patch of ``data`` (N, C, H, W), as a view of shape (N, C, H_out, W_out, kh, kw).

    Taught in "Convolution" (book/part3/convolution.md).
    """
    view = backend.of(data).sliding_window_view(data, kernel, axis=(2, 3))
    return view[:, :, :: stride[0], :: stride[1]]


def im2col(data, kernel, stride):
    """The patches as the columns of a matrix: (N, C*kh*kw, H_out*W_out), one column per output position.

    Taught in "Convolution" (book/part3/convolution.md).
    """
    patches = windows(data, kernel, stride)
    n, c, h_out, w_out, kh, kw = patches.shape
    return patches.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, h_out * w_out)


def col2im(columns, shape, stride):
    """The adjoint of ``im2col``: add each patch (N, C, kh, kw, H_out, W_out) back where it came from.

    Overlapping patches add up, which is what the gradient with respect to the input needs.

    Taught in "Convolution" (book/part3/convolution.md).
    """
    n, c, kh, kw, h_out, w_out = columns.shape
    sh, sw = stride
    out = backend.xp(columns).zeros(shape, dtype=columns.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i : i + sh * h_out : sh, j : j + sw * w_out : sw] += columns[:, :, i, j]
    return out


def _unit_stride_input_grad(kernels, g, shape, kernel, w_out):
    """``col2im(kernels.T @ g)`` for stride 1, with long contiguous additions instead of short rows.

    Each output row of ``g`` (N, C_out, H_out*W_out) is widened with zeros to the padded input's width
    W, so the patch gradient of kernel entry (i, j) lands on the flattened input at offset i*W + j as
    one contiguous run; the zero columns add nothing where the runs wrap into the next row.
    """
    xp = backend.xp(g)
    n, c_out = g.shape[:2]
    c_in, (height, width), (kh, kw) = shape[1], shape[2:], kernel
    h_out = g.shape[2] // w_out
    wide = xp.zeros((n, c_out, h_out, width), dtype=g.dtype)
    wide[..., :w_out] = g.reshape(n, c_out, h_out, w_out)
    patches = (kernels.T @ wide.reshape(n, c_out, h_out * width)).reshape(n, c_in, kh, kw, h_out * width)
    out = xp.zeros((n, c_in, (height + 1) * width), dtype=g.dtype)  # a spare row for the last runs' tails
    for i in range(kh):
        for j in range(kw):
            start = i * width + j
            out[:, :, start : start + h_out * width] += patches[:, :, i, j]
    return out[:, :, : height * width].reshape(shape)


def _crop(data, padding):
    ph, pw = padding
    return data[:, :, ph : data.shape[2] - ph, pw : data.shape[3] - pw]


# ---- convolution -------------------------------------------------------------------------------
def _check_conv(input, weight, bias, name, in_channels_axis, out_channels_axis):
    check_image_input(input, name)
    if weight.ndim != 4:
        raise ValueError(f"{name}: weight must have 4 dimensions, got shape {weight.shape}")
    if input.shape[1] != weight.shape[in_channels_axis]:
        raise ValueError(
            f"{name}: input has {input.shape[1]} channels (shape {input.shape}) but the weight of shape "
            f"{weight.shape} expects in_channels={weight.shape[in_channels_axis]}"
        )
    if bias is not None and bias.shape != (weight.shape[out_channels_axis],):
        raise ValueError(
            f"{name}: bias must have shape ({weight.shape[out_channels_axis]},) (one per output channel), "
            f"got {bias.shape}"
        )


def conv2d(input, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation, as in every deep learning library) by im2col and one matmul.

    ``input`` (N, C_in, H, W), ``weight`` (C_out, C_in, kh, kw), ``bias`` (C_out,); returns
    (N, C_out, H_out, W_out) with H_out = floor((H + 2 padding - kh) / stride) + 1.

    Taught in "Convolution" (book/part3/convolution.md).
    """
    _check_conv(input, weight, bias, "conv2d", 1, 0)
    stride, padding = pair(stride, "conv2d: stride", 1), pair(padding, "conv2d: padding", 0)
    kernel = weight.shape[2:]
    n, c_out = input.shape[0], weight.shape[0]
    h_out, w_out = output_size(input.shape[2:], kernel, stride, padding, "conv2d")
    padded = pad2d(input.data, padding)
    columns = im2col(padded, kernel, stride)  # (N, C_in*kh*kw, H_out*W_out)
    kernels = weight.data.reshape(c_out, -1)  # one row per output channel
    out = (kernels @ columns).reshape(n, c_out, h_out, w_out)
    if bias is not None:
        out += bias.data.reshape(c_out, 1, 1)

    def backward(g):
        g = g.reshape(n, c_out, h_out * w_out)
        grad_input = grad_weight = grad_bias = None
        if input.requires_grad:
            if stride == (1, 1):
                grad_input = _crop(_unit_stride_input_grad(kernels, g, padded.shape, kernel, w_out), padding)
            else:
                patches = (kernels.T @ g).reshape((n, input.shape[1]) + kernel + (h_out, w_out))
                grad_input = _crop(col2im(patches, padded.shape, stride), padding)
        if weight.requires_grad:
            grad_weight = (g @ columns.transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape)  # sum over images
        if bias is not None and bias.requires_grad:
            grad_bias = g.sum(axis=(0, 2))
        return grad_input, grad_weight, grad_bias

    parents = (input, weight) if bias is None else (input, weight, bias)
    return Tensor._from_op(out, parents, backward)


def conv2d_naive(input, weight, bias=None, stride=1, padding=0):
    """The convolution sum written out: at each output position, multiply patch and kernel element-wise, then sum.

    Same arguments and result as ``conv2d``, built from ordinary tensor operations (so autodiff gives
    its gradients), and far slower: it is here to be read and to check ``conv2d`` against.

    Taught in "Convolution" (book/part3/convolution.md).
    """
    _check_conv(input, weight, bias, "conv2d_naive", 1, 0)
    (sh, sw), padding = pair(stride, "conv2d_naive: stride", 1), pair(padding, "conv2d_naive: padding", 0)
    kh, kw = weight.shape[2:]
    h_out, w_out = output_size(input.shape[2:], (kh, kw), (sh, sw), padding, "conv2d_naive")
    x = _pad(input, padding)
    kernels = weight.unsqueeze(0)  # (1, C_out, C_in, kh, kw), broadcast over the batch
    rows = []
    for i in range(h_out):
        row = []
        for j in range(w_out):
            patch = x[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw].unsqueeze(1)  # (N, 1, C_in, kh, kw)
            row.append((patch * kernels).sum(dim=(2, 3, 4)))  # element-wise product, then the sum
        rows.append(stack(row, dim=-1))
    out = stack(rows, dim=-2)  # (N, C_out, H_out, W_out)
    return out if bias is None else out + bias.reshape(-1, 1, 1)


def _pad(input, padding, value=0.0):
    """Pad a tensor's last two dimensions by ``padding`` (int or (ph, pw)) on each side; differentiable."""
    padding = pair(padding, "padding", 0)
    if padding == (0, 0):
        return input
    return Tensor._from_op(pad2d(input.data, padding, value), (input,), lambda g: (_crop(g, padding),))


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Transposed convolution: each input pixel stamps a scaled copy of the kernel onto a larger output.

    The adjoint of ``conv2d`` (its forward pass is conv2d's input gradient), used to upsample.
    ``weight`` has shape (C_in, C_out, kh, kw) as in PyTorch; H_out = (H - 1) stride - 2 padding + kh
    + output_padding.

    Taught in "Convolution" (book/part3/convolution.md) and "Detection and segmentation" (book/part3/detection.md).
    """
    _check_conv(input, weight, bias, "conv_transpose2d", 0, 1)
    stride = pair(stride, "conv_transpose2d: stride", 1)
    padding = pair(padding, "conv_transpose2d: padding", 0)
    output_padding = pair(output_padding, "conv_transpose2d: output_padding", 0)
    if any(o >= s for o, s in zip(output_padding, stride)):
        raise ValueError(
            f"conv_transpose2d: output_padding {output_padding} must be smaller than stride {stride}"
        )
    n, c_in, h, w = input.shape
    c_out, kernel = weight.shape[1], weight.shape[2:]
    full = tuple((size - 1) * s + k + o for size, s, k, o in zip((h, w), stride, kernel, output_padding))
    if any(f - 2 * p < 1 for f, p in zip(full, padding)):
        raise ValueError(
            f"conv_transpose2d: padding {padding} removes the whole output (size before cropping {full})"
        )
    kernels = weight.data.reshape(c_in, -1)  # (C_in, C_out*kh*kw)
    pixels = input.data.reshape(n, c_in, h * w)
    stamps = (kernels.T @ pixels).reshape((n, c_out) + kernel + (h, w))
    out = _crop(col2im(stamps, (n, c_out) + full, stride), padding)
    if bias is not None:
        out = out + bias.data.reshape(c_out, 1, 1)
    else:
        out = out.copy()  # own the memory rather than keep the uncropped buffer alive

    def backward(g):
        grad_full = pad2d(g, padding)  # back to the uncropped size
        columns = im2col(grad_full, kernel, stride)  # (N, C_out*kh*kw, H*W)
        grad_input = (kernels @ columns).reshape(input.shape) if input.requires_grad else None
        grad_weight = None
        if weight.requires_grad:
            grad_weight = (pixels @ columns.transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape)
        grad_bias = g.sum(axis=(0, 2, 3)) if bias is not None and bias.requires_grad else None
        return grad_input, grad_weight, grad_bias

    parents = (input, weight) if bias is None else (input, weight, bias)
    return Tensor._from_op(out, parents, backward)
