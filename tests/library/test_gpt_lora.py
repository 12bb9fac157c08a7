"""minidl.models.gpt.GPT and minidl.nn.LoRALinear: shapes, causality, weight tying, parity with PyTorch."""

import numpy as np
import pytest

import minidl
import minidl.nn as nn
import minidl.nn.functional as F
from minidl.models.gpt import GPT


def small_gpt(vocab_size=11, context_length=8, **kwargs):
    return GPT(vocab_size, context_length, **{"embed_dim": 16, "num_heads": 4, "num_layers": 2, **kwargs})


def token_ids(rng, shape, vocab_size=11):
    return minidl.tensor(rng.integers(0, vocab_size, shape))


# ---- GPT -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch, length, vocab_size", [(1, 1, 5), (3, 8, 11), (2, 5, 30)])
def test_gpt_maps_token_ids_to_one_row_of_logits_per_position(rng, batch, length, vocab_size):
    model = small_gpt(vocab_size)
    logits = model(token_ids(rng, (batch, length), vocab_size))
    assert logits.shape == (batch, length, vocab_size) and logits.dtype == np.float32


@pytest.mark.parametrize("changed", [1, 4, 7])
def test_gpt_is_causal_changing_a_later_token_leaves_earlier_logits_unchanged(rng, changed):
    model = small_gpt()
    ids = rng.integers(0, 11, (2, 8))
    other = ids.copy()
    other[:, changed] = (other[:, changed] + 1) % 11
    before, after = model(minidl.tensor(ids)).detach().cpu().numpy(), model(minidl.tensor(other)).detach().cpu().numpy()
    np.testing.assert_array_equal(before[:, :changed], after[:, :changed])
    assert np.abs(before[:, changed:] - after[:, changed:]).max() > 1e-4


def test_gpt_ties_the_output_layer_to_the_token_embedding(rng):
    model = small_gpt()
    assert model.lm_head.weight is model.token_embedding.weight
    names = [name for name, _ in model.named_parameters()]
    assert "token_embedding.weight" in names and "lm_head.weight" not in names


def test_the_tied_weight_collects_the_gradient_of_both_uses(rng):
    model = small_gpt()
    ids = token_ids(rng, (2, 6))
    F.cross_entropy(model(ids).reshape(-1, 11), ids.reshape(-1)).backward()
    tied_gradient = model.token_embedding.weight.grad.cpu().numpy().copy()
    # the output layer's share alone: the same loss with the embedding lookup cut from the graph
    model.zero_grad()
    h = (model.token_embedding(ids).detach() + model.position_embedding(minidl.arange(6)))
    for block in model.blocks:
        h = block(h, is_causal=True)
    F.cross_entropy(model.lm_head(model.norm(h)).reshape(-1, 11), ids.reshape(-1)).backward()
    head_share = model.token_embedding.weight.grad.cpu().numpy()
    unused_rows = np.setdiff1d(np.arange(11), ids.cpu().numpy())
    np.testing.assert_allclose(tied_gradient[unused_rows], head_share[unused_rows], rtol=1e-5, atol=1e-7)
    assert not np.allclose(tied_gradient, head_share)   # the used rows also get the lookup's gradient


