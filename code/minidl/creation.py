"""Tensor factories and random draws named as in PyTorch (``zeros``, ``full``, ``randn``, ``multinomial``, ...).

Every tensor is made on the default device (``minidl.use_backend``) or on ``device=`` (``"cpu"``,
``"cuda"``; see ``minidl.device``). Random draws come from the library's seeded stream (``minidl.manual_seed``), made
on the device, or from ``generator``, a NumPy ``Generator`` such as ``numpy.random.default_rng(0)``,
where a function takes one. Integer and permutation draws are built from uniform ones:
``low + floor(u (high - low))`` and the order that sorts n uniform numbers.
"""

import numbers

from minidl import backend
from minidl.tensor import Tensor
from minidl.device import backend_for
from minidl.tensor.promotion import move
from minidl.tensor.shapes import shape_arg


def _leaf(data, requires_grad, device=None):
    """A leaf tensor of ``data`` (made on the default device) on ``device`` (None: the default device)."""
    made = Tensor(data)
    if device is not None:
        made = move(made, backend_for(device))
    return made.requires_grad_(requires_grad)


def _like(input, device):
    """The device of a ``*_like`` result: ``device`` if given, else ``input``'s, as in PyTorch."""
    return device if device is not None or not isinstance(input, Tensor) else input.device


def _dtype(dtype, default, name):
    """``dtype`` as a dtype object (``default`` when None), or TypeError naming ``name``'s argument."""
    try:
        return backend.xp().dtype(default if dtype is None else dtype)
    except TypeError:
        raise TypeError(f"{name}(): dtype must be a dtype such as minidl.float32, got {dtype!r}") from None


def _draw(kind, shape, dtype, generator, name, owner=None):
    """Uniform [0, 1) or standard normal draws of ``shape`` in floating ``dtype``, on backend ``owner``'s
    device (None: the default device's)."""
    if dtype.kind != "f":
        raise NotImplementedError(
            f"{name}(): random {kind} draws need a floating dtype, got {dtype} (PyTorch refuses it too); "
            "use randint for integers"
        )
    current = owner or backend.current()
    drawn = backend.float64 if dtype == backend.float64 else backend.float32  # what the generators make
    if backend.check_generator(generator, f"{name}()") is None:
        values = current.uniform(shape, drawn) if kind == "uniform" else current.normal(shape, drawn)
    else:
        host = generator.random(shape, dtype=drawn) if kind == "uniform" else generator.standard_normal(shape, dtype=drawn)
        values = current.from_host(host)
    if values.dtype != dtype:  # float16: rounding must not carry a uniform draw up to 1
        values = values.astype(dtype)
        if kind == "uniform":
            xp = current.xp
            values = xp.minimum(values, xp.nextafter(xp.ones((), dtype), xp.zeros((), dtype)))
    return values


def _size(size, name):
    """A size given as a tuple or list of non-negative ints (PyTorch's ``size`` argument)."""
    if not isinstance(size, (tuple, list)) or not all(isinstance(n, int) and not isinstance(n, bool) for n in size):
        raise TypeError(f"{name}(): argument 'size' must be tuple of ints, not {type(size).__name__} ({size!r})")
    _check_sizes(tuple(size))
    return tuple(size)


