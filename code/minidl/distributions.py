"""Probability distributions as in ``torch.distributions``: ``Normal``, ``Categorical``, ``Bernoulli``, and KL.

A distribution holds its parameters as tensors, so ``log_prob``, ``entropy`` and ``kl_divergence`` are
differentiable in them (a policy gradient's ``log pi(a|s)``, a VAE's KL term). ``sample`` draws outside
the graph; ``rsample`` (Normal only) draws ``loc + eps * scale`` with ``eps ~ N(0, 1)``, the
reparameterization trick, so gradients reach ``loc`` and ``scale``. Parameters and values are checked
as in PyTorch (``validate_args``, on by default) and raise ValueError with PyTorch's messages.

The formulas, for p = probabilities and l = logits:

- Normal: log p(x) = -(x - mu)^2 / (2 sigma^2) - log sigma - log sqrt(2 pi); H = 1/2 + log(sigma sqrt(2 pi));
  KL(p || q) = 1/2 (r + ((mu_p - mu_q) / sigma_q)^2 - 1 - log r) with r = (sigma_p / sigma_q)^2.
- Bernoulli: log p(x) = x log sigmoid(l) + (1 - x) log sigmoid(-l) (minus the BCE with logits).
- Categorical: log p(k) = log_softmax(l)_k; H = -sum_k p_k log p_k; KL = sum_k p_k (log p_k - log q_k).
"""

import math
import numbers

from minidl import backend
from minidl.autograd import enable_grad
from minidl.creation import full, multinomial, rand, randn, zeros
from minidl.tensor import Tensor, no_grad, stack, where


# ---- constraints: what a parameter or a value must satisfy, named as PyTorch prints them ---------------
class _Constraint:
    def __init__(self, text, check):
        self._text, self.check = text, check

    def __repr__(self):
        return self._text


_real = _Constraint("Real()", lambda x: x == x)  # not NaN
_positive = _Constraint("GreaterThan(lower_bound=0.0)", lambda x: x > 0)
_unit_interval = _Constraint("Interval(lower_bound=0.0, upper_bound=1.0)", lambda x: (x >= 0) & (x <= 1))
_boolean = _Constraint("Boolean()", lambda x: (x == 0) | (x == 1))
_simplex = _Constraint("Simplex()", lambda x: (x >= 0).all(axis=-1) & (abs(x.sum(axis=-1) - 1) < 1e-6))
_real_vector = _Constraint("IndependentConstraint(Real(), 1)", lambda x: (x == x).all(axis=-1))


def _integer_interval(upper):
    return _Constraint(f"IntegerInterval(lower_bound=0, upper_bound={upper})",
                       lambda x: (x % 1 == 0) & (x >= 0) & (x <= upper))


def _show(t):
    """A tensor in a message as PyTorch's f-string shows it: a 0-d tensor as its number."""
    return f"{t.item()}" if t.ndim == 0 else f"{t}"


class _lazy:
    """A parameter computed once from the other parameterization (probs from logits, or back), with gradients."""

    def __init__(self, function):
        self.function, self.__doc__ = function, function.__doc__

    def __get__(self, instance, owner):
        if instance is None:
            return self
        with enable_grad():  # a first use inside no_grad must not cache a value cut from the graph
            value = self.function(instance)
        instance.__dict__[self.function.__name__] = value
        return value