def test_gpt_matches_a_pytorch_gpt_with_the_same_weights(rng, torch):
    model = small_gpt(context_length=6)
    ids = rng.integers(0, 11, (2, 6))
    tnn = torch.nn
    embedding, positions = tnn.Embedding(11, 16), tnn.Embedding(6, 16)
    layers = [tnn.TransformerEncoderLayer(16, 4, 64, dropout=0.0, batch_first=True, norm_first=True) for _ in range(2)]
    norm = tnn.LayerNorm(16)
    state = {k: torch.tensor(v.detach().cpu().numpy()) for k, v in model.state_dict().items()}
    embedding.weight.data, positions.weight.data = state["token_embedding.weight"], state["position_embedding.weight"]
    for index, layer in enumerate(layers):
        layer.load_state_dict({k[len(f"blocks.{index}."):]: v for k, v in state.items() if k.startswith(f"blocks.{index}.")})
    norm.load_state_dict({"weight": state["norm.weight"], "bias": state["norm.bias"]})
    mask = tnn.Transformer.generate_square_subsequent_mask(6)
    h = embedding(torch.tensor(ids)) + positions(torch.arange(6))
    for layer in layers:
        h = layer(h, src_mask=mask, is_causal=True)
    expected = norm(h) @ embedding.weight.T                            # weight tying
    expected.sum().backward()
    ours = model(minidl.tensor(ids))
    ours.sum().backward()
    np.testing.assert_allclose(ours.detach().cpu().numpy(), expected.detach().cpu().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.token_embedding.weight.grad.cpu().numpy(), embedding.weight.grad.cpu().numpy(),
                               rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("prompt_length, new_tokens", [(1, 5), (6, 9)])
def test_generate_appends_tokens_and_crops_the_context(rng, prompt_length, new_tokens):
    model = small_gpt(context_length=8)
    prompt = token_ids(rng, (3, prompt_length))
    out = model.generate(prompt, new_tokens, temperature=0.8, top_k=4)
    assert out.shape == (3, prompt_length + new_tokens) and out.dtype == np.int64
    np.testing.assert_array_equal(out.cpu().numpy()[:, :prompt_length], prompt.cpu().numpy())
    assert 0 <= out.cpu().numpy().min() and out.cpu().numpy().max() < 11


def test_generate_with_top_k_1_is_greedy_decoding(rng):
    model = small_gpt()
    ids = token_ids(rng, (2, 3))
    out = model.generate(ids, 4, top_k=1)
    for step in range(4):
        logits = model(out[:, : 3 + step])[:, -1]
        np.testing.assert_array_equal(out.cpu().numpy()[:, 3 + step], logits.detach().cpu().numpy().argmax(-1))


@pytest.mark.parametrize("length, num_layers", [(1, 2), (5, 1), (8, 3)])
def test_generate_computes_the_logits_of_the_last_position_as_forward_does(rng, length, num_layers):
    model = small_gpt(context_length=8, num_layers=num_layers).eval()
    ids = token_ids(rng, (3, length))
    with minidl.no_grad():
        expected = model(ids)[:, -1]
        shortcut = model._last_logits(ids)
    assert shortcut.shape == expected.shape == (3, 11)
    np.testing.assert_allclose(shortcut.cpu().numpy(), expected.cpu().numpy(), rtol=1e-5, atol=1e-6)


def test_generate_is_reproducible_and_restores_training_mode(rng):
    model = small_gpt(dropout=0.1)
    ids = token_ids(rng, (2, 3))
    first = model.generate(ids, 6, generator=np.random.default_rng(5)).detach().cpu().numpy()
    second = model.generate(ids, 6, generator=np.random.default_rng(5)).detach().cpu().numpy()
    np.testing.assert_array_equal(first, second)
    assert model.training


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m(minidl.tensor([[0.0, 1.0]])), TypeError, "idx must be a Tensor of integer token ids, got float32"),
    (lambda m: m([[0, 1]]), TypeError, "idx must be a Tensor of integer token ids, got list"),
    (lambda m: m(minidl.tensor([0, 1])), ValueError, r"idx must have shape \(N, T\)"),
    (lambda m: m(minidl.tensor(np.zeros((1, 9), dtype=np.int64))), ValueError, "context_length=8, got"),
    (lambda m: m.generate(minidl.tensor([[0]]), -1), ValueError, "max_new_tokens must be an int >= 0"),
    (lambda m: GPT(11, 8, embed_dim=10, num_heads=4), ValueError, r"embed_dim \(10\) must be a multiple of num_heads \(4\)"),
    (lambda m: GPT(0, 8), ValueError, "vocab_size must be a positive int, got 0"),
])
def test_gpt_rejects_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call(small_gpt())


# ---- LoRA ------------------------------------------------------------------------------------------
def lora_layer(rng, in_features=6, out_features=5, rank=3, alpha=6.0, random_B=True):
    layer = nn.LoRALinear(nn.Linear(in_features, out_features), rank=rank, alpha=alpha)
    if random_B:   # B starts at zero; a trained adapter has B != 0
        layer.lora_B.data[...] = minidl.tensor(rng.normal(size=(out_features, rank)).astype(np.float32)).data
    return layer


