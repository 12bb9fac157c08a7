"""minidl.data.unigram_cross_entropy: the context-free baseline of next-token prediction."""

import numpy as np
import pytest

import minidl
from minidl.data import unigram_cross_entropy


@pytest.mark.parametrize("smoothing", [1, 0.5, 0])
def test_unigram_cross_entropy_is_torchs_cross_entropy_of_the_frequencies(torch, rng, smoothing):
    vocab_size = 7
    train = rng.integers(0, vocab_size, 500)
    targets = rng.integers(0, vocab_size, 60)
    log_frequencies = np.log(np.bincount(train, minlength=vocab_size) + smoothing)
    logits = torch.tensor(np.tile(log_frequencies, (len(targets), 1)))   # the same prediction everywhere
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor(targets)).item()
    assert unigram_cross_entropy(train, targets, vocab_size, smoothing) == pytest.approx(expected, rel=1e-12)


def test_unigram_cross_entropy_takes_tensors_of_any_shape(rng):
    train, targets = rng.integers(0, 5, 100), rng.integers(0, 5, (4, 8))
    from_arrays = unigram_cross_entropy(train, targets.ravel(), 5)
    assert unigram_cross_entropy(minidl.tensor(train), minidl.tensor(targets), 5) == from_arrays
    assert isinstance(from_arrays, float)


def test_unigram_cross_entropy_of_one_repeated_token_is_small_but_not_zero():
    # add-one smoothing keeps a little probability for the 3 unseen tokens: p = 101 / 104
    assert unigram_cross_entropy([2] * 100, [2, 2], 4) == pytest.approx(-np.log(101 / 104))


@pytest.mark.parametrize("train, tokens, vocab_size, smoothing, error, message", [
    ([0, 1, 5], [0], 5, 1, ValueError, r"train_tokens holds indices from 0 to 5; expected indices in \[0, vocab_size\) = \[0, 5\)"),
    ([0, 1], [-1], 5, 1, ValueError, "tokens holds indices from -1 to -1"),
    ([0, 1], [0.0], 5, 1, TypeError, "tokens must hold integer token indices, got dtype float64"),
    ([], [0], 5, 1, TypeError, "train_tokens must hold integer token indices"),
    (np.array([], dtype=np.int64), [0], 5, 1, ValueError, "train_tokens is empty"),
    ([0, 1], [0], 0, 1, ValueError, "vocab_size must be a positive int, got 0"),
    ([0, 1], [0], 5, -1, ValueError, "smoothing must be >= 0, got -1"),
    ([0, 1], [0, 3], 5, 0, ValueError, "token 3 of tokens never occurs in train_tokens"),
])
def test_unigram_cross_entropy_rejects_bad_input(train, tokens, vocab_size, smoothing, error, message):
    with pytest.raises(error, match=message):
        unigram_cross_entropy(train, tokens, vocab_size, smoothing)
