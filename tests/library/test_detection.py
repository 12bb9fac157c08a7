"""Boxes, IoU and non-maximum suppression (torchvision's semantics), and the random-shapes data set."""

import numpy as np
import pytest

import minidl
from minidl.data import SHAPE_CLASSES, make_shapes
from minidl.vision import box_area, box_iou, nms


def boxes_tensor(rows, dtype=np.float32):
    return minidl.tensor(np.asarray(rows, dtype=dtype))


def random_boxes(rng, n, extent=20.0):
    corners = rng.uniform(0, 50, size=(n, 2))
    sides = rng.uniform(1, extent, size=(n, 2))
    return np.concatenate([corners, corners + sides], axis=1).astype(np.float32)


def reference_nms(boxes, scores, threshold):
    """The textbook loop: take the best remaining box, drop every box that overlaps it too much."""

    def iou(a, b):
        width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - width * height
        return width * height / union

    remaining = list(np.argsort(-scores, kind="stable"))
    kept = []
    while remaining:
        best = remaining.pop(0)
        kept.append(int(best))
        remaining = [i for i in remaining if iou(boxes[best], boxes[i]) <= threshold]
    return kept


# ---- box_area and box_iou ------------------------------------------------------------------------
def test_box_area_is_width_times_height():
    areas = box_area(boxes_tensor([[0, 0, 2, 3], [1, 1, 5, 2]])).cpu().numpy()
    np.testing.assert_allclose(areas, [6, 4])


@pytest.mark.parametrize(
    "first, second, expected",
    [
        ([0, 0, 2, 2], [1, 1, 3, 3], 1 / 7),       # corner overlap: 1 / (4 + 4 - 1)
        ([0, 0, 4, 4], [0, 0, 2, 2], 4 / 16),      # one inside the other
        ([0, 0, 2, 2], [2, 0, 4, 2], 0.0),         # touching edges share no area
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 4, 2], [1, -1, 3, 3], 4 / 12),     # a cross: 2x2 overlap of 8 and 8
    ],
)
def test_box_iou_matches_hand_computed_overlaps(first, second, expected):
    assert box_iou(boxes_tensor([first]), boxes_tensor([second])).item() == pytest.approx(expected)


def test_box_iou_returns_the_n_by_m_matrix(rng):
    iou = box_iou(boxes_tensor(random_boxes(rng, 5)), boxes_tensor(random_boxes(rng, 3)))
    assert iou.shape == (5, 3) and iou.dtype == np.float32


def test_box_iou_of_a_box_with_itself_is_one(rng):
    boxes = boxes_tensor(random_boxes(rng, 6))
    np.testing.assert_allclose(np.diag(box_iou(boxes, boxes).cpu().numpy()), 1.0, rtol=1e-6)


def test_box_iou_of_disjoint_boxes_is_zero(rng):
    left, right = random_boxes(rng, 4), random_boxes(rng, 4)
    right[:, [0, 2]] += 100  # shift every second box far to the right
    assert (box_iou(boxes_tensor(left), boxes_tensor(right)).cpu().numpy() == 0).all()


def test_box_iou_is_symmetric_and_between_zero_and_one(rng):
    a, b = boxes_tensor(random_boxes(rng, 7)), boxes_tensor(random_boxes(rng, 9))
    forward, backward = box_iou(a, b).cpu().numpy(), box_iou(b, a).cpu().numpy()
    np.testing.assert_allclose(forward, backward.T, rtol=1e-6)
    assert (forward >= 0).all() and (forward <= 1 + 1e-6).all() and forward.max() > 0


def test_box_iou_matches_the_reference_formula(rng):
    a, b = random_boxes(rng, 6), random_boxes(rng, 4)
    expected = np.zeros((6, 4))
    for i, p in enumerate(a.astype(np.float64)):
        for j, q in enumerate(b.astype(np.float64)):
            width = max(0, min(p[2], q[2]) - max(p[0], q[0]))
            height = max(0, min(p[3], q[3]) - max(p[1], q[1]))
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - width * height
            expected[i, j] = width * height / union
    np.testing.assert_allclose(box_iou(boxes_tensor(a), boxes_tensor(b)).cpu().numpy(), expected, rtol=1e-5, atol=1e-7)


def test_box_iou_accepts_lists_of_integers_and_backend_arrays():
    as_list = box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]])
    as_array = box_iou(boxes_tensor([[0, 0, 2, 2]]).data, boxes_tensor([[1, 1, 3, 3]]).data)
    assert as_list.dtype.kind == "f" and as_list.item() == pytest.approx(1 / 7)
    assert as_array.item() == pytest.approx(1 / 7)


def test_box_iou_is_differentiable(rng):
    # Overlapping boxes with distinct coordinates, so no max/min sits on a tie.
    a = rng.uniform(0, 4, size=(3, 2))
    a = np.concatenate([a, a + rng.uniform(5, 8, size=(3, 2))], axis=1)
    b = a[::-1] + rng.uniform(-1, 1, size=(3, 4))
    a, b = minidl.tensor(a, requires_grad=True), minidl.tensor(b, requires_grad=True)
    assert minidl.gradcheck(box_iou, [a, b])