@pytest.mark.parametrize("rank", [1, 4])
def test_lora_starts_equal_to_the_base_layer(rng, rank):
    base = nn.Linear(6, 5)
    x = minidl.tensor(rng.normal(size=(4, 3, 6)).astype(np.float32))
    expected = base(x).detach().cpu().numpy()
    np.testing.assert_array_equal(nn.LoRALinear(base, rank=rank)(x).detach().cpu().numpy(), expected)


@pytest.mark.parametrize("rank, alpha", [(1, 1.0), (3, 6.0), (8, 16.0)])
def test_lora_matches_a_pytorch_computation_forward_and_backward(rng, torch, rank, alpha):
    layer = lora_layer(rng, rank=rank, alpha=alpha)
    x = rng.normal(size=(4, 6)).astype(np.float32)
    ours = layer(minidl.tensor(x))
    (ours * ours).sum().backward()
    W, b, A, B = (torch.tensor(p.detach().cpu().numpy(), requires_grad=True)
                  for p in (layer.base.weight, layer.base.bias, layer.lora_A, layer.lora_B))
    expected = torch.tensor(x) @ W.T + b + (alpha / rank) * (torch.tensor(x) @ A.T) @ B.T
    (expected * expected).sum().backward()
    np.testing.assert_allclose(ours.detach().cpu().numpy(), expected.detach().cpu().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.lora_A.grad.cpu().numpy(), A.grad.cpu().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.lora_B.grad.cpu().numpy(), B.grad.cpu().numpy(), rtol=1e-4, atol=1e-4)


def lora_embedding(rng, rank=3, alpha=6.0):
    layer = nn.LoRAEmbedding(nn.Embedding(7, 5), rank=rank, alpha=alpha)
    # A starts at zero; a trained adapter has A != 0
    layer.lora_A.data[...] = minidl.tensor(rng.normal(size=(rank, 7)).astype(np.float32)).data
    return layer


def test_lora_embedding_starts_equal_to_the_base_table(rng):
    base = nn.Embedding(7, 5)
    ids = minidl.tensor(rng.integers(0, 7, (3, 4)))
    np.testing.assert_array_equal(nn.LoRAEmbedding(base, rank=2)(ids).detach().cpu().numpy(), base(ids).detach().cpu().numpy())


@pytest.mark.parametrize("rank, alpha", [(1, 1.0), (3, 6.0)])
def test_lora_embedding_matches_a_pytorch_computation_forward_and_backward(rng, torch, rank, alpha):
    layer = lora_embedding(rng, rank, alpha)
    ids = rng.integers(0, 7, (4, 3))
    ours = layer(minidl.tensor(ids))
    (ours * ours).sum().backward()
    E, A, B = (torch.tensor(p.detach().cpu().numpy(), requires_grad=True) for p in (layer.base.weight, layer.lora_A, layer.lora_B))
    expected = E[torch.tensor(ids)] + (alpha / rank) * A.T[torch.tensor(ids)] @ B.T
    (expected * expected).sum().backward()
    np.testing.assert_allclose(ours.detach().cpu().numpy(), expected.detach().cpu().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.lora_A.grad.cpu().numpy(), A.grad.cpu().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.lora_B.grad.cpu().numpy(), B.grad.cpu().numpy(), rtol=1e-4, atol=1e-4)


def test_lora_embedding_merge_and_unmerge_round_trip(rng):
    layer = lora_embedding(rng)
    ids = minidl.tensor(rng.integers(0, 7, (2, 6)))
    table, adapted = layer.base.weight.detach().cpu().numpy().copy(), layer(ids).detach().cpu().numpy()
    np.testing.assert_allclose(layer.merge()(ids).detach().cpu().numpy(), adapted, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.unmerge().base.weight.detach().cpu().numpy(), table)


def test_only_the_adapters_receive_gradients(rng):
    layer = lora_layer(rng)
    layer(minidl.tensor(rng.normal(size=(4, 6)).astype(np.float32))).sum().backward()
    assert layer.base.weight.grad is None and layer.base.bias.grad is None
    assert not layer.base.weight.requires_grad
    assert layer.lora_A.grad is not None and layer.lora_B.grad is not None
    assert [name for name, p in layer.named_parameters() if p.requires_grad] == ["lora_A", "lora_B"]


