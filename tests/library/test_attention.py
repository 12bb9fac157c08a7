"""Attention, layer normalization and the transformer block, against finite differences and PyTorch.

Mask conventions differ between PyTorch's two entry points, and we follow both: for
``scaled_dot_product_attention`` a boolean True means "may attend"; for ``MultiheadAttention`` it
means "may NOT attend".
"""

import numpy as np
import pytest

import minidl
import minidl.nn as nn
import minidl.nn.functional as F
from conftest import leaf
from minidl.nn.attention import causal_mask, sinusoidal_positions
from minidl.nn.transformer import last_position


def to_torch(torch, array):
    return torch.tensor(np.asarray(array))


def copy_into_torch(torch, ours, theirs):
    theirs.load_state_dict({k: torch.tensor(v.cpu().numpy()) for k, v in ours.state_dict().items()})


def assert_close(ours, theirs, rtol=1e-5, atol=1e-6, name=""):
    np.testing.assert_allclose(ours.detach().cpu().numpy(), theirs.detach().cpu().numpy(), rtol=rtol, atol=atol, err_msg=name)


# ---- scaled dot-product attention -----------------------------------------------------------------
def qkv(rng, batch=(2, 3), length=4, source=5, dim=6, value_dim=3):
    return (
        rng.normal(size=batch + (length, dim)),
        rng.normal(size=batch + (source, dim)),
        rng.normal(size=batch + (source, value_dim)),
    )


def test_attention_is_softmax_of_scaled_scores_times_values(rng):
    q, k, v = qkv(rng, batch=())
    scores = q @ k.T / np.sqrt(q.shape[-1])
    weights = np.exp(scores - scores.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    out = F.scaled_dot_product_attention(minidl.tensor(q), minidl.tensor(k), minidl.tensor(v))
    np.testing.assert_allclose(out.cpu().numpy(), weights @ v, rtol=1e-10)


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal"])
def test_attention_gradients_match_finite_differences(rng, mask_kind):
    q, k, v = (leaf(a) for a in qkv(rng, batch=(2,), length=4, source=4, dim=3, value_dim=2))
    mask = {"none": None, "bool": rng.random((4, 4)) < 0.7, "float": rng.normal(size=(4, 4))}.get(mask_kind)
    if mask is not None and mask.dtype == bool:
        mask[:, 0] = True  # every query keeps at least one key
    mask = None if mask is None else minidl.tensor(mask)
    causal = mask_kind == "causal"
    fn = lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=mask, is_causal=causal)
    assert minidl.gradcheck(fn, [q, k, v])


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal", "scale"])
def test_attention_matches_pytorch(rng, torch, mask_kind):
    arrays = [a.astype(np.float32) for a in qkv(rng, length=5, source=5)]
    ours = [minidl.tensor(a, requires_grad=True) for a in arrays]
    theirs = [to_torch(torch, a).requires_grad_() for a in arrays]
    kwargs = {}
    if mask_kind == "bool":
        mask = rng.random((5, 5)) < 0.6
        mask[:, 2] = True
        kwargs = {"attn_mask": mask}
    elif mask_kind == "float":
        kwargs = {"attn_mask": rng.normal(size=(3, 5, 5)).astype(np.float32)}
    elif mask_kind == "causal":
        kwargs = {"is_causal": True}
    elif mask_kind == "scale":
        kwargs = {"scale": 0.3}
    torch_kwargs = {key: to_torch(torch, value) if key == "attn_mask" else value for key, value in kwargs.items()}
    ours_kwargs = {key: minidl.tensor(value) if key == "attn_mask" else value for key, value in kwargs.items()}
    out = F.scaled_dot_product_attention(*ours, **ours_kwargs)
    torch_out = torch.nn.functional.scaled_dot_product_attention(*theirs, **torch_kwargs)
    assert_close(out, torch_out)
    upstream = rng.normal(size=out.shape).astype(np.float32)
    (out * minidl.tensor(upstream)).sum().backward()
    (torch_out * to_torch(torch, upstream)).sum().backward()
    for name, a, b in zip("qkv", ours, theirs):
        assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5, name=name)


def test_boolean_true_means_allowed_in_scaled_dot_product_attention():
    q = k = minidl.zeros(1, 3, 2)
    v = minidl.tensor([[[1.0], [2.0], [4.0]]])
    allowed = minidl.tensor([[True, False, False], [True, True, False], [False, False, True]])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    np.testing.assert_allclose(out.cpu().numpy().ravel(), [1.0, 1.5, 4.0])