@pytest.mark.parametrize("bad", [[0, 0, 1, 1], [[0, 0, 1]], [[[0, 0, 1, 1]]]])
def test_box_iou_rejects_boxes_that_are_not_n_by_4(bad):
    with pytest.raises(ValueError, match=r"box_iou: boxes2 must have shape \(N, 4\)"):
        box_iou([[0, 0, 1, 1]], bad)


# ---- nms -------------------------------------------------------------------------------------
def test_nms_keeps_the_best_of_overlapping_boxes_and_every_lonely_one():
    boxes = boxes_tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 9, 10]])
    scores = minidl.tensor([0.8, 0.9, 0.3, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]


def test_nms_threshold_decides_what_counts_as_a_duplicate():
    boxes = boxes_tensor([[0, 0, 10, 10], [5, 0, 15, 10]])  # IoU = 1/3
    scores = minidl.tensor([0.9, 0.8])
    assert nms(boxes, scores, 0.3).tolist() == [0]
    assert nms(boxes, scores, 0.4).tolist() == [0, 1]


def test_nms_returns_int64_indices_sorted_by_decreasing_score(rng):
    boxes, scores = random_boxes(rng, 30), rng.uniform(size=30).astype(np.float32)
    kept = nms(boxes_tensor(boxes), minidl.tensor(scores), 0.3)
    assert kept.dtype == np.int64
    assert (np.diff(scores[kept.cpu().numpy()]) <= 0).all()


@pytest.mark.parametrize("threshold", [0.0, 0.2, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nms_matches_a_reference_loop(threshold, seed):
    rng = np.random.default_rng(seed)
    boxes, scores = random_boxes(rng, 40), rng.uniform(size=40).astype(np.float32)
    kept = nms(boxes_tensor(boxes), minidl.tensor(scores), threshold)
    assert kept.tolist() == reference_nms(boxes.astype(np.float64), scores, threshold)


def test_nms_of_no_boxes_keeps_nothing():
    kept = nms(minidl.zeros(0, 4), minidl.zeros(0), 0.5)
    assert kept.shape == (0,) and kept.dtype == np.int64


def test_nms_rejects_one_score_too_many():
    with pytest.raises(ValueError, match=r"nms: scores must have shape \(N,\).*N = 2"):
        nms(boxes_tensor([[0, 0, 1, 1], [2, 2, 3, 3]]), minidl.tensor([0.5, 0.4, 0.1]), 0.5)


def test_nms_rejects_badly_shaped_boxes():
    with pytest.raises(ValueError, match=r"nms: boxes must have shape \(N, 4\).*\(2, 5\)"):
        nms(minidl.zeros(2, 5), minidl.zeros(2), 0.5)


def test_nms_rejects_a_threshold_outside_zero_one():
    with pytest.raises(ValueError, match=r"iou_threshold must lie in \[0, 1\]"):
        nms(boxes_tensor([[0, 0, 1, 1]]), minidl.tensor([0.5]), 1.5)


# ---- make_shapes -------------------------------------------------------------------------------
def test_make_shapes_has_the_documented_shapes_and_types():
    shapes = make_shapes(6, size=32, max_shapes=3, seed=0)
    assert shapes.images.shape == (6, 3, 32, 32) and shapes.images.dtype == np.float32
    assert shapes.masks.shape == (6, 32, 32) and shapes.masks.dtype == np.int64
    assert 0 <= shapes.images.min() and shapes.images.max() <= 1
    for boxes, labels in zip(shapes.boxes, shapes.labels):
        assert boxes.shape == (len(labels), 4) and boxes.dtype == np.float32
        assert 1 <= len(labels) <= 3 and set(labels.tolist()) <= {1, 2, 3}
    assert SHAPE_CLASSES[0] == "background" and len(SHAPE_CLASSES) == 4


def test_make_shapes_is_reproducible_with_a_seed():
    first, second, other = make_shapes(5, seed=3), make_shapes(5, seed=3), make_shapes(5, seed=4)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.masks, second.masks)
    assert all((a == b).all() for a, b in zip(first.boxes, second.boxes))
    assert not np.array_equal(first.images, other.images)


@pytest.mark.parametrize("size", [32, 48])
def test_each_box_encloses_its_shape_tightly(size):
    shapes = make_shapes(40, size=size, max_shapes=3, seed=1)
    for mask, boxes, labels in zip(shapes.masks, shapes.boxes, shapes.labels):
        covered = np.zeros_like(mask, dtype=bool)
        for (x1, y1, x2, y2), label in zip(boxes.astype(int), labels):
            inside = mask[y1:y2, x1:x2] == label
            # the shape touches all four sides of its box
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            covered[y1:y2, x1:x2] |= inside
        assert (covered == (mask > 0)).all()  # no labelled pixel lies outside the boxes


def test_make_shapes_boxes_do_not_overlap():
    shapes = make_shapes(30, max_shapes=4, seed=2)
    for boxes in shapes.boxes:
        iou = box_iou(boxes_tensor(boxes), boxes_tensor(boxes)).cpu().numpy()
        assert (iou[~np.eye(len(boxes), dtype=bool)] == 0).all()


def test_make_shapes_rejects_impossible_sizes():
    with pytest.raises(ValueError, match="min_extent <= max_extent"):
        make_shapes(2, size=16, min_extent=10, max_extent=20)
