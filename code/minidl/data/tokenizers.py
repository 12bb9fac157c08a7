"""Tokenizers: text to a list of integer ids and back, by characters or by learned byte-pair merges.

A language model reads and writes integers. A character tokenizer gives every distinct character of a
corpus an id; byte-pair encoding (BPE, as in GPT-2) starts from the 256 byte values of UTF-8 and
repeatedly merges the most frequent adjacent pair into a new token, so common words and word pieces
become single tokens and a text becomes a shorter sequence. Both run on the host, in NumPy.
Taught in "Language models" (``book/part6/language_models.md``).
"""

import numpy

from minidl.tensor import Tensor, to_numpy

__all__ = ["BPETokenizer", "CharTokenizer"]


def _check_text(text, name, owner):
    if not isinstance(text, str):
        raise TypeError(f"{owner}: {name} must be a str, got {type(text).__name__}")


def _ids_array(ids, vocab_size, owner):
    """``ids`` (a list, a 1-D array or Tensor of integers) as a 1-D int64 host array, each in range."""
    array = to_numpy(ids) if isinstance(ids, Tensor) else numpy.asarray(ids)
    if array.size == 0:
        return numpy.zeros(0, dtype=numpy.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{owner}.decode: ids must be integer token ids, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{owner}.decode: ids must be one sequence (1-D), got shape {array.shape}")
    if array.min() < 0 or array.max() >= vocab_size:
        raise ValueError(
            f"{owner}.decode: ids hold values from {array.min()} to {array.max()}; expected ids in "
            f"[0, vocab_size) = [0, {vocab_size})"
        )
    return array.astype(numpy.int64)


class CharTokenizer:
    """One token per distinct character of ``text``, numbered in sorted order.

    ``encode(s)`` returns a list of ints in [0, vocab_size), ``decode(ids)`` the string back, so
    ``decode(encode(s)) == s`` for every string made of the vocabulary's characters. ``chars`` is the
    sorted vocabulary. Raises TypeError if ``text`` is not a str, ValueError if it is empty, and
    ``encode`` raises ValueError for a character outside the vocabulary, naming it and its position.

    Taught in "Language models" (book/part6/language_models.md) and "Lab: fine-tuning a language model" (book/part6/finetuning_lab.md).
    """

    def __init__(self, text):
        _check_text(text, "text", "CharTokenizer")
        if not text:
            raise ValueError("CharTokenizer: text is empty, so there is no vocabulary to build")
        self.chars = sorted(set(text))
        self.index = {char: i for i, char in enumerate(self.chars)}

    @property
    def vocab_size(self):
        """The number of distinct characters, the size of the model's output layer."""
        return len(self.chars)

    def encode(self, text):
        """The list of character ids of ``text``."""
        _check_text(text, "text", "CharTokenizer.encode")
        try:
            return [self.index[char] for char in text]
        except KeyError as error:
            position = next(i for i, char in enumerate(text) if char not in self.index)
            raise ValueError(
                f"CharTokenizer.encode: character {error.args[0]!r} at position {position} is not in the "
                f"vocabulary of {self.vocab_size} characters the tokenizer was built from"
            ) from None

    def decode(self, ids):
        """The string of the character ids ``ids`` (a list, 1-D array or 1-D Tensor of ints)."""
        return "".join(self.chars[i] for i in _ids_array(ids, self.vocab_size, "CharTokenizer"))

    def __repr__(self):
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def _merge(ids, pair, new_id):
    """``ids`` with every non-overlapping occurrence of ``pair``, left to right, replaced by ``new_id``."""
    first, second = pair
    starts = numpy.flatnonzero((ids[:-1] == first) & (ids[1:] == second))
    if starts.size == 0:
        return ids
    if first == second:
        # matches overlap in a run such as "aaaa" (starts 0, 1, 2): a left-to-right scan merges the 1st,
        # 3rd, ... match of each run of consecutive starts
        run_begins = numpy.flatnonzero(numpy.diff(starts, prepend=-2) != 1)
        run_of = numpy.cumsum(numpy.diff(starts, prepend=-2) != 1) - 1
        starts = starts[(numpy.arange(len(starts)) - run_begins[run_of]) % 2 == 0]
    out = ids.copy()
    out[starts] = new_id
    keep = numpy.ones(len(ids), dtype=bool)
    keep[starts + 1] = False
    return out[keep]


class BPETokenizer:
    """Byte-level byte-pair encoding, learned on a corpus with ``train`` (GPT-2's scheme, without its
    splitting of text into words first).

    Token ids 0..255 are the bytes of UTF-8; ``train(text, vocab_size)`` adds ``vocab_size - 256``
    merges, each the most frequent adjacent pair of the current sequence (ties broken by the smaller
    pair), recorded in ``merges`` (a list of ((left, right), new_id) in the order learned). ``encode``
    applies the merges in that order to any string; ``decode`` joins the tokens' bytes and decodes
    UTF-8 (invalid bytes, possible in an arbitrary id sequence, become U+FFFD). ``vocab`` maps each id
    to its bytes. Raises TypeError for non-str text, ValueError for ``vocab_size`` < 256.

    Taught in "Language models" (book/part6/language_models.md).
    """

    def __init__(self):
        self.merges = []
        self.vocab = {i: bytes([i]) for i in range(256)}

    @property
    def vocab_size(self):
        """256 byte tokens plus one per learned merge."""
        return len(self.vocab)

    def train(self, text, vocab_size):
        """Learn ``vocab_size - 256`` merges from ``text``; stops early if no pair occurs twice. Returns self."""
        _check_text(text, "text", "BPETokenizer.train")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 256:
            raise ValueError(f"BPETokenizer.train: vocab_size must be an int >= 256 (the byte tokens), got {vocab_size!r}")
        self.__init__()
        ids = numpy.frombuffer(text.encode("utf-8"), dtype=numpy.uint8).astype(numpy.int64)
        for new_id in range(256, vocab_size):
            if len(ids) < 2:
                break
            codes = ids[:-1] * vocab_size + ids[1:]          # one integer per adjacent pair
            counts = numpy.bincount(codes)
            best = int(counts.argmax())                       # the smallest code among the most frequent
            if counts[best] < 2:
                break
            pair = (best // vocab_size, best % vocab_size)
            ids = _merge(ids, pair, new_id)
            self.merges.append((pair, new_id))
            self.vocab[new_id] = self.vocab[pair[0]] + self.vocab[pair[1]]
        return self

    def encode(self, text):
        """The token ids of ``text``: its UTF-8 bytes with the learned merges applied in order."""
        _check_text(text, "text", "BPETokenizer.encode")
        ids = numpy.frombuffer(text.encode("utf-8"), dtype=numpy.uint8).astype(numpy.int64)
        for pair, new_id in self.merges:
            if len(ids) < 2:
                break
            ids = _merge(ids, pair, new_id)
        return ids.tolist()

    def decode(self, ids):
        """The string of the token ids ``ids`` (a list, 1-D array or 1-D Tensor of ints)."""
        array = _ids_array(ids, self.vocab_size, "BPETokenizer")
        return b"".join(self.vocab[i] for i in array.tolist()).decode("utf-8", errors="replace")

    def __repr__(self):
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)})"
