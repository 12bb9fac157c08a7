"""Computer vision helpers, named as in torchvision: box areas, IoU, non-maximum suppression
(``torchvision.ops``), and a batch of images laid out as one picture (``torchvision.utils.make_grid``).

Taught in "Detection and segmentation" (``book/part3/detection.md``).
"""

from minidl.vision.detection import box_area, box_iou, nms
from minidl.vision.grid import make_grid