def test_merge_folds_the_update_into_the_weight_and_unmerge_restores_it(rng):
    layer = lora_layer(rng)
    x = minidl.tensor(rng.normal(size=(4, 6)).astype(np.float32))
    weight, adapted = layer.base.weight.detach().cpu().numpy().copy(), layer(x).detach().cpu().numpy()
    layer.merge()
    np.testing.assert_allclose(layer(x).detach().cpu().numpy(), adapted, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.base.weight.detach().cpu().numpy(), weight + layer.delta_weight().detach().cpu().numpy(), rtol=1e-6, atol=1e-6)
    layer.unmerge()
    np.testing.assert_array_equal(layer.base.weight.detach().cpu().numpy(), weight)
    np.testing.assert_array_equal(layer(x).detach().cpu().numpy(), adapted)


def test_merging_a_tied_output_layer_leaves_the_token_embedding_unchanged(rng):
    model = small_gpt()
    nn.apply_lora(model, ["lm_head"], rank=2)
    model.lm_head.lora_B.data[...] = minidl.tensor(rng.normal(size=(11, 2)).astype(np.float32)).data
    ids = token_ids(rng, (2, 5))
    embedding, adapted = model.token_embedding.weight.detach().cpu().numpy().copy(), model(ids).detach().cpu().numpy()
    model.lm_head.merge()
    np.testing.assert_array_equal(model.token_embedding.weight.detach().cpu().numpy(), embedding)
    np.testing.assert_allclose(model(ids).detach().cpu().numpy(), adapted, rtol=1e-5, atol=1e-5)
    assert "lm_head.base.weight" in model.state_dict()


def test_apply_lora_wraps_embeddings_in_lora_embedding():
    model = small_gpt()
    assert nn.apply_lora(model, ["token_embedding"], rank=2) == ["token_embedding"]
    assert isinstance(model.token_embedding, nn.LoRAEmbedding)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 2 * (11 + 16)


def test_apply_lora_adapts_the_named_layers_and_freezes_the_rest():
    model = small_gpt()
    replaced = nn.apply_lora(model, ["out_proj", "linear1"], rank=2)
    assert replaced == ["blocks.0.self_attn.out_proj", "blocks.0.linear1", "blocks.1.self_attn.out_proj", "blocks.1.linear1"]
    trainable = {name: p.numel() for name, p in model.named_parameters() if p.requires_grad}
    assert all(name.endswith(("lora_A", "lora_B")) for name in trainable)
    assert sum(trainable.values()) == 2 * (2 * (16 + 16) + 2 * (16 + 64))
    assert isinstance(model.blocks[1].linear1, nn.LoRALinear) and not isinstance(model.blocks[1].linear2, nn.LoRALinear)


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.LoRALinear(nn.Embedding(3, 4)), TypeError, "base must be an nn.Linear, got Embedding"),
    (lambda: nn.LoRALinear(nn.Linear(3, 4), rank=0), ValueError, "rank must be a positive int, got 0"),
    (lambda: nn.LoRALinear(nn.Linear(3, 4), rank=2.0), ValueError, "rank must be a positive int, got 2.0"),
    (lambda: nn.LoRALinear(nn.Linear(3, 4), alpha=0), ValueError, "alpha must be > 0, got 0"),
    (lambda: nn.LoRALinear(nn.Linear(3, 4)).merge().merge(), RuntimeError, "already merged"),
    (lambda: nn.LoRALinear(nn.Linear(3, 4)).unmerge(), RuntimeError, "is not merged"),
    (lambda: nn.apply_lora(small_gpt(), "linear1"), TypeError, "target_modules must be a list or tuple"),
    (lambda: nn.apply_lora(small_gpt(), ["q_proj"]), ValueError, r"no Linear or Embedding of the model matches \['q_proj'\]"),
    (lambda: nn.LoRAEmbedding(nn.Linear(3, 4)), TypeError, "base must be an nn.Embedding, got Linear"),
    (lambda: nn.LoRAEmbedding(nn.Embedding(3, 4), rank=-1), ValueError, "LoRAEmbedding: rank must be a positive int, got -1"),
])
def test_lora_rejects_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