def _check_sizes(shape):
    if any(n < 0 for n in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}")


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros of the given shape (float32 unless ``dtype`` says otherwise), e.g. a bias or a state.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    shape = shape_arg(size)
    _check_sizes(shape)
    return _leaf(backend.xp().zeros(shape, dtype=_dtype(dtype, backend.float32, "zeros")), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones of the given shape (float32 unless ``dtype`` says otherwise).

    Taught in "Losses" (book/part1/losses.md).
    """
    shape = shape_arg(size)
    _check_sizes(shape)
    return _leaf(backend.xp().ones(shape, dtype=_dtype(dtype, backend.float32, "ones")), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of the given shape to be filled in; minidl's holds zeros (PyTorch's holds whatever was in memory)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False):
    """Zeros with the shape and dtype of ``input`` (or ``dtype``)."""
    return zeros(input.shape, dtype=input.dtype if dtype is None else dtype, device=_like(input, device), requires_grad=requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False):
    """Ones with the shape and dtype of ``input`` (or ``dtype``)."""
    return ones(input.shape, dtype=input.dtype if dtype is None else dtype, device=_like(input, device), requires_grad=requires_grad)


def _fill_dtype(fill_value, name):
    """PyTorch's dtype for a fill value: bool, int64, float32 (the default float) or complex64."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if isinstance(fill_value, (bool, backend.bool_)):
        return backend.xp().dtype(backend.bool_)
    if isinstance(fill_value, numbers.Integral):
        return backend.xp().dtype(backend.int64)
    if isinstance(fill_value, numbers.Real):
        return backend.xp().dtype(backend.float32)
    if isinstance(fill_value, numbers.Complex):
        return backend.xp().dtype(backend.xp().complex64)
    raise TypeError(f"{name}(): fill_value must be a number or a one-element tensor, got {type(fill_value).__name__}")


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor of shape ``size`` (a tuple) holding ``fill_value`` everywhere, as ``torch.full``.

    The dtype follows the value as in PyTorch: bool for True/False, int64 for an int, float32 for a
    float, unless ``dtype`` is given (a float is then cast, 3.7 -> 3 in an integer dtype). TypeError
    when ``size`` is not a tuple or list of ints (``full((2, 3), 0.5)``, not ``full(2, 0.5)``).
    """
    shape = _size(size, "full")
    dtype = _fill_dtype(fill_value, "full") if dtype is None else _dtype(dtype, None, "full")
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    return _leaf(backend.xp().full(shape, value, dtype=dtype), requires_grad, device)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    """``fill_value`` in the shape and dtype of ``input`` (or ``dtype``), as ``torch.full_like``."""
    return full(input.shape, fill_value, dtype=input.dtype if dtype is None else dtype, device=_like(input, device),
                requires_grad=requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The (n, m) identity matrix (m = n by default): ones on the diagonal, float32 unless ``dtype``.

    RuntimeError for a negative size, as in PyTorch.
    """
    m = n if m is None else m
    for name, value in (("n", n), ("m", m)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"eye(): {name} must be an int, got {type(value).__name__} {value!r}")
        if value < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {value}")
    return _leaf(backend.xp().eye(n, m, dtype=_dtype(dtype, backend.float32, "eye")), requires_grad, device)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Like ``range`` as a tensor; int64 for integer arguments, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = backend.int64 if all(isinstance(v, int) for v in (start, end, step)) else backend.float32
    return _leaf(backend.xp().arange(start, end, step, dtype=_dtype(dtype, None, "arange")), requires_grad, device)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end``, both included (float32 unless ``dtype``).

    As PyTorch, the first half is computed as ``start + i * step`` and the second as
    ``end - (steps - 1 - i) * step``, so both ends are exact; an integer ``dtype`` truncates. RuntimeError
    for ``steps < 0``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"linspace(): steps must be an int, got {type(steps).__name__} {steps!r}")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    xp = backend.xp()
    i = xp.arange(steps, dtype=backend.float64)
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    values = xp.where(i < max(steps // 2, 1), start + i * step, end - (steps - 1 - i) * step)  # steps = 1: start
    return _leaf(values.astype(_dtype(dtype, backend.float32, "linspace")), requires_grad, device)


# ---- random draws ----------------------------------------------------------------------------------
def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1), drawn from the library's seeded stream (or ``generator``)."""
    dtype = _dtype(dtype, backend.float32, "rand")
    return _leaf(_draw("uniform", shape_arg(size), dtype, generator, "rand"), requires_grad, device)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal, drawn from the library's seeded stream (or ``generator``).

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    dtype = _dtype(dtype, backend.float32, "randn")
    return _leaf(_draw("normal", shape_arg(size), dtype, generator, "randn"), requires_grad, device)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1) in the shape and dtype of ``input``; NotImplementedError for an integer dtype, as PyTorch."""
    dtype = _dtype(input.dtype if dtype is None else dtype, None, "rand_like")
    return _leaf(_draw("uniform", input.shape, dtype, None, "rand_like"), requires_grad, _like(input, device))


def randn_like(input, *, dtype=None, device=None, requires_grad=False):
    """Standard normal in the shape and dtype of ``input``; NotImplementedError for an integer dtype, as PyTorch."""
    dtype = _dtype(input.dtype if dtype is None else dtype, None, "randn_like")
    return _leaf(_draw("normal", input.shape, dtype, None, "randn_like"), requires_grad, _like(input, device))


def _integers(low, high, shape, dtype, generator, name):
    """Uniform integers in [low, high) as ``low + floor(u (high - low))``, exact while high - low < 2**53."""
    for argument, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name}(): {argument} must be an int, got {type(value).__name__} {value!r}")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    xp = backend.xp()
    u = _draw("uniform", shape, xp.dtype(backend.float64), generator, name)
    values = xp.minimum(xp.floor(u * (high - low)), high - low - 1).astype(backend.int64) + low
    return values.astype(dtype)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or ``randint(low, high, size)``.

    ``size`` is a tuple, as in PyTorch; the result is int64 unless ``dtype`` says otherwise. RuntimeError
    when ``low >= high``; TypeError for a non-integer bound or a size that is not a tuple.
    """
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint(): expected randint(high, size) or randint(low, high, size) with size a tuple of ints")
    shape = _size(size, "randint")
    dtype = _dtype(dtype, backend.int64, "randint")
    return _leaf(_integers(low, high, shape, dtype, generator, "randint"), requires_grad, device)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False):
    """Integers from [low, high) in the shape and dtype of ``input``: ``randint_like(x, high)`` or ``(x, low, high)``."""
    if high is None:
        low, high = 0, low
    dtype = _dtype(input.dtype if dtype is None else dtype, None, "randint_like")
    return _leaf(_integers(low, high, input.shape, dtype, None, "randint_like"), requires_grad, _like(input, device))


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0 .. n-1 (int64 unless ``dtype``): the order that sorts n uniform draws.

    RuntimeError for a negative ``n``, as in PyTorch.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"randperm(): n must be an int, got {type(n).__name__} {n!r}")
    _check_sizes((n,))
    order = backend.xp().argsort(_draw("uniform", (n,), backend.xp().dtype(backend.float64), generator, "randperm"))
    return _leaf(order.astype(_dtype(dtype, backend.int64, "randperm")), requires_grad, device)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """``num_samples`` category indices per row of ``input``, drawn with probability proportional to the row.

    ``input``: (K,) or (N, K) non-negative floating weights, not necessarily normalized. Returns int64 of
    shape (num_samples,) or (N, num_samples). With ``replacement`` each draw inverts the cumulative
    distribution; without it, the draws are distinct and in the order a one-by-one draw from the
    remaining weights would give them (the smallest of E_k / w_k, E_k exponential: the exponential
    race); once the non-zero weights are used up, zero-weight categories follow, as PyTorch's do.
    Raises RuntimeError, with PyTorch's messages, for a row with NaN, inf or a negative weight, a row
    summing to 0, ``num_samples <= 0``, more samples than categories without replacement, a non-float
    input or one that is not 1-D or 2-D.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): input must be a Tensor of weights, got {type(input).__name__}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int):
        raise TypeError(f"multinomial(): num_samples must be an int, got {type(num_samples).__name__} {num_samples!r}")
    if input.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {input.dtype}")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim (got shape {input.shape})")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    categories = input.shape[-1]
    if not replacement and num_samples > categories:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    owner = backend.of(input.data)
    xp = owner.xp
    rows = input.data.reshape(-1, categories).astype(backend.float64)
    if rows.shape[0] == 0:
        return Tensor._from_op(xp.zeros(input.shape[:-1] + (num_samples,), dtype=backend.int64), (), None)
    if (~xp.isfinite(rows) | (rows < 0)).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    totals = rows.sum(axis=1, keepdims=True)
    if (totals <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if replacement:
        u = _draw("uniform", (rows.shape[0], num_samples), xp.dtype(backend.float64), generator, "multinomial", owner)
        samples = _inverse_cdf(rows, totals, u)
    else:  # the exponential race: one E_k = -log(1 - u_k) ~ Exp(1) per category, the smallest E_k / w_k first
        u = _draw("uniform", rows.shape, xp.dtype(backend.float64), generator, "multinomial", owner)
        race = xp.where(rows > 0, -xp.log1p(-u) / xp.where(rows > 0, rows, 1.0), xp.inf)
        samples = xp.argsort(race, axis=1)[:, :num_samples]
    return Tensor._from_op(samples.astype(backend.int64).reshape(input.shape[:-1] + (num_samples,)), (), None)


def _inverse_cdf(rows, totals, u):
    """For each row and draw u, the first category whose cumulative weight exceeds u * total.

    The rows' cumulative distributions are laid end to end, row i shifted by i, so one sorted search
    serves every row; a zero-weight category is never chosen (its cumulative weight equals the one before).
    """
    xp = backend.xp(rows)
    count, categories = rows.shape
    shift = xp.arange(count, dtype=backend.float64)[:, None]
    cdf = xp.minimum(xp.cumsum(rows, axis=1) / totals, 1.0) + shift
    found = xp.searchsorted(cdf.reshape(-1), (u + shift).reshape(-1), side="right").reshape(u.shape)
    found = found - (shift * categories).astype(found.dtype)
    last_positive = categories - 1 - xp.argmax((rows > 0)[:, ::-1], axis=1)  # u * total rounding up to total
    return xp.minimum(found, last_positive[:, None])

