"""Many images as one: ``make_grid``, as ``torchvision.utils.make_grid``.

Drawing a batch of images as one picture on one matplotlib axes is several times faster than one axes
per image, and it is the field's usual way to look at a batch of samples. Taught in "Generative
adversarial networks" (``book/part4/gans.md``).
"""

import math

from minidl import backend
from minidl.tensor import Tensor


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """A batch of images laid out as one image, in rows of ``nrow``, as ``torchvision.utils.make_grid``.

    ``tensor``: a Tensor of shape (B, C, H, W), a list of B tensors of shape (C, H, W), or a single image
    (C, H, W) or (H, W); a 3-D tensor is one image, never a batch. A single channel is repeated to 3, as
    torchvision does (colour pictures for ``plt.imshow``; take channel 0 for a colour map). The result is
    a Tensor of the input's dtype and device, of shape (C', rows * (H + padding) + padding,
    columns * (W + padding) + padding) with C' = 3 for one channel else C, columns = min(nrow, B),
    rows = ceil(B / columns): ``padding`` pixels of ``pad_value`` around and between the images (a NaN
    pad value draws blank with ``imshow``). A batch of one image comes back alone, unpadded, as in
    torchvision. ``normalize=True`` clips the images to ``value_range`` = (low, high) (default: their
    minimum and maximum, each image's own with ``scale_each=True``) and maps it to [0, 1]. No gradient
    flows through the result. TypeError for an input that is not a tensor or list of tensors, for a
    ``value_range`` that is not a tuple, or for ``normalize`` on an integer tensor; ValueError for a
    tensor of another number of dimensions, an empty batch, ``nrow`` below 1 or a negative ``padding``.

    Taught in "Generative adversarial networks" (book/part4/gans.md).
    """
    if isinstance(tensor, (list, tuple)):
        if not tensor or not all(isinstance(item, Tensor) for item in tensor):
            raise TypeError("make_grid: tensor must be a Tensor or a non-empty list of Tensors")
        xp = backend.xp(*(item.data for item in tensor))
        data = xp.stack([item.data for item in tensor])
    elif isinstance(tensor, Tensor):
        data = tensor.data
    else:
        raise TypeError(f"make_grid: tensor must be a Tensor or a list of Tensors, got {type(tensor).__name__}")
    if data.ndim not in (2, 3, 4):
        raise ValueError(f"make_grid: tensor must have shape (B, C, H, W), (C, H, W) or (H, W); got {data.shape}")
    if int(nrow) < 1:
        raise ValueError(f"make_grid: nrow must be a positive number of images per row, got {nrow}")
    if int(padding) < 0:
        raise ValueError(f"make_grid: padding must be a number of pixels >= 0, got {padding}")
    if value_range is not None and not isinstance(value_range, tuple):
        raise TypeError(f"make_grid: value_range must be a tuple (low, high), got {value_range!r}")
    xp = backend.xp(data)
    if data.ndim == 2:
        data = data[None]
    if data.ndim == 3:
        data = data[None]
    if data.shape[0] == 0:
        raise ValueError("make_grid: tensor holds no images (batch size 0)")
    if data.shape[1] == 1:  # one channel becomes three, as in torchvision
        data = xp.concatenate([data, data, data], axis=1)
    if normalize:
        data = _normalized(data, value_range, scale_each, xp)
    if data.shape[0] == 1:
        return Tensor._from_op(data[0].copy(), (), None)
    count, channels, height, width = data.shape
    columns = min(int(nrow), count)
    rows = math.ceil(count / columns)
    step_y, step_x = height + padding, width + padding
    grid = xp.full((channels, rows * step_y + padding, columns * step_x + padding), pad_value, dtype=data.dtype)
    for k in range(count):
        top, left = k // columns * step_y + padding, k % columns * step_x + padding
        grid[:, top:top + height, left:left + width] = data[k]
    return Tensor._from_op(grid, (), None)


def _normalized(data, value_range, scale_each, xp):
    """Images clipped to (low, high) and mapped to [0, 1], as torchvision's ``normalize=True``."""
    if data.dtype.kind not in "fc":
        raise TypeError(f"make_grid: normalize=True needs a floating-point tensor, got dtype {data.dtype}")
    images = data if scale_each else data[None]  # one range per image, or one for the whole batch
    out = xp.empty_like(images)
    for i, image in enumerate(images):
        low, high = value_range if value_range is not None else (float(image.min()), float(image.max()))
        out[i] = (xp.clip(image, low, high) - low) / max(high - low, 1e-5)
    return out if scale_each else out[0]