# ---- the base class --------------------------------------------------------------------------------------
class Distribution:
    """The base of the distributions: shapes, argument checks and what every distribution offers.

    ``batch_shape`` is the shape of independent distributions held at once (one per row of logits),
    ``event_shape`` the shape of one draw (``()`` for the three here); ``sample(sample_shape)``
    returns ``sample_shape + batch_shape + event_shape``. ``validate_args`` (default True, as
    PyTorch's ``__debug__`` default) checks parameters at construction and values in ``log_prob``.
    """

    arg_constraints = {}
    has_rsample = False
    _validate_default = True

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape, self._event_shape = tuple(batch_shape), tuple(event_shape)
        self._validate_args = Distribution._validate_default if validate_args is None else bool(validate_args)
        if not self._validate_args:
            return
        for name, constraint in self.arg_constraints.items():
            if name not in self.__dict__:
                continue  # computed lazily from the other parameterization
            value = self.__dict__[name]
            if not bool(constraint.check(value.data).all()):
                raise ValueError(
                    f"Expected parameter {name} (Tensor of shape {value.shape}) of distribution {self!r} "
                    f"to satisfy the constraint {constraint!r}, but found invalid values:\n{_show(value)}"
                )

    @staticmethod
    def set_default_validate_args(value):
        """Turn argument checks on or off for distributions made from now on, as PyTorch's."""
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected True or False, got {value!r}")
        Distribution._validate_default = value

    @property
    def batch_shape(self):
        """The shape of the batch of distributions (a tuple)."""
        return self._batch_shape

    @property
    def event_shape(self):
        """The shape of one draw (a tuple; ``()`` for scalar distributions)."""
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        if not isinstance(sample_shape, (tuple, list)):
            raise TypeError(
                f"sample_shape must be a tuple of ints such as (5,), got {type(sample_shape).__name__} {sample_shape!r}"
            )
        return tuple(sample_shape) + self._batch_shape + self._event_shape

    def rsample(self, sample_shape=()):
        """A differentiable draw; only distributions with ``has_rsample`` (Normal) have one."""
        raise NotImplementedError(
            f"{type(self).__name__} has no rsample: its draws are discrete, so no gradient flows through them "
            "(use log_prob with a score-function estimator, or a Normal)"
        )

    @property
    def stddev(self):
        """The standard deviation, the square root of ``variance``."""
        return self.variance.sqrt()

    def _validate_sample(self, value):
        """PyTorch's checks of a value given to ``log_prob``: a tensor, of a broadcastable shape, in the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(value.shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {value.shape} vs {expected}.")
        if not bool(self.support.check(value.data).all()):
            raise ValueError(
                f"Expected value argument (Tensor of shape {value.shape}) to be within the support "
                f"({self.support!r}) of the distribution {self!r}, but found invalid values:\n{_show(value)}"
            )

    def __repr__(self):
        shown = [f"{name}: {_show(self.__dict__[name]) if self.__dict__[name].numel() == 1 else self.__dict__[name].shape}"
                 for name in self.arg_constraints if name in self.__dict__]
        return f"{type(self).__name__}({', '.join(shown)})"


def _broadcast_shape(a, b):
    """The shape a and b broadcast to, or PyTorch's RuntimeError."""
    ndim = max(len(a), len(b))
    a, b = (1,) * (ndim - len(a)) + tuple(a), (1,) * (ndim - len(b)) + tuple(b)
    for dim, (m, n) in enumerate(zip(a, b)):
        if m != n and 1 not in (m, n):
            raise RuntimeError(
                f"The size of tensor a ({m}) must match the size of tensor b ({n}) at non-singleton dimension {dim}"
            )
    return tuple(max(m, n) if 0 not in (m, n) else 0 for m, n in zip(a, b))


