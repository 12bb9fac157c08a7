"""Random shapes on a dark background, with boxes, class labels and per-pixel masks.

A stand-in for a detection and segmentation data set that is generated on the spot, so nothing is
downloaded. Each shape has a random colour, so only its form tells its class. Taught in "Detection and
segmentation" (``book/part3/detection.md``).
"""

from collections import namedtuple

import numpy

SHAPE_CLASSES = ("background", "rectangle", "circle", "triangle")

Shapes = namedtuple("Shapes", ["images", "boxes", "labels", "masks"])
Shapes.__doc__ = """The shapes data set: ``images`` (N, 3, H, W), per-image ``boxes`` and ``labels``, and class ``masks``.

Taught in "Detection and segmentation" (book/part3/detection.md).
"""


def make_shapes(n_images, size=32, min_shapes=1, max_shapes=3, min_extent=8, max_extent=None,
                noise=0.05, seed=0):
    """``n_images`` RGB images of rectangles, circles and triangles that do not overlap.

    Returns ``Shapes(images, boxes, labels, masks)``: images (N, 3, size, size) float32 in [0, 1];
    for image i, ``boxes[i]`` (k, 4) float32 rows (x1, y1, x2, y2) that enclose each shape tightly
    (pixels x1 <= x < x2, y1 <= y < y2) and ``labels[i]`` (k,) int64 classes, 1 = rectangle,
    2 = circle, 3 = triangle (``SHAPE_CLASSES``); masks (N, size, size) int64, 0 for background.

    Taught in "Detection and segmentation" (book/part3/detection.md).
    """
    max_extent = size // 2 if max_extent is None else max_extent
    if not 1 <= min_shapes <= max_shapes:
        raise ValueError(f"make_shapes: need 1 <= min_shapes <= max_shapes, got {min_shapes} and {max_shapes}")
    if not 3 <= min_extent <= max_extent <= size:
        raise ValueError(
            f"make_shapes: need 3 <= min_extent <= max_extent <= size ({size}), "
            f"got min_extent={min_extent}, max_extent={max_extent}"
        )
    rng = numpy.random.default_rng(seed)
    images = numpy.zeros((n_images, 3, size, size), numpy.float32)
    masks = numpy.zeros((n_images, size, size), numpy.int64)
    all_boxes, all_labels = [], []
    for i in range(n_images):
        placed, boxes, labels = [], [], []
        for _ in range(rng.integers(min_shapes, max_shapes + 1)):
            for _attempt in range(50):  # look for a free spot; give up on this shape if there is none
                label = int(rng.integers(1, 4))
                height, width = (int(n) for n in rng.integers(min_extent, max_extent + 1, size=2))
                if label == 2:
                    width = height  # circles are round
                top, left = int(rng.integers(0, size - height + 1)), int(rng.integers(0, size - width + 1))
                flip = rng.random() < 0.5
                spot = (left, top, left + width, top + height)
                if all(_apart(spot, other) for other in placed):
                    break
            else:
                continue
            shape = _draw(label, height, width, flip)
            ys, xs = numpy.nonzero(shape)
            colour = rng.uniform(0.35, 1.0, size=3).astype(numpy.float32)
            region = (slice(top, top + height), slice(left, left + width))
            images[i][:, region[0], region[1]][:, shape] = colour[:, None]
            masks[i][region][shape] = label
            placed.append(spot)
            boxes.append([left + xs.min(), top + ys.min(), left + xs.max() + 1, top + ys.max() + 1])
            labels.append(label)
        all_boxes.append(numpy.array(boxes, numpy.float32).reshape(-1, 4))
        all_labels.append(numpy.array(labels, numpy.int64))
    images += rng.normal(0, noise, images.shape).astype(numpy.float32)
    return Shapes(numpy.clip(images, 0, 1), all_boxes, all_labels, masks)


def _draw(label, height, width, flip):
    """The pixels of one shape, as a boolean (height, width) array that it fills edge to edge."""
    y, x = numpy.mgrid[0:height, 0:width]
    if label == 1:
        return numpy.ones((height, width), bool)
    if label == 2:
        centre = (height - 1) / 2
        return (y - centre) ** 2 + (x - centre) ** 2 <= (height / 2) ** 2
    # A triangle with its apex at the top (or the bottom when flipped), its base across the box.
    depth = (height - 1 - y if flip else y) / max(height - 1, 1)
    half_width = (width - 1) / 2
    return numpy.abs(x - half_width) <= half_width * depth + 0.5


def _apart(box, other, gap=1):
    """Whether two boxes are separated by at least ``gap`` pixels."""
    return (box[0] >= other[2] + gap or other[0] >= box[2] + gap
            or box[1] >= other[3] + gap or other[1] >= box[3] + gap)
