"""Recurrent cells and layers: PyTorch's names, layouts and numbers, finite-difference gradients, long sequences."""

import numpy as np
import pytest

import minidl
import minidl.nn as nn

LAYERS = ["RNN", "LSTM", "GRU"]
CELLS = ["RNNCell", "LSTMCell", "GRUCell"]
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3, "RNNCell": 1, "LSTMCell": 4, "GRUCell": 3}


def to_float64(module):
    """Give every parameter float64 data, so finite differences are exact enough for gradcheck."""
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


def flat(*tensors):
    return minidl.cat([t.reshape(-1) for t in tensors])


def copy_to_torch(ours, theirs, torch):
    theirs.load_state_dict({name: torch.tensor(value.cpu().numpy()) for name, value in ours.state_dict().items()})
    return theirs


def leaf(array, requires_grad=True):
    return minidl.tensor(np.asarray(array), requires_grad=requires_grad)


# ---- names, layouts, initialization ---------------------------------------------------------------
@pytest.mark.parametrize("kind", LAYERS)
def test_layer_parameter_names_and_shapes_follow_pytorch(kind, torch):
    ours, theirs = getattr(nn, kind)(3, 5), getattr(torch.nn, kind)(3, 5)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.weight_ih_l0.shape == (GATES[kind] * 5, 3)


@pytest.mark.parametrize("kind", CELLS)
def test_cell_parameter_names_and_shapes_follow_pytorch(kind, torch):
    ours, theirs = getattr(nn, kind)(3, 5), getattr(torch.nn, kind)(3, 5)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
    ]


@pytest.mark.parametrize("kind", LAYERS)
def test_stacked_layers_have_pytorchs_names(kind, torch):
    ours, theirs = getattr(nn, kind)(3, 5, num_layers=2), getattr(torch.nn, kind)(3, 5, num_layers=2)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("kind", LAYERS + CELLS)
def test_initialization_is_uniform_within_one_over_sqrt_hidden(kind):
    hidden = 64
    module = getattr(nn, kind)(10, hidden)
    bound = 1 / np.sqrt(hidden)
    values = np.concatenate([p.detach().cpu().numpy().ravel() for p in module.parameters()])
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound
    assert abs(values.std() - bound / np.sqrt(3)) < 0.05 * bound


