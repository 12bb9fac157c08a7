"""Drawing the next token from a model's logits: temperature and top-k sampling.

Dividing the logits by a temperature T before the softmax sharpens the distribution (T < 1, towards
the most likely token) or flattens it (T > 1, towards uniform); top-k keeps only the k likeliest tokens.
Taught in "Lab: generating music" (``book/part2/music_lab.md``).
"""

from minidl import backend
from minidl.tensor import Tensor


def sample(logits, temperature=1.0, top_k=None, generator=None):
    """One token index per row of ``logits`` ((V,) or (N, V)), drawn from softmax(logits / temperature).

    ``top_k`` restricts the draw to the k largest logits (ties at the k-th value are kept). Draws come
    from the library's seeded stream (``minidl.manual_seed``) unless ``generator``, a NumPy
    ``Generator``, is given. Returns an int64 tensor of shape () or (N,). Raises RuntimeError, as
    ``torch.multinomial`` does, for a row with NaN, +inf or only -inf (no distribution to draw from).

    Taught in "Encoding language" (book/part2/embeddings.md) and "Lab: generating music" (book/part2/music_lab.md).
    """
    logits = logits if isinstance(logits, Tensor) else Tensor(logits)
    if logits.ndim not in (1, 2) or logits.shape[-1] == 0:
        raise ValueError(f"sample: logits must have shape (V,) or (N, V) with V >= 1, got {logits.shape}")
    if not temperature > 0:
        raise ValueError(
            f"sample: temperature must be > 0, got {temperature} (use argmax for greedy decoding)"
        )
    vocabulary = logits.shape[-1]
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= vocabulary):
        raise ValueError(f"sample: top_k must be an integer in [1, {vocabulary}] (the number of logits) or None, got {top_k!r}")
    xp, current = backend.xp(logits.data), backend.of(logits.data)
    backend.check_generator(generator, "sample")
    rows = logits.data.reshape(-1, vocabulary).astype(backend.float64)
    undefined = xp.isnan(rows).any(axis=1) | (rows == xp.inf).any(axis=1) | (rows == -xp.inf).all(axis=1)
    if undefined.any():
        raise RuntimeError(
            "sample: probability tensor contains either `inf`, `nan` or element < 0: logits row "
            f"{int(undefined.argmax())} holds NaN, +inf or only -inf, so softmax(logits / temperature) is "
            "undefined; check the model's output (did the training loss become NaN?)"
        )
    # shift before dividing, so a tiny temperature sends every non-maximal logit to -inf, not inf - inf
    scaled = (rows - rows.max(axis=1, keepdims=True)) / temperature
    if top_k is not None:
        threshold = xp.sort(scaled, axis=1)[:, vocabulary - top_k : vocabulary - top_k + 1]
        scaled = xp.where(scaled >= threshold, scaled, -xp.inf)
    cumulative = xp.cumsum(xp.exp(scaled), axis=1)
    if generator is None:
        uniform = current.uniform((rows.shape[0], 1), backend.float64)
    else:
        uniform = current.from_host(generator.random((rows.shape[0], 1)))
    # the token is the first whose cumulative mass exceeds u * total: inverse-CDF sampling
    tokens = (cumulative <= uniform * cumulative[:, -1:]).sum(axis=1).clip(0, vocabulary - 1)
    tokens = tokens.astype(backend.int64)
    return Tensor._from_op(tokens.reshape(logits.shape[:-1]), (), None)
