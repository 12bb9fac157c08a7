"""Convolution, transposed convolution and pooling: finite differences, PyTorch parity, clear errors."""

import numpy as np
import pytest

import minidl
import minidl.nn as nn
import minidl.nn.functional as F

from conftest import leaf

# (input shape (N, C, H, W), out_channels, kernel_size, stride, padding)
CONV_CASES = [
    ((2, 3, 7, 6), 4, 3, 1, 0),
    ((1, 2, 8, 8), 3, 3, 2, 1),
    ((2, 1, 9, 7), 2, (3, 2), (2, 1), (1, 0)),
    ((1, 3, 5, 5), 2, 5, 1, 2),
    ((3, 2, 6, 6), 1, 1, 1, 0),
]
# (input shape, out_channels, kernel_size, stride, padding, output_padding)
TRANSPOSE_CASES = [
    ((2, 3, 4, 5), 2, 2, 2, 0, 0),
    ((1, 2, 3, 3), 3, 3, 1, 1, 0),
    ((2, 2, 4, 3), 2, 3, 2, 1, 1),
    ((1, 3, 3, 4), 2, (3, 2), (2, 1), (0, 1), (1, 0)),
]
# (input shape, kernel_size, stride, padding)
POOL_CASES = [
    ((2, 3, 6, 6), 2, None, 0),
    ((1, 2, 7, 5), 3, 2, 1),
    ((2, 1, 5, 8), (2, 3), (1, 2), 0),
    ((1, 2, 9, 9), 3, 3, 1),
]


def _weight_shape(in_channels, out_channels, kernel_size, transposed=False):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return (in_channels, out_channels, kh, kw) if transposed else (out_channels, in_channels, kh, kw)


def _torch_tensors(torch, *arrays):
    return [torch.tensor(a, requires_grad=True) for a in arrays]


# ---- finite differences (float64) --------------------------------------------------------------
@pytest.mark.parametrize("shape, out_channels, kernel_size, stride, padding", CONV_CASES)
def test_conv2d_gradients_match_finite_differences(rng, shape, out_channels, kernel_size, stride, padding):
    x = leaf(rng.normal(size=shape))
    weight = leaf(rng.normal(size=_weight_shape(shape[1], out_channels, kernel_size)))
    bias = leaf(rng.normal(size=(out_channels,)))
    assert minidl.gradcheck(lambda a, w, b: F.conv2d(a, w, b, stride, padding), [x, weight, bias])


@pytest.mark.parametrize("shape, out_channels, kernel_size, stride, padding, output_padding", TRANSPOSE_CASES)
def test_conv_transpose2d_gradients_match_finite_differences(
    rng, shape, out_channels, kernel_size, stride, padding, output_padding
):
    x = leaf(rng.normal(size=shape))
    weight = leaf(rng.normal(size=_weight_shape(shape[1], out_channels, kernel_size, transposed=True)))
    bias = leaf(rng.normal(size=(out_channels,)))
    assert minidl.gradcheck(
        lambda a, w, b: F.conv_transpose2d(a, w, b, stride, padding, output_padding), [x, weight, bias]
    )


@pytest.mark.parametrize("shape, kernel_size, stride, padding", POOL_CASES)
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pooling_gradients_match_finite_differences(rng, pool, shape, kernel_size, stride, padding):
    # a permutation keeps entries apart, so a nudge of eps never changes which entry is a window's max
    x = leaf(rng.permutation(np.prod(shape)).reshape(shape) / 10.0)
    assert minidl.gradcheck(lambda a: getattr(F, pool)(a, kernel_size, stride, padding), [x])


def test_naive_convolution_gradients_match_finite_differences(rng):
    x = leaf(rng.normal(size=(1, 2, 5, 4)))
    weight = leaf(rng.normal(size=(2, 2, 3, 2)))
    bias = leaf(rng.normal(size=(2,)))
    assert minidl.gradcheck(lambda a, w, b: F.conv2d_naive(a, w, b, 2, 1), [x, weight, bias])


