"""minidl.data.split_corpus, validation_windows and unigram_cross_entropy: the book's text split, its scored
characters and the context-free baseline."""

import numpy as np
import pytest

import minidl
from minidl.data import split_corpus, unigram_cross_entropy, validation_windows


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


CORPORA = {
    "text": "abcdefghijklmnopqrstuvwxyz" * 4,
    "tunes": [f"X:{i}\nK:D\nabc|" for i in range(37)],
    "tuple": tuple(range(11)),
    "ids": np.arange(1000, dtype=np.int64) % 7,
}


@pytest.mark.parametrize("name", CORPORA)
@pytest.mark.parametrize("train_fraction", [0.9, 0.5, 0.25])
def test_split_corpus_puts_the_first_int_fraction_items_in_train(name, train_fraction):
    corpus = CORPORA[name]
    train, validation = split_corpus(corpus, train_fraction)
    assert len(train) == int(train_fraction * len(corpus)) and len(train) + len(validation) == len(corpus)
    assert type(train) is type(corpus) and type(validation) is type(corpus)


@pytest.mark.parametrize("name", CORPORA)
def test_split_corpus_parts_are_disjoint_and_rebuild_the_corpus_in_order(name):
    corpus = CORPORA[name]
    train, validation = split_corpus(corpus)
    if isinstance(corpus, np.ndarray):
        assert np.array_equal(np.concatenate([train, validation]), corpus)
    else:
        assert train + validation == corpus
    positions = np.arange(len(corpus))
    assert set(positions[: len(train)]).isdisjoint(positions[len(train):])


@pytest.mark.parametrize("name", CORPORA)
def test_split_corpus_is_deterministic(name):
    corpus = CORPORA[name]
    first, second = split_corpus(corpus), split_corpus(corpus)
    for a, b in zip(first, second):
        assert (np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b)


def test_split_corpus_default_is_the_last_tenth_of_the_books_text():
    corpus = minidl.data.load_text()
    train, validation = split_corpus(corpus)
    assert len(train) == int(0.9 * len(corpus)) and corpus.endswith(validation)


@pytest.mark.parametrize("corpus, train_fraction, error, message", [
    ({"a": 1}, 0.9, TypeError, "corpus must be a str, list, tuple or 1-D numpy array, got dict"),
    (np.zeros((3, 4), dtype=np.int64), 0.9, TypeError, r"corpus must be a 1-D array of token indices, got shape \(3, 4\)"),
    ("abcdef", 1.0, ValueError, "train_fraction must be a number strictly between 0 and 1, got 1.0"),
    ("abcdef", 0, ValueError, "train_fraction must be a number strictly between 0 and 1, got 0"),
    ("abcdef", True, ValueError, "train_fraction must be a number strictly between 0 and 1, got True"),
    ("abcdef", "0.9", ValueError, "train_fraction must be a number strictly between 0 and 1, got '0.9'"),
    ("a", 0.9, ValueError, "a corpus of 1 items split at train_fraction=0.9 leaves 0 to train on and 1"),
    ("abcdef", 0.1, ValueError, "leaves 0 to train on and 6 to validate on"),
    ("", 0.5, ValueError, "a corpus of 0 items"),
])
def test_split_corpus_rejects_bad_input(corpus, train_fraction, error, message):
    with pytest.raises(error, match=message):
        split_corpus(corpus, train_fraction)


WINDOW_CASES = [(100, 32, 8), (46513, 32, 8), (19494, 64, 8), (33, 32, 8), (40, 8, 8), (50, 10, 1), (58, 32, 8)]


@pytest.mark.parametrize("num_tokens, length, context", WINDOW_CASES)
def test_validation_windows_count_every_target_from_context_on_exactly_once(num_tokens, length, context):
    starts, scored = validation_windows(num_tokens, length, context)
    targets = starts[:, None] + 1 + np.arange(length)
    assert np.array_equal(np.sort(targets[scored]), np.arange(context, num_tokens))


@pytest.mark.parametrize("num_tokens, length, context", WINDOW_CASES)
def test_validation_windows_predict_from_context_to_length_tokens_inside_the_sequence(num_tokens, length, context):
    starts, scored = validation_windows(num_tokens, length, context)
    assert starts.dtype == np.int64 and scored.dtype == bool and scored.shape == (len(starts), length)
    assert starts.min() == 0 and starts.max() + length + 1 <= num_tokens
    tokens_read = np.broadcast_to(np.arange(1, length + 1), scored.shape)[scored]
    assert tokens_read.min() >= context and tokens_read.max() <= length


def test_validation_windows_are_deterministic_and_start_length_minus_context_plus_one_apart():
    starts, scored = validation_windows(1000, 32, 8)
    again, scored_again = validation_windows(1000, 32, 8)
    assert np.array_equal(starts, again) and np.array_equal(scored, scored_again)
    assert set(np.diff(starts[:-1])) == {25} and scored[0].sum() == 25


@pytest.mark.parametrize("num_tokens, length, context, message", [
    (32, 32, 8, "expected 1 <= context <= length < num_tokens, got context=8, length=32, num_tokens=32"),
    (100, 8, 9, "context=9, length=8"),
    (100, 8, 0, "context=0"),
    (100, 8.0, 4, "length must be an int, got 8.0"),
    (True, 8, 4, "num_tokens must be an int, got True"),
])
def test_validation_windows_reject_bad_arguments(num_tokens, length, context, message):
    with pytest.raises(ValueError, match=message):
        validation_windows(num_tokens, length, context)
