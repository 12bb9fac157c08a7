"""Text corpora for next-token prediction, on the host: the book's train/validation split and the unigram baseline."""

import numpy

from minidl.tensor import Tensor, to_numpy

__all__ = ["split_corpus", "unigram_cross_entropy", "validation_windows"]


def split_corpus(corpus, train_fraction=0.9):
    """The book's train/validation split of a corpus: its first part to train on, the rest to validate on.

    The first ``int(train_fraction * len(corpus))`` items train and the remaining ones validate. The split
    is contiguous and involves no randomness: a random split of a text's characters would put the
    neighbours of every validation character into the training set, so the validation loss would no
    longer measure what a model does on text it has not read. Every text model of Parts 2 and 6
    validates on the last tenth of ``load_text()``, and the music lab on the last tenth of the tunes.

    ``corpus`` is a ``str`` (split into two strings), a ``list`` or ``tuple`` (of tunes, say) or a 1-D
    NumPy array of token indices (split into two views); ``train_fraction`` is a float strictly between
    0 and 1. Returns ``(train, validation)`` of the corpus's type, ``len(train) + len(validation) ==
    len(corpus)``. Raises ``TypeError`` for another type of corpus or a 2-D array, ``ValueError`` for a
    fraction outside (0, 1) or a corpus too short to leave at least one item in each part.

    Taught in "Encoding language" (book/part2/embeddings.md), "Attention and transformers" (book/part2/attention.md), "Lab: generating music" (book/part2/music_lab.md) and "Language models" (book/part6/language_models.md).
    """
    if isinstance(corpus, numpy.ndarray):
        if corpus.ndim != 1:
            raise TypeError(f"split_corpus: corpus must be a 1-D array of token indices, got shape {corpus.shape}")
    elif not isinstance(corpus, (str, list, tuple)):
        raise TypeError(f"split_corpus: corpus must be a str, list, tuple or 1-D numpy array, got {type(corpus).__name__}")
    if isinstance(train_fraction, bool) or not isinstance(train_fraction, (int, float)) or not 0 < train_fraction < 1:
        raise ValueError(f"split_corpus: train_fraction must be a number strictly between 0 and 1, got {train_fraction!r}")
    split = int(train_fraction * len(corpus))
    if split == 0 or split == len(corpus):
        raise ValueError(
            f"split_corpus: a corpus of {len(corpus)} items split at train_fraction={train_fraction} leaves "
            f"{split} to train on and {len(corpus) - split} to validate on; each part needs at least one"
        )
    return corpus[:split], corpus[split:]


def validation_windows(num_tokens, length, context):
    """Overlapping windows that score every validation token once, each from at least ``context`` tokens.

    A sequence model reading a window of ``length`` tokens predicts its first target from one token,
    its second from two, and so on; scoring every position of separate windows would charge it for
    predictions made from almost no context. These windows start ``length - context + 1`` tokens apart
    and count only their last predictions, those made from ``context`` to ``length`` tokens; the last
    window ends at the end of the sequence and counts only the targets not yet counted. Together they
    count every target ``context, ..., num_tokens - 1`` exactly once: the validation characters of the
    loss defined in "Encoding language", which a model reading ``context`` tokens scores from its
    ``context`` predecessors.

    ``num_tokens``, ``length`` and ``context`` are ints with ``1 <= context <= length < num_tokens``.
    Returns ``(starts, scored)``: ``starts``, int64 of shape (W,), where window w reads tokens
    ``[starts[w], starts[w] + length)`` and predicts tokens ``[starts[w] + 1, starts[w] + length]``;
    ``scored``, bool of shape (W, length), True where the prediction of token ``starts[w] + 1 + j``
    (made from ``j + 1`` tokens) counts. Raises ``ValueError`` for other arguments.

    Taught in "Attention and transformers" (book/part2/attention.md), "Lab: generating music" (book/part2/music_lab.md) and "Language models" (book/part6/language_models.md).
    """
    for name, value in (("num_tokens", num_tokens), ("length", length), ("context", context)):
        if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
            raise ValueError(f"validation_windows: {name} must be an int, got {value!r}")
    if not 1 <= context <= length < num_tokens:
        raise ValueError(
            "validation_windows: expected 1 <= context <= length < num_tokens, got "
            f"context={context}, length={length}, num_tokens={num_tokens}"
        )
    stride = length - context + 1
    starts = numpy.minimum(numpy.arange(0, num_tokens - context, stride), num_tokens - length - 1).astype(numpy.int64)
    first_counted = numpy.concatenate([[context], starts[:-1] + length + 1])
    scored = starts[:, None] + 1 + numpy.arange(length) >= first_counted[:, None]
    return starts, scored


def _token_array(tokens, name, vocab_size):
    """A flat int64 host array of the indices in ``tokens``, each checked to lie in [0, vocab_size)."""
    array = to_numpy(tokens) if isinstance(tokens, Tensor) else numpy.asarray(tokens)
    if array.dtype.kind not in "iu":
        raise TypeError(f"unigram_cross_entropy: {name} must hold integer token indices, got dtype {array.dtype}")
    array = array.ravel().astype(numpy.int64)
    if array.size == 0:
        raise ValueError(f"unigram_cross_entropy: {name} is empty")
    if array.min() < 0 or array.max() >= vocab_size:
        raise ValueError(
            f"unigram_cross_entropy: {name} holds indices from {array.min()} to {array.max()}; "
            f"expected indices in [0, vocab_size) = [0, {vocab_size})"
        )
    return array


def unigram_cross_entropy(train_tokens, tokens, vocab_size, smoothing=1):
    """Cross-entropy, in nats per token, of ``tokens`` under the unigram model of ``train_tokens``.

    The unigram model ignores the context and predicts token t with its training frequency,
    p(t) = (count(t) + smoothing) / sum_s (count(s) + smoothing); the result is the mean of
    -log p(t) over ``tokens``, the loss a next-token model must beat to have used its context. Adding
    ``smoothing`` (1, "add-one") to every count keeps unseen tokens from costing infinitely much.

    ``train_tokens`` and ``tokens`` are integer arrays or Tensors of any shape (flattened) holding
    indices in [0, ``vocab_size``). Returns a Python float (computed in float64 on the host). Raises
    ``TypeError`` for non-integer tokens; ``ValueError`` for an index out of range, an empty array,
    a negative ``smoothing``, or (with ``smoothing=0``) a token of ``tokens`` that never occurs in
    ``train_tokens``, whose cross-entropy would be infinite.

    Taught in "Encoding language" (book/part2/embeddings.md), "Attention and transformers" (book/part2/attention.md), "Lab: generating music" (book/part2/music_lab.md) and "Language models" (book/part6/language_models.md).
    """
    if not isinstance(vocab_size, int) or vocab_size <= 0:
        raise ValueError(f"unigram_cross_entropy: vocab_size must be a positive int, got {vocab_size!r}")
    if not smoothing >= 0:
        raise ValueError(f"unigram_cross_entropy: smoothing must be >= 0, got {smoothing!r}")
    train = _token_array(train_tokens, "train_tokens", vocab_size)
    targets = _token_array(tokens, "tokens", vocab_size)
    counts = numpy.bincount(train, minlength=vocab_size) + smoothing
    unseen = numpy.flatnonzero(counts[targets] == 0)
    if unseen.size:
        raise ValueError(
            f"unigram_cross_entropy: token {targets[unseen[0]]} of tokens never occurs in train_tokens, so its "
            "probability is 0 and the cross-entropy infinite; use smoothing > 0"
        )
    return float(-numpy.log(counts[targets] / counts.sum()).mean())