def _broadcast_all(*values):
    """Tensors and numbers as tensors of one shape; numbers take the first tensor's dtype (else float32)."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        given = ", ".join(type(v).__name__ for v in values)
        raise ValueError(f"Input arguments must all be instances of Number or minidl.Tensor, got {given}")
    dtype = next((v.dtype for v in values if isinstance(v, Tensor)), backend.float32)
    tensors = [v if isinstance(v, Tensor) else Tensor(v, dtype=dtype) for v in values]
    shape = ()
    for t in tensors:
        shape = _broadcast_shape(shape, t.shape)
    return tuple(t if t.shape == shape else t.expand(shape) for t in tensors)


def _log_sigmoids(logits):
    """(log sigmoid(l), log sigmoid(-l)), stable for any l: the log-softmax of the pair (0, l)."""
    pair = stack([zeros(logits.shape, dtype=logits.dtype), logits], -1).log_softmax(-1)
    return pair[..., 1], pair[..., 0]


def _clamp_probs(probs):
    """Probabilities kept in [eps, 1 - eps], so their logarithms and logits stay finite (PyTorch's clamp_probs)."""
    eps = float(backend.xp().finfo(probs.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


# ---- the distributions -----------------------------------------------------------------------------------
class Normal(Distribution):
    """The normal (Gaussian) distribution N(loc, scale^2), as ``torch.distributions.Normal``.

    ``loc`` and ``scale`` are tensors or numbers, broadcast together (numbers become float32 tensors);
    ``scale`` must be > 0 and ``loc`` not NaN, else ValueError. ``rsample`` is differentiable in both.

    Taught in "Variational autoencoders and β-VAE" (book/part4/vae.md) and "Policy gradients" (book/part5/policy_gradients.md).
    """

    arg_constraints = {"loc": _real, "scale": _positive}
    support = _real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = _broadcast_all(loc, scale)
        scalar = isinstance(loc, numbers.Number) and isinstance(scale, numbers.Number)
        super().__init__(() if scalar else self.loc.shape, validate_args=validate_args)

    @property
    def mean(self):
        """``loc``."""
        return self.loc

    @property
    def mode(self):
        """``loc``."""
        return self.loc

    @property
    def stddev(self):
        """``scale``."""
        return self.scale

    @property
    def variance(self):
        """``scale ** 2``."""
        return self.scale ** 2

    def rsample(self, sample_shape=()):
        """``loc + eps * scale`` with eps ~ N(0, 1) of shape ``sample_shape + batch_shape``: gradients reach loc and scale."""
        eps = randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + eps * self.scale

    def sample(self, sample_shape=()):
        """Draws of shape ``sample_shape + batch_shape``, outside the graph."""
        with no_grad():
            return self.rsample(sample_shape)

    def log_prob(self, value):
        """log N(value; loc, scale^2), elementwise, broadcast against the batch."""
        if self._validate_args:
            self._validate_sample(value)
        return -((value - self.loc) ** 2) / (2 * self.scale ** 2) - self.scale.log() - math.log(math.sqrt(2 * math.pi))

    def entropy(self):
        """1/2 + 1/2 log(2 pi) + log scale, in nats."""
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()


class Bernoulli(Distribution):
    """A coin that shows 1 with probability ``probs`` (or sigmoid(``logits``)), as ``torch.distributions.Bernoulli``.

    Give exactly one of ``probs`` (in [0, 1]) or ``logits`` (any real), tensors or numbers; the other
    is computed when first asked for. Draws are floats 0. and 1. ValueError for both or neither, or an
    out-of-range parameter.
    """

    arg_constraints = {"probs": _unit_interval, "logits": _real}
    support = _boolean

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        given = probs if probs is not None else logits
        (self._param,) = _broadcast_all(given)
        self.__dict__["probs" if probs is not None else "logits"] = self._param
        batch_shape = () if isinstance(given, numbers.Number) else self._param.shape
        super().__init__(batch_shape, validate_args=validate_args)

    @_lazy
    def logits(self):
        """The log-odds log(p / (1 - p)), with p clamped to [eps, 1 - eps]."""
        p = _clamp_probs(self.probs)
        return p.log() - (1 - p).log()

    @_lazy
    def probs(self):
        """The probability of a 1: sigmoid(logits)."""
        return self.logits.sigmoid()

    @property
    def mean(self):
        """``probs``."""
        return self.probs

    @property
    def mode(self):
        """The likelier outcome, 1. or 0.; NaN where both are equally likely (probs = 0.5), as PyTorch's."""
        probs = self.probs.detach()
        return where(probs == 0.5, math.nan, (probs >= 0.5).to(probs.dtype))

    @property
    def variance(self):
        """``probs * (1 - probs)``."""
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        """0./1. draws of shape ``sample_shape + batch_shape`` (1 where a uniform draw is below ``probs``)."""
        with no_grad():
            probs = self.probs.detach()
            return (rand(self._extended_shape(sample_shape), dtype=probs.dtype) < probs).to(probs.dtype)

    def log_prob(self, value):
        """value log sigmoid(l) + (1 - value) log sigmoid(-l): minus the binary cross-entropy with logits."""
        if self._validate_args:
            self._validate_sample(value)
        positive, negative = _log_sigmoids(self.logits)
        return value * positive + (1 - value) * negative

    def entropy(self):
        """-(p log sigmoid(l) + (1 - p) log sigmoid(-l)), in nats."""
        positive, negative = _log_sigmoids(self.logits)
        return -(self.probs * positive + (1 - self.probs) * negative)


class Categorical(Distribution):
    """One of K categories, with probabilities ``probs`` or ``logits`` along the last dimension, as PyTorch's.

    ``probs`` (non-negative, normalized here to sum to 1) or ``logits`` (unnormalized log-probabilities,
    normalized by log-softmax), a tensor of shape (..., K): the leading dimensions are the batch. Draws
    are int64 indices. ValueError for both or neither, a 0-d parameter, or probabilities that are
    negative or do not sum to a positive number.

    Taught in "Policy gradients" (book/part5/policy_gradients.md).
    """

    arg_constraints = {"probs": _simplex, "logits": _real_vector}

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        name, given = ("probs", probs) if probs is not None else ("logits", logits)
        if not isinstance(given, Tensor):
            raise TypeError(f"Categorical: `{name}` must be a Tensor of shape (..., K), got {type(given).__name__}")
        if given.ndim < 1:
            raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
        self._param = given / given.sum(-1, keepdim=True) if probs is not None else given.log_softmax(-1)
        self.__dict__[name] = self._param
        self._num_events = given.shape[-1]
        super().__init__(given.shape[:-1], validate_args=validate_args)

    @property
    def support(self):
        """The integers 0 .. K - 1."""
        return _integer_interval(self._num_events - 1)

    @_lazy
    def logits(self):
        """The normalized log-probabilities, log p (p clamped to [eps, 1 - eps])."""
        return _clamp_probs(self.probs).log()

    @_lazy
    def probs(self):
        """The normalized probabilities, softmax(logits)."""
        return self.logits.softmax(-1)

    @property
    def mean(self):
        """Undefined for categories: NaN of the batch shape, as PyTorch's."""
        return full(self._batch_shape, math.nan, dtype=self.probs.dtype)

    @property
    def variance(self):
        """Undefined for categories: NaN of the batch shape, as PyTorch's."""
        return full(self._batch_shape, math.nan, dtype=self.probs.dtype)

    @property
    def mode(self):
        """The most likely category of each distribution of the batch."""
        return self.probs.argmax(-1)

    def sample(self, sample_shape=()):
        """int64 category indices of shape ``sample_shape + batch_shape``, drawn with ``multinomial``."""
        shape = self._extended_shape(sample_shape)
        count = math.prod(shape[: len(shape) - len(self._batch_shape)])
        rows = self.probs.detach().reshape(-1, self._num_events)
        return multinomial(rows, count, True).T.reshape(shape)

    def log_prob(self, value):
        """log p(value): the normalized logit of each category index in ``value`` (broadcast against the batch)."""
        if self._validate_args:
            self._validate_sample(value)
        shape = _broadcast_shape(value.shape, self._batch_shape)
        index = value.long().expand(shape).unsqueeze(-1)
        return self.logits.expand(shape + (self._num_events,)).gather(-1, index).squeeze(-1)

    def entropy(self):
        """-sum_k p_k log p_k over the categories, in nats (a zero probability adds 0)."""
        logits = self.logits.clamp(min=float(backend.xp(self.logits.data).finfo(self.logits.dtype).min))
        return -(logits * self.probs).sum(-1)


# ---- Kullback-Leibler divergences ------------------------------------------------------------------------
_KL = {}


def register_kl(type_p, type_q):
    """Decorator that makes ``function(p, q)`` the KL divergence of two distribution types, as PyTorch's."""

    def register(function):
        _KL[type_p, type_q] = function
        return function

    return register


def kl_divergence(p, q):
    """KL(p || q) = E_p[log p - log q], per distribution of the batch (differentiable in both).

    For Normal-Normal, Categorical-Categorical and Bernoulli-Bernoulli (and pairs added with
    ``register_kl``); NotImplementedError for any other pair, as in PyTorch. Where q gives zero
    probability to what p can draw, the divergence is inf.

    Taught in "Variational autoencoders and β-VAE" (book/part4/vae.md).
    """
    for (type_p, type_q), function in _KL.items():
        if isinstance(p, type_p) and isinstance(q, type_q):
            return function(p, q)
    raise NotImplementedError(
        f"No KL(p || q) is implemented for p type {type(p).__name__} and q type {type(q).__name__}"
    )


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = where(q.probs == 0, math.inf, t)
    t = where(p.probs == 0, 0.0, t)
    return t.sum(-1)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    p_one, p_zero = _log_sigmoids(p.logits)
    q_one, q_zero = _log_sigmoids(q.logits)
    t1 = where(p.probs == 0, 0.0, where(q.probs == 0, math.inf, p.probs * (p_one - q_one)))
    t2 = where(p.probs == 1, 0.0, where(q.probs == 1, math.inf, (1 - p.probs) * (p_zero - q_zero)))
    return t1 + t2
