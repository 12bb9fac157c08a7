"""minidl.data.CharTokenizer and BPETokenizer: round trips, the merges of a hand-worked example, bad input."""

import numpy as np
import pytest

import minidl
from minidl.data import BPETokenizer, CharTokenizer

CORPUS = "the cat sat on the mat; the hat is on the cat.\n" * 3


@pytest.mark.parametrize("text", ["the cat", "", "mat; hat.\n", CORPUS])
def test_char_tokenizer_round_trips(text):
    tokenizer = CharTokenizer(CORPUS)
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_char_tokenizer_numbers_the_sorted_characters():
    tokenizer = CharTokenizer("banana")
    assert tokenizer.chars == ["a", "b", "n"] and tokenizer.vocab_size == 3
    assert tokenizer.encode("nab") == [2, 0, 1]


@pytest.mark.parametrize("as_ids", [list, np.array, minidl.tensor], ids=["list", "array", "tensor"])
def test_decode_takes_lists_arrays_and_tensors(as_ids):
    char, bpe = CharTokenizer(CORPUS), BPETokenizer().train(CORPUS, 270)
    assert char.decode(as_ids(char.encode("the mat"))) == "the mat"
    assert bpe.decode(as_ids(bpe.encode("the mat"))) == "the mat"


def test_bpe_learns_the_merges_of_the_textbook_example():
    # "aaabdaaabac": aa -> Z, then ab -> Y (tied with Za, the smaller pair wins), then ZY -> X: "XdXac"
    tokenizer = BPETokenizer().train("aaabdaaabac", 259)
    a, b = ord("a"), ord("b")
    assert tokenizer.merges == [((a, a), 256), ((a, b), 257), ((256, 257), 258)]
    assert tokenizer.encode("aaabdaaabac") == [258, ord("d"), 258, a, ord("c")]
    assert tokenizer.vocab[258] == b"aaab"


@pytest.mark.parametrize("text, expected", [("aaaa", [256, 256]), ("aaaaa", [256, 256, ord("a")]), ("aab", [256, ord("b")])])
def test_bpe_merges_overlapping_pairs_left_to_right(text, expected):
    tokenizer = BPETokenizer().train("aaaa", 257)
    assert tokenizer.encode(text) == expected


def test_bpe_stops_when_no_pair_repeats():
    tokenizer = BPETokenizer().train("abcdef", 300)
    assert tokenizer.merges == [] and tokenizer.vocab_size == 256


@pytest.mark.parametrize("text", ["the cat sat", "unseen: é ✓ 日本", "", "x", CORPUS])
def test_bpe_round_trips_any_string(text):
    tokenizer = BPETokenizer().train(CORPUS, 290)
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_bpe_shortens_the_text_it_was_trained_on():
    tokenizer = BPETokenizer().train(CORPUS, 290)
    assert len(tokenizer.encode(CORPUS)) < len(CORPUS.encode()) / 3


def test_bpe_retraining_starts_afresh():
    tokenizer = BPETokenizer().train(CORPUS, 290)
    assert tokenizer.train("aaaa", 257).merges == [((97, 97), 256)] and tokenizer.vocab_size == 257


@pytest.mark.parametrize("call, error, message", [
    (lambda: CharTokenizer(""), ValueError, "text is empty"),
    (lambda: CharTokenizer(["a"]), TypeError, "text must be a str, got list"),
    (lambda: CharTokenizer("abc").encode("abz"), ValueError, r"character 'z' at position 2 is not in the vocabulary"),
    (lambda: CharTokenizer("abc").decode([0, 3]), ValueError, r"expected ids in \[0, vocab_size\) = \[0, 3\)"),
    (lambda: CharTokenizer("abc").decode([0.0]), TypeError, "ids must be integer token ids, got dtype float64"),
    (lambda: CharTokenizer("abc").decode([[0, 1]]), ValueError, r"ids must be one sequence \(1-D\), got shape \(1, 2\)"),
    (lambda: BPETokenizer().train("abc", 255), ValueError, "vocab_size must be an int >= 256"),
    (lambda: BPETokenizer().train(b"abc", 260), TypeError, "text must be a str, got bytes"),
    (lambda: BPETokenizer().encode(None), TypeError, "text must be a str, got NoneType"),
    (lambda: BPETokenizer().decode([256]), ValueError, r"expected ids in \[0, vocab_size\) = \[0, 256\)"),
])
def test_tokenizers_reject_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