# ---- the naive loop and the fast im2col version compute the same sum -----------------------
@pytest.mark.parametrize("shape, out_channels, kernel_size, stride, padding", CONV_CASES)
def test_naive_and_fast_convolutions_agree(rng, shape, out_channels, kernel_size, stride, padding):
    x = leaf(rng.normal(size=shape))
    weight = leaf(rng.normal(size=_weight_shape(shape[1], out_channels, kernel_size)))
    bias = leaf(rng.normal(size=(out_channels,)))
    fast = F.conv2d(x, weight, bias, stride, padding)
    naive = F.conv2d_naive(x, weight, bias, stride, padding)
    np.testing.assert_allclose(minidl.to_numpy(fast), minidl.to_numpy(naive), rtol=1e-12, atol=1e-12)


# ---- PyTorch parity (float32) ----------------------------------------------------------------
def _assert_close(ours, theirs, name):
    np.testing.assert_allclose(minidl.to_numpy(ours), theirs.detach().cpu().numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def _check_layer_against_pytorch(ours, theirs, shape, rng, torch):
    """Same weights, same input, same upstream gradient: outputs and every gradient must agree."""
    theirs.load_state_dict({k: torch.tensor(v.cpu().numpy()) for k, v in ours.state_dict().items()})
    x = rng.normal(size=shape).astype(np.float32)
    x_ours, (x_theirs,) = minidl.tensor(x, requires_grad=True), _torch_tensors(torch, x)
    y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
    assert y_ours.shape == tuple(y_theirs.shape)
    upstream = rng.normal(size=y_theirs.shape).astype(np.float32)
    (y_ours * minidl.tensor(upstream)).sum().backward()
    (y_theirs * torch.tensor(upstream)).sum().backward()
    _assert_close(y_ours, y_theirs, "output")
    _assert_close(x_ours.grad, x_theirs.grad, "input gradient")
    _assert_close(ours.weight.grad, theirs.weight.grad, "weight gradient")
    _assert_close(ours.bias.grad, theirs.bias.grad, "bias gradient")


@pytest.mark.parametrize("shape, out_channels, kernel_size, stride, padding", CONV_CASES)
def test_conv2d_layer_matches_pytorch(rng, torch, shape, out_channels, kernel_size, stride, padding):
    ours = nn.Conv2d(shape[1], out_channels, kernel_size, stride, padding)
    theirs = torch.nn.Conv2d(shape[1], out_channels, kernel_size, stride, padding)
    _check_layer_against_pytorch(ours, theirs, shape, rng, torch)


@pytest.mark.parametrize("shape, out_channels, kernel_size, stride, padding, output_padding", TRANSPOSE_CASES)
def test_conv_transpose2d_layer_matches_pytorch(
    rng, torch, shape, out_channels, kernel_size, stride, padding, output_padding
):
    ours = nn.ConvTranspose2d(shape[1], out_channels, kernel_size, stride, padding, output_padding)
    theirs = torch.nn.ConvTranspose2d(shape[1], out_channels, kernel_size, stride, padding, output_padding)
    _check_layer_against_pytorch(ours, theirs, shape, rng, torch)


@pytest.mark.parametrize("shape, kernel_size, stride, padding", POOL_CASES)
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pooling_matches_pytorch(rng, torch, pool, shape, kernel_size, stride, padding):
    x = rng.normal(size=shape).astype(np.float32)
    x[..., ::2, :] = np.maximum(x[..., ::2, :], 0)  # ReLU-like zeros make ties, broken as PyTorch does
    x_ours, (x_theirs,) = minidl.tensor(x, requires_grad=True), _torch_tensors(torch, x)
    y_ours = getattr(F, pool)(x_ours, kernel_size, stride, padding)
    y_theirs = getattr(torch.nn.functional, pool)(x_theirs, kernel_size, stride, padding)
    upstream = rng.normal(size=y_theirs.shape).astype(np.float32)
    (y_ours * minidl.tensor(upstream)).sum().backward()
    (y_theirs * torch.tensor(upstream)).sum().backward()
    _assert_close(y_ours, y_theirs, "output")
    _assert_close(x_ours.grad, x_theirs.grad, "input gradient")


def test_small_cnn_training_step_matches_pytorch(rng, torch):
    def build(library):
        return library.nn.Sequential(
            library.nn.Conv2d(1, 4, 3), library.nn.ReLU(), library.nn.MaxPool2d(2),
            library.nn.Conv2d(4, 6, 3, padding=1), library.nn.ReLU(), library.nn.AvgPool2d(2),
            library.nn.Flatten(), library.nn.Linear(6 * 3 * 3, 5),
        )

    ours, theirs = build(minidl), build(torch)
    theirs.load_state_dict({k: torch.tensor(v.cpu().numpy()) for k, v in ours.state_dict().items()})
    x = rng.normal(size=(8, 1, 14, 14)).astype(np.float32)
    y = rng.integers(0, 5, 8)
    F.cross_entropy(ours(minidl.tensor(x)), minidl.tensor(y)).backward()
    torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y)).backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        _assert_close(p.grad, q.grad, name)


