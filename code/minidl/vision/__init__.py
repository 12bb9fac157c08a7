"""Computer vision helpers, named as in ``torchvision.ops``: box areas, IoU, non-maximum suppression.

Taught in "Detection and segmentation" (``book/part3/detection.md``).
"""

from minidl.vision.detection import box_area, box_iou, nms
