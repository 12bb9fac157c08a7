"""Box arithmetic for object detection: areas, intersection over union, non-maximum suppression.

Boxes are rows (x1, y1, x2, y2) in pixel coordinates, with x to the right and y down, as in
torchvision: a box holds the points x1 <= x < x2, y1 <= y < y2. Taught in "Detection and
segmentation" (``book/part3/detection.md``).
"""

from minidl import backend
from minidl.tensor import Tensor, where


def box_area(boxes):
    """The area (x2 - x1)(y2 - y1) of each of N boxes given as an (N, 4) tensor.

    Taught in "Detection and segmentation" (book/part3/detection.md).
    """
    boxes = _as_boxes(boxes, "box_area", "boxes")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1, boxes2):
    """The (N, M) matrix of intersection over union between N boxes and M boxes (torchvision's).

    IoU = area(A and B) / area(A or B): 1 for identical boxes, 0 for disjoint ones. Built from
    tensor operations, so a loss such as 1 - IoU can be differentiated with respect to the boxes.

    Taught in "Detection and segmentation" (book/part3/detection.md).
    """
    boxes1 = _as_boxes(boxes1, "box_iou", "boxes1")
    boxes2 = _as_boxes(boxes2, "box_iou", "boxes2")
    area1, area2 = box_area(boxes1), box_area(boxes2)
    # Every pair at once: boxes1 runs down dimension 0, boxes2 along dimension 1.
    top_left = _maximum(boxes1[:, :2].unsqueeze(1), boxes2[:, :2].unsqueeze(0))
    bottom_right = _minimum(boxes1[:, 2:].unsqueeze(1), boxes2[:, 2:].unsqueeze(0))
    sides = (bottom_right - top_left).clip(min=0)  # a negative side means no overlap
    intersection = sides[:, :, 0] * sides[:, :, 1]
    union = area1.unsqueeze(1) + area2.unsqueeze(0) - intersection
    return intersection / union


def nms(boxes, scores, iou_threshold):
    """Non-maximum suppression: the indices of the boxes kept, highest score first (torchvision's).

    Visit the boxes from the highest score down; keep a box unless it overlaps a box already kept
    by an IoU above ``iou_threshold``. So each object ends with one box instead of a cluster.

    Taught in "Detection and segmentation" (book/part3/detection.md).
    """
    boxes = _as_boxes(boxes, "nms", "boxes")
    scores = scores if isinstance(scores, Tensor) else Tensor(scores)
    if scores.shape != boxes.shape[:1]:
        raise ValueError(
            f"nms: scores must have shape (N,) with one score per box, N = {boxes.shape[0]}; "
            f"got shape {scores.shape}"
        )
    if not 0 <= float(iou_threshold) <= 1:
        raise ValueError(f"nms: iou_threshold must lie in [0, 1], got {iou_threshold}")
    current = backend.of(scores.data)
    xp = current.xp
    order = xp.argsort(-scores.data.astype(backend.float64), kind="stable")  # ties: lower index first
    overlapping = box_iou(boxes.detach(), boxes.detach()).data > iou_threshold
    # The greedy pass is sequential, so it runs on the host, as torchvision's CPU kernel does.
    order, overlapping = current.to_host(order).tolist(), current.to_host(overlapping)
    kept, suppressed = [], set()
    for index in order:
        if index in suppressed:
            continue
        kept.append(index)
        suppressed.update(overlapping[index].nonzero()[0].tolist())
    return Tensor._from_op(current.from_host(kept, dtype=backend.int64), (), None)


def _maximum(a, b):
    return where(a >= b, a, b)


def _minimum(a, b):
    return where(a <= b, a, b)


def _as_boxes(boxes, function, argument):
    """A floating-point (N, 4) Tensor from a Tensor, a backend array, a host array or a list."""
    boxes = boxes if isinstance(boxes, Tensor) else Tensor(boxes)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"{function}: {argument} must have shape (N, 4), one box (x1, y1, x2, y2) per row; "
            f"got shape {boxes.shape}"
        )
    if boxes.dtype.kind not in "fc":
        boxes = boxes.float()
    return boxes
