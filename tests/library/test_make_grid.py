"""make_grid: a batch of images laid out as one image, with torchvision.utils.make_grid's semantics.

torchvision is not a requirement of the book, so the expected grids are computed by hand: a grid of
B images of H x W in rows of nrow has shape (C, rows * (H + p) + p, columns * (W + p) + p), image k
starting at row (k // columns) * (H + p) + p and column (k % columns) * (W + p) + p.
"""

import math

import numpy as np
import pytest

import minidl
from minidl.vision import make_grid


def images(batch, channels=1, height=2, width=3):
    """Images whose pixels are all different: 1, 2, 3, ... in order."""
    count = batch * channels * height * width
    return np.arange(1, count + 1, dtype=np.float32).reshape(batch, channels, height, width)


def grid_of(tensor, **kwargs):
    return minidl.to_numpy(make_grid(minidl.tensor(tensor), **kwargs))


def test_two_images_side_by_side_by_hand():
    one, two = [[1.0, 2.0]], [[3.0, 4.0]]  # two 1 x 2 images, one channel
    grid = grid_of(np.array([[one], [two]], dtype=np.float32), padding=1, pad_value=9.0)
    expected = np.array([[9, 9, 9, 9, 9, 9, 9],
                         [9, 1, 2, 9, 3, 4, 9],
                         [9, 9, 9, 9, 9, 9, 9]], dtype=np.float32)
    np.testing.assert_array_equal(grid, np.stack([expected] * 3))


def test_rows_wrap_after_nrow_images_and_the_last_row_stays_padding_by_hand():
    batch = np.array([[[[1.0]]], [[[2.0]]], [[[3.0]]]], dtype=np.float32)  # three 1 x 1 images
    grid = grid_of(batch, nrow=2, padding=1)
    expected = np.array([[0, 0, 0, 0, 0],
                         [0, 1, 0, 2, 0],
                         [0, 0, 0, 0, 0],
                         [0, 3, 0, 0, 0],
                         [0, 0, 0, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(grid[0], expected)


@pytest.mark.parametrize("batch, nrow, padding", [(5, 2, 2), (8, 8, 2), (3, 8, 0), (7, 3, 1), (10, 10, 3)])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_image_lands_at_its_place_and_the_rest_is_padding(batch, nrow, padding, channels):
    height, width = 2, 3
    data = images(batch, channels, height, width)
    grid = grid_of(data, nrow=nrow, padding=padding, pad_value=-1.0)
    columns = min(nrow, batch)
    rows = math.ceil(batch / columns)
    assert grid.shape == (3, rows * (height + padding) + padding, columns * (width + padding) + padding)
    covered = np.zeros(grid.shape[1:], dtype=bool)
    for k in range(batch):
        top, left = k // columns * (height + padding) + padding, k % columns * (width + padding) + padding
        expected = np.repeat(data[k], 3, axis=0) if channels == 1 else data[k]
        np.testing.assert_array_equal(grid[:, top:top + height, left:left + width], expected)
        covered[top:top + height, left:left + width] = True
    assert (grid[:, ~covered] == -1.0).all()


@pytest.mark.parametrize("channels, expected_channels", [(1, 3), (2, 2), (3, 3), (4, 4)])
def test_one_channel_becomes_three_others_are_kept(channels, expected_channels):
    assert grid_of(images(2, channels)).shape[0] == expected_channels


def test_the_result_keeps_dtype_and_a_nan_pad_value():
    grid = make_grid(minidl.tensor(images(2).astype(np.float64)), pad_value=float("nan"))
    assert grid.dtype == minidl.float64
    host = minidl.to_numpy(grid)
    assert np.isnan(host[:, 0, :]).all() and np.isnan(host).sum() == host.size - 3 * 2 * 2 * 3


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((2, 3), (3, 2, 3)),            # (H, W): one image, one channel repeated, no padding
        ((1, 2, 3), (3, 2, 3)),         # (1, H, W): the same
        ((4, 2, 3), (4, 2, 3)),         # (C, H, W): one image of four channels, returned as it is
        ((1, 1, 2, 3), (3, 2, 3)),      # a batch of one image: no padding, as in torchvision
    ],
)
def test_a_single_image_comes_back_unpadded(shape, expected):
    data = np.arange(1, np.prod(shape) + 1, dtype=np.float32).reshape(shape)
    grid = grid_of(data, padding=2, pad_value=-1.0)
    assert grid.shape == expected and (grid != -1.0).all()


def test_a_list_of_images_is_a_batch():
    data = images(3, 3)
    from_list = minidl.to_numpy(make_grid([minidl.tensor(image) for image in data], nrow=2))
    np.testing.assert_array_equal(from_list, grid_of(data, nrow=2))


def test_normalize_maps_the_batch_minimum_and_maximum_to_0_and_1():
    data = np.array([[[[2.0, 4.0]]], [[[6.0, 10.0]]]], dtype=np.float32)
    grid = grid_of(data, padding=0, normalize=True)
    np.testing.assert_allclose(grid[0], [[0.0, 0.25, 0.5, 1.0]])


def test_normalize_with_scale_each_uses_each_images_own_range():
    data = np.array([[[[2.0, 4.0]]], [[[6.0, 10.0]]]], dtype=np.float32)
    grid = grid_of(data, padding=0, normalize=True, scale_each=True)
    np.testing.assert_allclose(grid[0], [[0.0, 1.0, 0.0, 1.0]])


def test_normalize_with_value_range_clips_then_rescales():
    data = np.array([[[[-1.0, 0.0]]], [[[0.5, 3.0]]]], dtype=np.float32)
    grid = grid_of(data, padding=0, normalize=True, value_range=(0.0, 2.0))
    np.testing.assert_allclose(grid[0], [[0.0, 0.0, 0.25, 1.0]])


def test_normalize_leaves_the_input_alone():
    tensor = minidl.tensor(images(2))
    make_grid(tensor, normalize=True)
    np.testing.assert_array_equal(minidl.to_numpy(tensor), images(2))


@pytest.mark.parametrize(
    "call, error, argument",
    [
        (lambda t: make_grid(t.reshape(1, 1, 2, 2, 3)), ValueError, "tensor"),
        (lambda t: make_grid(t.reshape(-1)), ValueError, "tensor"),
        (lambda t: make_grid(t[:0]), ValueError, "batch size 0"),
        (lambda t: make_grid(t, nrow=0), ValueError, "nrow"),
        (lambda t: make_grid(t, nrow=-2), ValueError, "nrow"),
        (lambda t: make_grid(t, padding=-1), ValueError, "padding"),
        (lambda t: make_grid(t, normalize=True, value_range=[0, 1]), TypeError, "value_range"),
        (lambda t: make_grid(minidl.to_numpy(t)), TypeError, "tensor"),
        (lambda t: make_grid([minidl.to_numpy(t[0])]), TypeError, "tensor"),
        (lambda t: make_grid(t.to(minidl.int64), normalize=True), TypeError, "normalize"),
    ],
)
def test_bad_input_names_the_argument(call, error, argument):
    with pytest.raises(error, match=argument):
        call(minidl.tensor(images(2)))
