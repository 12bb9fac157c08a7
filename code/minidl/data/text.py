"""Baselines for next-token prediction, computed on the host from token indices."""

import numpy

from minidl.tensor import Tensor, to_numpy

__all__ = ["unigram_cross_entropy"]


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
