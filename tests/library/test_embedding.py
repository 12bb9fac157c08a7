"""Embedding lookups: a one-hot product computed as a row lookup, with gradients that add up per use."""

import numpy as np
import pytest

import minidl
import minidl.nn as nn
import minidl.nn.functional as F
from conftest import leaf


def test_embedding_output_shape_appends_the_embedding_dimension():
    layer = nn.Embedding(10, 4)
    assert layer.weight.shape == (10, 4)
    assert layer(minidl.tensor([[1, 2, 3], [4, 5, 6]])).shape == (2, 3, 4)


def test_embedding_equals_one_hot_times_the_weight_matrix():
    layer = nn.Embedding(6, 3)
    indices = minidl.tensor([0, 5, 2, 2])
    product = F.one_hot(indices, 6) @ layer.weight
    np.testing.assert_allclose(layer(indices).detach().cpu().numpy(), product.detach().cpu().numpy(), rtol=1e-6)


def test_embedding_initialization_is_standard_normal():
    weight = nn.Embedding(2000, 50).weight.detach().cpu().numpy()
    assert abs(weight.mean()) < 0.01 and abs(weight.std() - 1) < 0.01


def test_repeated_indices_accumulate_their_gradients():
    weight = leaf(np.zeros((4, 2)))
    F.embedding(minidl.tensor([1, 3, 1, 1]), weight).sum().backward()
    np.testing.assert_array_equal(weight.grad.cpu().numpy(), [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_embedding_gradient_matches_finite_differences(rng):
    weight = leaf(rng.normal(size=(5, 3)))
    indices = minidl.tensor([[0, 4, 4], [2, 0, 4]])
    assert minidl.gradcheck(lambda w: F.embedding(indices, w), [weight])


def test_embedding_matches_pytorch_with_repeated_indices(rng, torch):
    ours = nn.Embedding(7, 3)
    theirs = torch.nn.Embedding(7, 3)
    theirs.load_state_dict({k: torch.tensor(v.cpu().numpy()) for k, v in ours.state_dict().items()})
    indices = rng.integers(0, 7, size=(4, 9))
    upstream = rng.normal(size=(4, 9, 3)).astype(np.float32)
    out = ours(minidl.tensor(indices))
    (out * minidl.tensor(upstream)).sum().backward()
    torch_out = theirs(torch.tensor(indices))
    (torch_out * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out.detach().cpu().numpy(), torch_out.detach().cpu().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.weight.grad.cpu().numpy(), theirs.weight.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [[0, 7], [-1, 2]])
def test_out_of_range_indices_raise_a_clear_error(bad):
    with pytest.raises(IndexError, match=r"\[0, 6\].*num_embeddings=7"):
        nn.Embedding(7, 2)(minidl.tensor(bad))


def test_float_indices_are_refused():
    with pytest.raises(TypeError, match="integer indices"):
        nn.Embedding(7, 2)(minidl.tensor([1.0, 2.0]))
