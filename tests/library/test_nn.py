"""Modules: registration, names, modes, state dicts and the dense layer, against PyTorch's conventions."""

import numpy as np
import pytest

import minidl
import minidl.nn as nn


def mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))


def test_parameter_names_follow_pytorch():
    assert [name for name, _ in mlp().named_parameters()] == ["0.weight", "0.bias", "3.weight", "3.bias"]


def test_linear_weight_layout_and_output_shape():
    layer = nn.Linear(5, 2)
    assert layer.weight.shape == (2, 5) and layer.bias.shape == (2,)
    assert layer(minidl.ones(7, 5)).shape == (7, 2)
    assert layer(minidl.ones(3, 7, 5)).shape == (3, 7, 2)


def test_linear_initialization_has_pytorchs_bounds():
    layer = nn.Linear(100, 400)
    bound = 1 / np.sqrt(100)
    weight = layer.weight.detach().cpu().numpy()
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.95 * bound
    assert abs(weight.std() - bound / np.sqrt(3)) < 0.01 * bound * 5


def test_linear_rejects_a_wrong_input_width():
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*in_features=4"):
        nn.Linear(4, 1)(minidl.ones(2, 3))


def test_linear_gradients_match_finite_differences(rng):
    layer = nn.Linear(3, 2)
    weight = minidl.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    bias = minidl.tensor(rng.normal(size=(2,)), requires_grad=True)
    x = minidl.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    assert minidl.gradcheck(lambda a, w, b: nn.functional.linear(a, w, b), [x, weight, bias])
    assert layer.weight.dtype == np.float32


def test_mlp_matches_pytorch_forward_and_backward(rng, torch):
    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    theirs.load_state_dict({k: torch.tensor(v.cpu().numpy()) for k, v in ours.state_dict().items()})
    x = rng.normal(size=(5, 4)).astype(np.float32)
    y = rng.integers(0, 3, 5)
    loss = nn.functional.cross_entropy(ours(minidl.tensor(x)), minidl.tensor(y))
    loss.backward()
    torch_loss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
    torch_loss.backward()
    assert loss.item() == pytest.approx(torch_loss.item(), rel=1e-5)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def test_train_and_eval_switch_dropout():
    model = mlp()
    x = minidl.ones(64, 4)
    model.eval()
    assert not model[2].training
    with minidl.no_grad():
        np.testing.assert_array_equal(model(x).cpu().numpy(), model(x).cpu().numpy())
        model.train()
        assert model[2].training
        assert not np.array_equal(model(x).cpu().numpy(), model(x).cpu().numpy())


def test_state_dict_round_trip_restores_outputs():
    source, target = mlp().eval(), mlp().eval()
    target.load_state_dict(source.state_dict())
    x = minidl.randn(3, 4)
    np.testing.assert_array_equal(source(x).detach().cpu().numpy(), target(x).detach().cpu().numpy())


def test_load_state_dict_names_missing_keys_and_bad_shapes():
    model = mlp()
    state = model.state_dict()
    del state["3.bias"]
    with pytest.raises(KeyError, match="3.bias"):
        model.load_state_dict(state)
    state = model.state_dict()
    state["0.weight"] = minidl.zeros(2, 2)
    with pytest.raises(ValueError, match=r"0.weight.*\(2, 2\).*\(8, 4\)"):
        model.load_state_dict(state)


def test_zero_grad_clears_gradients():
    model = mlp()
    model(minidl.ones(2, 4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_repr_reads_like_pytorch():
    assert repr(mlp()) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Dropout(p=0.5)\n"
        "  (3): Linear(in_features=8, out_features=3, bias=True)\n"
        ")"
    )


def test_custom_module_registers_nested_parameters():
    class TwoLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(2, 3)
            self.out = nn.Linear(3, 1)
            self.layers = nn.ModuleList([nn.Linear(1, 1)])

        def forward(self, x):
            return self.layers[0](self.out(self.hidden(x).relu()))

    model = TwoLayer()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["hidden.weight", "hidden.bias", "out.weight", "out.bias", "layers.0.weight", "layers.0.bias"]
    assert model(minidl.ones(4, 2)).shape == (4, 1)


def test_clip_grad_norm_scales_to_max_norm_and_returns_the_old_norm(torch):
    model = mlp()
    (model(minidl.ones(5, 4)) * 100).sum().backward()
    before = np.sqrt(sum((p.grad.cpu().numpy() ** 2).sum() for p in model.parameters()))
    total = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    after = np.sqrt(sum((p.grad.cpu().numpy() ** 2).sum() for p in model.parameters()))
    assert total.item() == pytest.approx(before, rel=1e-5)
    assert after == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("layer", [nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.Flatten(), nn.Identity()])
def test_simple_layers_keep_the_batch(layer):
    assert layer(minidl.ones(3, 2, 2)).shape[0] == 3


def test_a_parameter_replaces_a_plain_attribute_of_the_same_name():
    layer = nn.Module()
    layer.bias = None
    layer.bias = nn.Parameter(minidl.tensor([1.0]))
    assert layer.bias is not None and [name for name, _ in layer.named_parameters()] == ["bias"]