def test_causal_attention_ignores_the_future(rng):
    q, k, v = (minidl.tensor(a) for a in qkv(rng, batch=(1,), length=4, source=4))
    changed = v.detach().cpu().numpy().copy()
    changed[0, -1] += 100.0
    before = F.scaled_dot_product_attention(q, k, v, is_causal=True).cpu().numpy()
    after = F.scaled_dot_product_attention(q, k, minidl.tensor(changed), is_causal=True).cpu().numpy()
    np.testing.assert_allclose(before[0, :3], after[0, :3])
    assert not np.allclose(before[0, 3], after[0, 3])


def test_causal_mask_is_lower_triangular():
    np.testing.assert_array_equal(causal_mask(3).cpu().numpy(), np.tril(np.ones((3, 3), dtype=bool)))


@pytest.mark.parametrize(
    "shapes, kwargs, message",
    [
        (((2, 4, 3), (2, 5, 2), (2, 5, 3)), {}, "must share d"),
        (((2, 4, 3), (2, 5, 3), (2, 5, 3)), {"attn_mask": np.ones((4, 4), dtype=bool)}, "attn_mask must broadcast"),
        (((2, 4, 3), (2, 4, 3), (2, 4, 3)), {"attn_mask": np.ones((4, 4), dtype=bool), "is_causal": True}, "not both"),
    ],
)
def test_attention_rejects_bad_shapes_and_options(shapes, kwargs, message):
    q, k, v = (minidl.zeros(*s) for s in shapes)
    kwargs = {key: minidl.tensor(value) if key == "attn_mask" else value for key, value in kwargs.items()}
    with pytest.raises(ValueError, match=message):
        F.scaled_dot_product_attention(q, k, v, **kwargs)


# ---- multi-head attention -------------------------------------------------------------------------
def test_multihead_attention_parameters_are_named_and_shaped_as_in_pytorch():
    layer = nn.MultiheadAttention(8, 2)
    shapes = {name: p.shape for name, p in layer.named_parameters()}
    assert shapes == {"in_proj_weight": (24, 8), "in_proj_bias": (24,), "out_proj.weight": (8, 8), "out_proj.bias": (8,)}


def test_multihead_attention_initialization_follows_pytorch():
    layer = nn.MultiheadAttention(64, 4)
    bound = np.sqrt(6 / (64 + 3 * 64))
    weight = layer.in_proj_weight.detach().cpu().numpy()
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.95 * bound
    assert not layer.in_proj_bias.detach().cpu().numpy().any() and not layer.out_proj.bias.detach().cpu().numpy().any()


def test_multihead_attention_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="multiple of num_heads"):
        nn.MultiheadAttention(10, 3)


def mha_case(rng, torch, batch_first, mask_kind, self_attention=True, need_average=True, key_padding=False):
    embed, heads, batch, length, source = 8, 2, 3, 4, 4 if self_attention else 6
    ours = nn.MultiheadAttention(embed, heads, batch_first=batch_first)
    theirs = torch.nn.MultiheadAttention(embed, heads, batch_first=batch_first)
    randomize_biases(rng, ours)
    copy_into_torch(torch, ours, theirs)

    def arrange(shape):
        x = rng.normal(size=shape).astype(np.float32)
        return x if batch_first else x.transpose(1, 0, 2).copy()

    query = arrange((batch, length, embed))
    key = query if self_attention else arrange((batch, source, embed))
    value = query if self_attention else arrange((batch, source, embed))
    mask = None
    is_causal = False
    if mask_kind == "bool":
        mask = rng.random((length, source)) < 0.4
        mask[:, 0] = False  # True = NOT allowed here; keep one key per query
    elif mask_kind == "float":
        mask = rng.normal(size=(batch * heads, length, source)).astype(np.float32)
    elif mask_kind == "causal":
        mask, is_causal = np.triu(np.ones((length, source), dtype=bool), 1), True
    padding = None
    if key_padding:
        padding = np.zeros((batch, source), dtype=bool)
        padding[0, -1] = padding[2, 1] = True
    ours_in = [minidl.tensor(a, requires_grad=True) for a in (query, key, value)]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in (query, key, value)]
    out, weights = ours(*ours_in, key_padding_mask=None if padding is None else minidl.tensor(padding),
                        attn_mask=None if mask is None else minidl.tensor(mask),
                        average_attn_weights=need_average, is_causal=is_causal)
    torch_out, torch_weights = theirs(*theirs_in, key_padding_mask=None if padding is None else torch.tensor(padding),
                                      attn_mask=None if mask is None else torch.tensor(mask),
                                      average_attn_weights=need_average, is_causal=is_causal)
    return ours, theirs, ours_in, theirs_in, (out, weights), (torch_out, torch_weights)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal"])
