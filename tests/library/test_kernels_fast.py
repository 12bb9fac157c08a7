"""The fast kernels against the readable ones and PyTorch: fused LSTM and tiled max pooling, values and gradients."""

import numpy as np
import pytest

import minidl
import minidl.nn.functional as F
from minidl.nn.functional import pooling

from conftest import leaf


def _host(array):
    return minidl.backend.of(array).to_host(array)

# (steps, batch, hidden, with bias)
LSTM_CASES = [(1, 1, 1, True), (5, 3, 4, True), (7, 2, 6, False), (4, 5, 3, True)]
# (input shape, kernel_size): windows that tile the input, some with rows and columns left over
TILED_CASES = [((2, 3, 6, 6), 2), ((1, 2, 7, 5), 2), ((2, 1, 9, 8), 3), ((3, 6, 8), (2, 3)), ((1, 1, 4, 4), 4)]


def _lstm_reference(projections, hidden, cell_state, weight_hh, bias_hh):
    """The same sequence, one readable ``lstm_step`` at a time (autodiff gives its gradients)."""
    outputs = []
    for projection in minidl.unbind(projections):
        hidden, cell_state = F.lstm_step(projection, hidden, cell_state, weight_hh, bias_hh)
        outputs.append(hidden)
    return minidl.stack(outputs), hidden, cell_state


def _lstm_inputs(rng, steps, batch, hidden, bias, dtype):
    arrays = [rng.normal(size=(steps, batch, 4 * hidden)), rng.normal(size=(batch, hidden)),
              rng.normal(size=(batch, hidden)), rng.normal(size=(4 * hidden, hidden)) / np.sqrt(hidden)]
    if bias:
        arrays.append(rng.normal(size=4 * hidden))
    return [a.astype(dtype) for a in arrays]


def _backward_all(outputs, upstreams):
    total = None
    for output, upstream in zip(outputs, upstreams):
        term = (output * leaf(upstream, False)).sum()
        total = term if total is None else total + term
    total.backward()