# ---- shapes, initialization and layer bookkeeping -------------------------------------------
def test_layers_store_weights_in_pytorchs_layout():
    assert nn.Conv2d(3, 8, (5, 3)).weight.shape == (8, 3, 5, 3)
    assert nn.ConvTranspose2d(3, 8, 2).weight.shape == (3, 8, 2, 2)
    assert [name for name, _ in nn.Conv2d(3, 8, 3, bias=False).named_parameters()] == ["weight"]


def test_conv2d_initialization_has_pytorchs_bound():
    weight = nn.Conv2d(16, 32, 3).weight.detach().cpu().numpy()
    bound = 1 / np.sqrt(16 * 3 * 3)  # kaiming_uniform with a = sqrt(5) gives 1 / sqrt(fan_in)
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.95 * bound


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: nn.Conv2d(1, 4, 3), (2, 4, 26, 26)),
        (lambda: nn.Conv2d(1, 4, 3, padding=1), (2, 4, 28, 28)),
        (lambda: nn.Conv2d(1, 4, 5, stride=2, padding=2), (2, 4, 14, 14)),
        (lambda: nn.MaxPool2d(2), (2, 1, 14, 14)),
        (lambda: nn.AvgPool2d(3, stride=2), (2, 1, 13, 13)),
        (lambda: nn.ConvTranspose2d(1, 4, 2, stride=2), (2, 4, 56, 56)),
    ],
)
def test_output_sizes_follow_the_formula(make, expected):
    assert make()(minidl.ones(2, 1, 28, 28)).shape == expected


# ---- clear errors -----------------------------------------------------------------------------
def test_conv2d_rejects_an_input_without_a_batch_dimension():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*\(1, 28, 28\)"):
        nn.Conv2d(1, 4, 3)(minidl.ones(1, 28, 28))


def test_conv2d_rejects_the_wrong_number_of_channels():
    with pytest.raises(ValueError, match=r"3 channels.*in_channels=1"):
        nn.Conv2d(1, 4, 3)(minidl.ones(2, 3, 28, 28))


def test_functional_conv2d_rejects_the_wrong_number_of_channels():
    with pytest.raises(ValueError, match=r"in_channels=2"):
        F.conv2d(minidl.ones(1, 3, 5, 5), minidl.ones(4, 2, 3, 3))


def test_conv2d_rejects_a_kernel_larger_than_the_padded_input():
    with pytest.raises(ValueError, match=r"kernel_size \(5, 5\) is larger than the padded input \(4, 4\)"):
        F.conv2d(minidl.ones(1, 1, 2, 2), minidl.ones(1, 1, 5, 5), padding=1)


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: nn.Conv2d(1, 4, 0), "kernel_size"),
        (lambda: nn.Conv2d(1, 4, 3, stride=0), "stride"),
        (lambda: nn.Conv2d(1, 4, 3, padding=-1), "padding"),
        (lambda: nn.Conv2d(1, 4, (3, 3, 3)), "kernel_size"),
        (lambda: nn.Conv2d(0, 4, 3), "in_channels"),
        (lambda: nn.ConvTranspose2d(1, 4, 3, stride=2, output_padding=2), "output_padding"),
    ],
)
def test_bad_arguments_name_the_argument(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()(minidl.ones(1, 1, 8, 8))


def test_conv2d_rejects_a_bias_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.conv2d(minidl.ones(1, 1, 5, 5), minidl.ones(4, 1, 3, 3), minidl.ones(3))