def test_multihead_attention_matches_pytorch_outputs_and_weights(rng, torch, batch_first, mask_kind):
    *_, (out, weights), (torch_out, torch_weights) = mha_case(rng, torch, batch_first, mask_kind)
    assert_close(out, torch_out, name="output")
    assert weights.shape == tuple(torch_weights.shape)
    assert_close(weights, torch_weights, name="averaged weights")


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float"])
def test_multihead_attention_matches_pytorch_gradients(rng, torch, mask_kind):
    ours, theirs, ours_in, theirs_in, (out, _), (torch_out, _) = mha_case(
        rng, torch, batch_first=False, mask_kind=mask_kind, self_attention=False
    )
    upstream = rng.normal(size=out.shape).astype(np.float32)
    (out * minidl.tensor(upstream)).sum().backward()
    (torch_out * torch.tensor(upstream)).sum().backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, name=name)
    for name, a, b in zip(("query", "key", "value"), ours_in, theirs_in):
        assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5, name=name)


def test_multihead_attention_per_head_weights_and_key_padding_match_pytorch(rng, torch):
    *_, (out, weights), (torch_out, torch_weights) = mha_case(
        rng, torch, batch_first=True, mask_kind="bool", need_average=False, key_padding=True
    )
    assert weights.shape == (3, 2, 4, 4)
    assert_close(out, torch_out)
    assert_close(weights, torch_weights)


def test_multihead_attention_unbatched_input_matches_pytorch(rng, torch):
    ours, theirs = nn.MultiheadAttention(6, 3), torch.nn.MultiheadAttention(6, 3)
    randomize_biases(rng, ours)
    copy_into_torch(torch, ours, theirs)
    x = rng.normal(size=(5, 6)).astype(np.float32)
    out, weights = ours(minidl.tensor(x), minidl.tensor(x), minidl.tensor(x))
    torch_out, torch_weights = theirs(torch.tensor(x), torch.tensor(x), torch.tensor(x))
    assert out.shape == (5, 6) and weights.shape == (5, 5)
    assert_close(out, torch_out)
    assert_close(weights, torch_weights)


def test_multihead_attention_need_weights_false_returns_none():
    out, weights = nn.MultiheadAttention(4, 2)(*(minidl.ones(3, 2, 4),) * 3, need_weights=False)
    assert out.shape == (3, 2, 4) and weights is None


def randomize_biases(rng, layer):
    """Nonzero biases, so a test notices if one is ignored (they start at zero)."""
    for name, p in layer.named_parameters():
        if name.endswith("bias"):
            p.data = minidl.tensor(rng.normal(size=p.shape).astype(p.dtype)).data


def test_multihead_attention_gradients_match_finite_differences(rng):
    layer = nn.MultiheadAttention(4, 2, batch_first=True)
    for p in layer.parameters():
        p.data = p.data.astype(np.float64)
    randomize_biases(rng, layer)
    x = leaf(rng.normal(size=(2, 3, 4)))
    params = [layer.in_proj_weight, layer.in_proj_bias, layer.out_proj.weight]
    assert minidl.gradcheck(lambda a, *_: layer(a, a, a, need_weights=False)[0], [x] + params)


# ---- layer normalization --------------------------------------------------------------------------
@pytest.mark.parametrize("normalized_shape", [(5,), (3, 5)])
def test_layer_norm_gradients_match_finite_differences(rng, normalized_shape):
    x = leaf(rng.normal(size=(2, 3, 5)))
    weight, bias = leaf(rng.normal(size=normalized_shape)), leaf(rng.normal(size=normalized_shape))
    assert minidl.gradcheck(lambda a, w, b: F.layer_norm(a, normalized_shape, w, b), [x, weight, bias])


def test_layer_norm_without_affine_gradient_matches_finite_differences(rng):
    x = leaf(rng.normal(size=(4, 6)))
    assert minidl.gradcheck(lambda a: F.layer_norm(a, 6), [x])


def test_layer_norm_standardizes_each_example(rng):
    out = nn.LayerNorm(50)(minidl.tensor(rng.normal(3, 5, size=(4, 50)).astype(np.float32))).detach().cpu().numpy()
    np.testing.assert_allclose(out.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(1), 1, atol=1e-3)