@pytest.mark.parametrize("steps, batch, hidden, bias", LSTM_CASES)
def test_fused_lstm_equals_the_step_by_step_reference(rng, steps, batch, hidden, bias):
    arrays = _lstm_inputs(rng, steps, batch, hidden, bias, np.float64)
    upstreams = [rng.normal(size=(steps, batch, hidden)), rng.normal(size=(batch, hidden)),
                 rng.normal(size=(batch, hidden))]
    fused, reference = [leaf(a) for a in arrays], [leaf(a) for a in arrays]
    _backward_all(F.lstm_sequence_fused(*fused, *([None] if not bias else [])), upstreams)
    _backward_all(_lstm_reference(*reference, *([None] if not bias else [])), upstreams)
    for name, ours, theirs in zip(("projections", "h_0", "c_0", "W_hh", "b_hh"), fused, reference):
        np.testing.assert_allclose(minidl.to_numpy(ours.grad), minidl.to_numpy(theirs.grad), rtol=1e-10,
                                   atol=1e-12, err_msg=name)
    outputs = F.lstm_sequence_fused(*fused, *([None] if not bias else []))
    expected = _lstm_reference(*reference, *([None] if not bias else []))
    for ours, theirs in zip(outputs, expected):
        np.testing.assert_allclose(minidl.to_numpy(ours), minidl.to_numpy(theirs), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("steps, batch, hidden, bias", LSTM_CASES[1:])
def test_fused_lstm_gradients_match_finite_differences(rng, steps, batch, hidden, bias):
    arrays = [leaf(a) for a in _lstm_inputs(rng, steps, batch, hidden, bias, np.float64)]
    if not bias:
        arrays.append(None)

    def run(*inputs):
        outputs, last, cell = F.lstm_sequence_fused(*inputs, *arrays[len(inputs):])
        return outputs.sum() + 2 * last.sum() + 3 * cell.sum()

    assert minidl.gradcheck(run, [a for a in arrays if a is not None])


@pytest.mark.parametrize("steps, batch, hidden, bias", LSTM_CASES)
def test_fused_lstm_matches_pytorch(rng, torch, steps, batch, hidden, bias):
    arrays = _lstm_inputs(rng, steps, batch, hidden, bias, np.float32)
    ours = [leaf(a) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    outputs = F.lstm_sequence_fused(*ours, *([None] if not bias else []))
    projections, h, c, weight = theirs[:4]
    expected = []
    for t in range(steps):
        gates = projections[t] + h @ weight.T + (theirs[4] if bias else 0)
        i, f, g, o = gates.chunk(4, dim=-1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        expected.append(h)
    expected = [torch.stack(expected), h, c]
    upstreams = [rng.normal(size=tuple(e.shape)).astype(np.float32) for e in expected]
    _backward_all(outputs, upstreams)
    sum((e * torch.tensor(u)).sum() for e, u in zip(expected, upstreams)).backward()
    for ours_out, theirs_out in zip(outputs, expected):
        np.testing.assert_allclose(minidl.to_numpy(ours_out), theirs_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    for name, ours_in, theirs_in in zip(("projections", "h_0", "c_0", "W_hh", "b_hh"), ours, theirs):
        np.testing.assert_allclose(minidl.to_numpy(ours_in.grad), theirs_in.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


def _pool_input(rng, shape, ties):
    x = rng.normal(size=shape).astype(np.float32)
    if ties:
        x = np.round(x).clip(-1, 1)  # many equal values in a window: the first maximum must win
    return x


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("shape, kernel_size", TILED_CASES)
def test_tiled_max_pool_gradient_equals_the_general_path(rng, shape, kernel_size, ties):
    x = leaf(_pool_input(rng, shape, ties))
    kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    out = F.max_pool2d(x, kernel_size)
    upstream = leaf(rng.normal(size=out.shape).astype(np.float32), False)
    tiled = pooling._tiled_max_grad(x.data, out.data, upstream.data, kernel)
    padded, inside, _ = pooling._padded(x.data, (0, 0), kernel, kernel, (1, 1), out.shape[-2:], -float("inf"))
    offsets = list(pooling._window_slices(kernel, kernel, (1, 1), out.shape[-2:]))
    winner = pooling._winners(padded, None, out.data, offsets)
    general = np.zeros(padded.shape, dtype=np.float32)
    for k, offset in enumerate(offsets):
        general[offset] += _host((winner == k) * upstream.data)
    general = general[..., : shape[-2], : shape[-1]]
    np.testing.assert_array_equal(_host(tiled), general)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("shape, kernel_size", TILED_CASES)
def test_tiled_max_pool_matches_pytorch(rng, torch, shape, kernel_size, ties):
    x = _pool_input(rng, shape, ties)
    ours, theirs = leaf(x), torch.tensor(x, requires_grad=True)
    y_ours, y_theirs = F.max_pool2d(ours, kernel_size), torch.nn.functional.max_pool2d(theirs, kernel_size)
    upstream = rng.normal(size=tuple(y_theirs.shape)).astype(np.float32)
    (y_ours * leaf(upstream, False)).sum().backward()
    (y_theirs * torch.tensor(upstream)).sum().backward()
    np.testing.assert_array_equal(minidl.to_numpy(y_ours), y_theirs.detach().numpy())
    np.testing.assert_allclose(minidl.to_numpy(ours.grad), theirs.grad.numpy(), rtol=0, atol=0)


@pytest.mark.parametrize("size", [5, 7])
def test_ceil_mode_partial_window_takes_the_general_path_like_pytorch(rng, torch, size):
    x = rng.normal(size=(2, 3, size, size + 1)).astype(np.float32)
    ours, theirs = leaf(x), torch.tensor(x, requires_grad=True)
    F.max_pool2d(ours, 2, ceil_mode=True).sum().backward()
    torch.nn.functional.max_pool2d(theirs, 2, ceil_mode=True).sum().backward()
    np.testing.assert_array_equal(minidl.to_numpy(ours.grad), theirs.grad.numpy())


def test_max_pool_with_nan_takes_the_general_path_like_pytorch(rng, torch):
    x = rng.normal(size=(1, 2, 4, 4)).astype(np.float32)
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[0, 1, 2, 3] = np.nan
    ours, theirs = leaf(x), torch.tensor(x, requires_grad=True)
    F.max_pool2d(ours, 2).sum().backward()
    torch.nn.functional.max_pool2d(theirs, 2).sum().backward()
    np.testing.assert_array_equal(minidl.to_numpy(ours.grad), theirs.grad.numpy())


@pytest.mark.parametrize("shape, kernel_size", TILED_CASES[:3])
def test_tiled_max_pool_gradient_matches_finite_differences(rng, shape, kernel_size):
    x = leaf(rng.normal(size=shape))
    assert minidl.gradcheck(lambda t: F.max_pool2d(t, kernel_size), [x])