def test_bias_false_registers_no_biases():
    assert list(nn.LSTM(2, 3, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    assert list(nn.GRUCell(2, 3, bias=False).state_dict()) == ["weight_ih", "weight_hh"]


# ---- gradients against finite differences (float64) -------------------------------------------------
@pytest.mark.parametrize("kind,nonlinearity", [("RNNCell", "tanh"), ("RNNCell", "relu"), ("LSTMCell", None), ("GRUCell", None)])
def test_cell_gradients_match_finite_differences(kind, nonlinearity, rng):
    options = {"nonlinearity": nonlinearity} if nonlinearity else {}
    cell = to_float64(getattr(nn, kind)(3, 4, **options))
    x = leaf(rng.normal(size=(2, 3)))
    hidden = leaf(rng.normal(size=(2, 4)) * 0.5)
    if kind == "LSTMCell":
        cell_state = leaf(rng.normal(size=(2, 4)))
        fn = lambda x, h, c, *params: flat(*cell(x, (h, c)))  # noqa: E731
        inputs = [x, hidden, cell_state, *cell.parameters()]
    else:
        fn = lambda x, h, *params: cell(x, h)  # noqa: E731
        inputs = [x, hidden, *cell.parameters()]
    assert minidl.gradcheck(fn, inputs)


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_layer_gradients_match_finite_differences(kind, batch_first, rng):
    layer = to_float64(getattr(nn, kind)(2, 3, batch_first=batch_first))
    x = leaf(rng.normal(size=(2, 4, 2)))
    h0 = leaf(rng.normal(size=(1, 2 if batch_first else 4, 3)) * 0.5)
    if kind == "LSTM":
        c0 = leaf(rng.normal(size=h0.shape))

        def fn(x, h0, c0, *params):
            output, (h_n, c_n) = layer(x, (h0, c0))
            return flat(output, h_n, c_n)

        inputs = [x, h0, c0, *layer.parameters()]
    else:

        def fn(x, h0, *params):
            output, h_n = layer(x, h0)
            return flat(output, h_n)

        inputs = [x, h0, *layer.parameters()]
    assert minidl.gradcheck(fn, inputs)


def test_stacked_lstm_gradients_match_finite_differences(rng):
    layer = to_float64(nn.LSTM(2, 3, num_layers=2))
    x = leaf(rng.normal(size=(3, 2, 2)))
    assert minidl.gradcheck(lambda x, *params: layer(x)[0], [x, *layer.parameters()])


# ---- against PyTorch ------------------------------------------------------------------------------------
def _run_both(ours, theirs, x, state, torch):
    """Forward both, backpropagate the same random weighting of every output, return both sides."""
    ours_x, their_x = leaf(x), torch.tensor(x, requires_grad=True)
    ours_state = their_state = None
    if state is not None:
        ours_state = tuple(leaf(s) for s in state)
        their_state = tuple(torch.tensor(s, requires_grad=True) for s in state)
    unpack = lambda s: None if s is None else (s if len(s) == 2 else s[0])  # noqa: E731
    ours_out = ours(ours_x, unpack(ours_state))
    their_out = theirs(their_x, unpack(their_state))
    ours_flat = [ours_out[0]] + list(ours_out[1] if isinstance(ours_out[1], tuple) else [ours_out[1]])
    their_flat = [their_out[0]] + list(their_out[1] if isinstance(their_out[1], tuple) else [their_out[1]])
    weights = [np.random.default_rng(7 + i).normal(size=t.shape).astype(np.float32) for i, t in enumerate(ours_flat)]
    sum(((t * minidl.tensor(w)).sum() for t, w in zip(ours_flat, weights)), minidl.tensor(0.0)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip(their_flat, weights)).backward()
    return (ours_flat, ours_x, ours_state), (their_flat, their_x, their_state)


def _assert_same(ours, theirs, ours_module, their_module):
    (ours_flat, ours_x, ours_state), (their_flat, their_x, their_state) = ours, theirs
    for a, b in zip(ours_flat, their_flat):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours_x.grad.cpu().numpy(), their_x.grad.cpu().numpy(), rtol=1e-4, atol=1e-5)
    for a, b in zip(ours_state or (), their_state or ()):
        np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.cpu().numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), q in zip(ours_module.named_parameters(), their_module.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_layer_matches_pytorch(kind, with_state, batch_first, rng, torch):
    ours = getattr(nn, kind)(3, 5, batch_first=batch_first)
    theirs = copy_to_torch(ours, getattr(torch.nn, kind)(3, 5, batch_first=batch_first), torch)
    x = rng.normal(size=(4, 7, 3)).astype(np.float32)
    batch = 4 if batch_first else 7
    state = None
    if with_state:
        state = tuple(rng.normal(size=(1, batch, 5)).astype(np.float32) for _ in range(2 if kind == "LSTM" else 1))
    _assert_same(*_run_both(ours, theirs, x, state, torch), ours, theirs)


@pytest.mark.parametrize("kind", LAYERS)
def test_stacked_layer_matches_pytorch(kind, rng, torch):
    ours = getattr(nn, kind)(3, 4, num_layers=2)
    theirs = copy_to_torch(ours, getattr(torch.nn, kind)(3, 4, num_layers=2), torch)
    x = rng.normal(size=(6, 2, 3)).astype(np.float32)
    _assert_same(*_run_both(ours, theirs, x, None, torch), ours, theirs)


def test_relu_rnn_without_bias_matches_pytorch(rng, torch):
    ours = nn.RNN(3, 5, nonlinearity="relu", bias=False)
    theirs = copy_to_torch(ours, torch.nn.RNN(3, 5, nonlinearity="relu", bias=False), torch)
    x = rng.normal(size=(6, 2, 3)).astype(np.float32)
    _assert_same(*_run_both(ours, theirs, x, None, torch), ours, theirs)


@pytest.mark.parametrize("kind", CELLS)
def test_cell_matches_pytorch(kind, rng, torch):
    ours = getattr(nn, kind)(3, 5)
    theirs = copy_to_torch(ours, getattr(torch.nn, kind)(3, 5), torch)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    states = [rng.normal(size=(4, 5)).astype(np.float32) for _ in range(2 if kind == "LSTMCell" else 1)]
    ours_x, their_x = leaf(x), torch.tensor(x, requires_grad=True)
    ours_states = [leaf(s) for s in states]
    their_states = [torch.tensor(s, requires_grad=True) for s in states]
    if kind == "LSTMCell":
        ours_out, their_out = ours(ours_x, tuple(ours_states)), theirs(their_x, tuple(their_states))
    else:
        ours_out, their_out = (ours(ours_x, ours_states[0]),), (theirs(their_x, their_states[0]),)
    for a, b in zip(ours_out, their_out):
        np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    sum((a * (i + 1.0)).sum() for i, a in enumerate(ours_out)).backward()
    sum((b * (i + 1.0)).sum() for i, b in enumerate(their_out)).backward()
    np.testing.assert_allclose(ours_x.grad.cpu().numpy(), their_x.grad.cpu().numpy(), rtol=1e-4, atol=1e-5)
    for a, b in zip(ours_states, their_states):
        np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.cpu().numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


# ---- cells and layers agree; shapes ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", LAYERS)
def test_cell_unrolled_by_hand_equals_the_layer(kind, rng):
    layer = getattr(nn, kind)(3, 4)
    cell = getattr(nn, kind + "Cell")(3, 4)
    cell.load_state_dict({name[: -len("_l0")]: value for name, value in layer.state_dict().items()})
    x = minidl.tensor(rng.normal(size=(5, 2, 3)).astype(np.float32))
    state = None
    outputs = []
    for t in range(5):
        state = cell(x[t], state)
        outputs.append(state[0] if kind == "LSTM" else state)
    output, _ = layer(x)
    np.testing.assert_allclose(minidl.stack(outputs).detach().cpu().numpy(), output.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", LAYERS)
def test_unbatched_input_gives_the_batched_result(kind, rng):
    layer = getattr(nn, kind)(3, 4)
    x = minidl.tensor(rng.normal(size=(5, 3)).astype(np.float32))
    output, final = layer(x)
    batched_output, batched_final = layer(x.unsqueeze(1))
    assert output.shape == (5, 4)
    np.testing.assert_allclose(output.detach().cpu().numpy(), batched_output.squeeze(1).detach().cpu().numpy(), rtol=1e-6)
    h_n = final[0] if kind == "LSTM" else final
    assert h_n.shape == (1, 4)


@pytest.mark.parametrize("kind", LAYERS)
def test_output_and_final_state_shapes(kind):
    layer = getattr(nn, kind)(3, 6, batch_first=True)
    output, final = layer(minidl.ones(2, 9, 3))
    assert output.shape == (2, 9, 6)
    for state in final if kind == "LSTM" else (final,):
        assert state.shape == (1, 2, 6)


def test_lstm_backpropagates_through_a_thousand_steps():
    layer = nn.LSTM(2, 8)
    x = minidl.randn(1000, 3, 2)
    output, (h_n, c_n) = layer(x)
    output[-1].sum().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and np.isfinite(p.grad.cpu().numpy()).all(), name


def test_no_graph_is_recorded_under_no_grad():
    layer = nn.GRU(2, 3)
    with minidl.no_grad():
        output, h_n = layer(minidl.randn(4, 2, 2))
    assert not output.requires_grad and not h_n.requires_grad


# ---- clear errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LAYERS)
def test_layer_rejects_a_wrong_input_size(kind):
    with pytest.raises(ValueError, match=r"shape \(5, 2, 7\).*input_size=3"):
        getattr(nn, kind)(3, 4)(minidl.ones(5, 2, 7))


@pytest.mark.parametrize("kind", CELLS)
def test_cell_rejects_a_wrong_input_size(kind):
    with pytest.raises(ValueError, match=r"shape \(2, 7\).*input_size=3"):
        getattr(nn, kind)(3, 4)(minidl.ones(2, 7))


def test_layer_rejects_a_wrong_initial_state_shape():
    with pytest.raises(ValueError, match=r"h_0 has shape \(1, 3, 4\), expected \(1, 2, 4\)"):
        nn.RNN(3, 4)(minidl.ones(5, 2, 3), minidl.zeros(1, 3, 4))


def test_lstm_needs_a_pair_as_initial_state():
    with pytest.raises(ValueError, match=r"\(h_0, c_0\)"):
        nn.LSTM(3, 4)(minidl.ones(5, 2, 3), (minidl.zeros(1, 2, 4),))
    with pytest.raises(ValueError, match=r"\(h_0, c_0\)"):
        nn.LSTM(3, 4)(minidl.ones(5, 2, 3), minidl.zeros(1, 2, 4))


def test_unknown_nonlinearity_and_unsupported_options_are_refused():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="num_layers must be a positive integer"):
        nn.LSTM(3, 4, num_layers=0)
    with pytest.raises(NotImplementedError, match="bidirectional"):
        nn.GRU(3, 4, bidirectional=True)