@pytest.mark.parametrize("normalized_shape", [7, (3, 7)])
def test_layer_norm_matches_pytorch(rng, torch, normalized_shape):
    ours, theirs = nn.LayerNorm(normalized_shape), torch.nn.LayerNorm(normalized_shape)
    with minidl.no_grad():
        ours.weight.data[...] = ours.weight.data + minidl.tensor(rng.normal(size=ours.weight.shape).astype(np.float32)).data
    copy_into_torch(torch, ours, theirs)
    x = rng.normal(2, 3, size=(2, 3, 7)).astype(np.float32)
    upstream = rng.normal(size=x.shape).astype(np.float32)
    ours_x, theirs_x = minidl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, torch_out = ours(ours_x), theirs(theirs_x)
    assert_close(out, torch_out)
    (out * minidl.tensor(upstream)).sum().backward()
    (torch_out * torch.tensor(upstream)).sum().backward()
    assert_close(ours_x.grad, theirs_x.grad, rtol=1e-4, atol=1e-5)
    assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-4, atol=1e-5)
    assert_close(ours.bias.grad, theirs.bias.grad, rtol=1e-4, atol=1e-5)


def test_layer_norm_rejects_a_mismatched_shape():
    with pytest.raises(ValueError, match="must end with normalized_shape"):
        nn.LayerNorm(4)(minidl.ones(2, 5))


# ---- positions, GELU and the transformer block ----------------------------------------------------
def test_sinusoidal_positions_follow_the_formula():
    table = sinusoidal_positions(50, 8).cpu().numpy()
    position, i = 7, 2
    angle = position / 10000 ** (2 * i / 8)
    assert table.shape == (50, 8)
    assert table[position, 2 * i] == pytest.approx(np.sin(angle), abs=1e-6)
    assert table[position, 2 * i + 1] == pytest.approx(np.cos(angle), abs=1e-6)


def test_sinusoidal_positions_handle_an_odd_dimension():
    assert sinusoidal_positions(4, 5).shape == (4, 5)


def test_positional_encoding_module_adds_the_table():
    x = minidl.zeros(2, 6, 4)
    out = nn.SinusoidalPositionalEncoding(4, max_len=10)(x).cpu().numpy()
    np.testing.assert_allclose(out[1], sinusoidal_positions(6, 4).cpu().numpy())


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_pytorch_and_finite_differences(rng, torch, approximate):
    x = rng.normal(0, 3, size=(50,))
    assert minidl.gradcheck(lambda a: F.gelu(a, approximate), [leaf(x)])
    ours = F.gelu(minidl.tensor(x.astype(np.float32)), approximate).cpu().numpy()
    theirs = torch.nn.functional.gelu(torch.tensor(x.astype(np.float32)), approximate=approximate).cpu().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("is_causal", [False, True])
def test_transformer_block_matches_pytorch_encoder_layer(rng, torch, norm_first, activation, is_causal):
    ours = nn.TransformerBlock(8, 2, 16, norm_first=norm_first, activation=activation)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=activation,
                                              batch_first=True, norm_first=norm_first)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    randomize_biases(rng, ours)
    copy_into_torch(torch, ours, theirs)
    x = rng.normal(size=(2, 5, 8)).astype(np.float32)
    ours_x, theirs_x = minidl.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = ours(ours_x, is_causal=is_causal)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5) if is_causal else None
    torch_out = theirs(theirs_x, src_mask=mask, is_causal=is_causal)
    assert_close(out, torch_out, rtol=1e-4, atol=1e-5)
    out.sum().backward()
    torch_out.sum().backward()
    assert_close(ours_x.grad, theirs_x.grad, rtol=1e-3, atol=1e-4)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, rtol=1e-3, atol=1e-4, name=name)


def test_causal_transformer_block_output_ignores_later_positions(rng):
    block = nn.TransformerBlock(8, 2, 16)
    x = rng.normal(size=(1, 6, 8)).astype(np.float32)
    changed = x.copy()
    changed[0, 4:] += 10
    before = block(minidl.tensor(x), is_causal=True).detach().cpu().numpy()
    after = block(minidl.tensor(changed), is_causal=True).detach().cpu().numpy()
    np.testing.assert_allclose(before[0, :4], after[0, :4], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("length", [1, 6])
def test_last_position_equals_the_causal_block_at_its_last_position(rng, norm_first, length):
    block = nn.TransformerBlock(8, 2, 16, norm_first=norm_first)
    randomize_biases(rng, block)
    x = minidl.tensor(rng.normal(size=(3, length, 8)).astype(np.float32))
    with minidl.no_grad():
        expected = block(x, is_causal=True)[:, -1:]
        shortcut = last_position(block, x)
    assert shortcut.shape == (3, 1, 8)
    np.testing.assert_allclose(shortcut.cpu().numpy(), expected.cpu().numpy(), rtol=1e-5, atol=1e-6)
