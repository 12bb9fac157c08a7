"""minidl.distributions against torch.distributions: values, gradients, draws and argument checks."""

import re

import numpy as np
import pytest

import minidl
from minidl import distributions as D

from conftest import leaf

R = np.random.default_rng(7)

# name: (build(distributions, params), parameter arrays, a value to score)
CASES = {
    "Normal": (lambda d, p: d.Normal(p[0], p[1]), [R.normal(size=3), R.uniform(0.5, 2, 3)], R.normal(size=3)),
    "Normal broadcast": (lambda d, p: d.Normal(p[0], p[1]), [R.normal(size=3), R.uniform(0.5, 2, (2, 1))],
                         R.normal(size=(4, 2, 3))),
    "Normal 0-d": (lambda d, p: d.Normal(p[0], p[1]), [np.array(0.4), np.array(1.3)], R.normal(size=5)),
    "Bernoulli probs": (lambda d, p: d.Bernoulli(probs=p[0]), [R.uniform(0.1, 0.9, (2, 3))],
                        R.integers(0, 2, (2, 3)).astype(float)),
    "Bernoulli logits": (lambda d, p: d.Bernoulli(logits=p[0]), [np.append(R.normal(0, 3, 4), 0.0)],  # 0: mode NaN
                         np.array([0.0, 1.0, 1.0, 0.0, 1.0])),
    "Categorical probs": (lambda d, p: d.Categorical(probs=p[0]), [R.uniform(0.1, 1, (2, 4))], np.array([3, 0])),
    "Categorical logits": (lambda d, p: d.Categorical(logits=p[0]), [R.normal(0, 2, (3, 5))], np.array([[4, 0, 2]] * 2)),
    "Categorical 1-d": (lambda d, p: d.Categorical(logits=p[0]), [R.normal(size=6)], np.array([5, 1, 1, 0])),
}


def _both(case, torch, requires_grad=True):
    """The case's distribution in minidl and in torch, from the same float64 parameters."""
    build, arrays, _ = CASES[case]
    ours = [leaf(a.copy(), requires_grad) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=requires_grad) for a in arrays]
    return build(D, ours), build(torch.distributions, theirs), ours, theirs


def _value(case, lib):
    value = CASES[case][2]
    return lib.tensor(value.astype(np.int64) if case.startswith("Categorical") else value.copy())


def _host(t):
    return minidl.to_numpy(t) if isinstance(t, minidl.Tensor) else t.detach().cpu().numpy()


def _close(ours, theirs):
    np.testing.assert_allclose(_host(ours), _host(theirs), rtol=1e-10, atol=1e-12, equal_nan=True)


QUANTITIES = {
    "log_prob": lambda dist, case, lib: dist.log_prob(_value(case, lib)),
    "entropy": lambda dist, case, lib: dist.entropy(),
    "mean": lambda dist, case, lib: dist.mean,
    "variance": lambda dist, case, lib: dist.variance,
    "stddev": lambda dist, case, lib: dist.stddev,
    "probs": lambda dist, case, lib: dist.probs,
    "logits": lambda dist, case, lib: dist.logits,
    "mode": lambda dist, case, lib: dist.mode,
}


def _applies(quantity, case):
    """Normal has no probs or logits."""
    return not (case.startswith("Normal") and quantity in ("probs", "logits"))


@pytest.mark.parametrize("case, quantity", [(c, q) for c in sorted(CASES) for q in sorted(QUANTITIES) if _applies(q, c)])
def test_values_match_pytorch(case, quantity, torch):
    ours, theirs, _, _ = _both(case, torch)
    a, b = QUANTITIES[quantity](ours, case, minidl), QUANTITIES[quantity](theirs, case, torch)
    assert a.shape == tuple(b.shape)
    _close(a, b)


@pytest.mark.parametrize("case", sorted(CASES))
def test_batch_and_event_shapes_match_pytorch(case, torch):
    ours, theirs, _, _ = _both(case, torch)
    assert (ours.batch_shape, ours.event_shape) == (tuple(theirs.batch_shape), tuple(theirs.event_shape))
    assert ours.has_rsample == theirs.has_rsample


@pytest.mark.parametrize("quantity", ["log_prob", "entropy"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_match_pytorch(case, quantity, torch):
    ours, theirs, our_params, their_params = _both(case, torch)
    a, b = QUANTITIES[quantity](ours, case, minidl), QUANTITIES[quantity](theirs, case, torch)
    weights = R.uniform(0.5, 1.5, tuple(b.shape))
    (a * minidl.tensor(weights)).sum().backward()
    (b * torch.tensor(weights)).sum().backward()
    for mine, reference in zip(our_params, their_params):
        if reference.grad is None:  # the entropy of a Normal does not depend on loc
            assert mine.grad is None
        else:
            _close(mine.grad, reference.grad)


@pytest.mark.parametrize("quantity", ["log_prob", "entropy"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_match_finite_differences(case, quantity):
    build, arrays, _ = CASES[case]
    params = [leaf(a.copy()) for a in arrays]
    assert minidl.gradcheck(lambda *p: QUANTITIES[quantity](build(D, p), case, minidl), params)


# ---- KL divergences ------------------------------------------------------------------------------------
KL_CASES = {
    "Normal": (lambda d, p: (d.Normal(p[0], p[1]), d.Normal(p[2], p[3])),
               [R.normal(size=3), R.uniform(0.5, 2, 3), R.normal(size=(2, 1)), R.uniform(0.5, 2, (2, 1))]),
    "Categorical": (lambda d, p: (d.Categorical(probs=p[0]), d.Categorical(logits=p[1])),
                    [R.uniform(0.1, 1, (2, 4)), R.normal(size=4)]),
    "Bernoulli": (lambda d, p: (d.Bernoulli(probs=p[0]), d.Bernoulli(logits=p[1])),
                  [R.uniform(0.1, 0.9, (2, 3)), R.normal(size=(2, 3))]),  # torch's masks do not broadcast
}


@pytest.mark.parametrize("case", sorted(KL_CASES))
def test_kl_divergence_and_its_gradients_match_pytorch(case, torch):
    build, arrays = KL_CASES[case]
    ours, theirs = [leaf(a.copy()) for a in arrays], [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    a = D.kl_divergence(*build(D, ours))
    b = torch.distributions.kl_divergence(*build(torch.distributions, theirs))
    assert a.shape == tuple(b.shape)
    _close(a, b)
    a.sum().backward()
    b.sum().backward()
    for mine, reference in zip(ours, theirs):
        _close(mine.grad, reference.grad)


@pytest.mark.parametrize("case", sorted(KL_CASES))
def test_kl_divergence_gradients_match_finite_differences(case):
    build, arrays = KL_CASES[case]
    assert minidl.gradcheck(lambda *p: D.kl_divergence(*build(D, p)), [leaf(a.copy()) for a in arrays])


@pytest.mark.parametrize("name, p, q", [
    ("Categorical", [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]], [[0.0, 0.5, 0.5], [0.2, 0.5, 0.3]]),
    ("Bernoulli", [0.0, 1.0, 0.5, 0.0, 1.0, 0.3], [0.0, 1.0, 0.0, 0.4, 0.4, 1.0]),
])
def test_kl_divergence_is_inf_where_q_cannot_draw_what_p_draws_as_pytorch(name, p, q, torch):
    ours = D.kl_divergence(getattr(D, name)(probs=minidl.tensor(p)), getattr(D, name)(probs=minidl.tensor(q)))
    theirs = torch.distributions.kl_divergence(getattr(torch.distributions, name)(probs=torch.tensor(p)),
                                               getattr(torch.distributions, name)(probs=torch.tensor(q)))
    np.testing.assert_allclose(_host(ours), _host(theirs), rtol=1e-5, atol=1e-6)
    assert np.isinf(_host(ours)).any()


def test_kl_divergence_of_an_unknown_pair_raises_as_pytorch(torch):
    with pytest.raises(NotImplementedError):
        torch.distributions.kl_divergence(torch.distributions.Bernoulli(0.3),
                                          torch.distributions.Categorical(torch.ones(2)))
    with pytest.raises(NotImplementedError, match="No KL"):
        D.kl_divergence(D.Bernoulli(0.3), D.Categorical(minidl.ones(2)))


def test_register_kl_adds_a_pair():
    class Sharp(D.Normal):
        pass

    @D.register_kl(Sharp, D.Bernoulli)
    def _zero(p, q):
        return minidl.zeros(())

    assert D.kl_divergence(Sharp(0.0, 1.0), D.Bernoulli(0.5)).item() == 0.0


# ---- drawing ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)])
@pytest.mark.parametrize("case", sorted(CASES))
def test_samples_have_pytorchs_shape_and_dtype_and_no_graph(case, sample_shape, torch):
    ours, theirs, _, _ = _both(case, torch)
    a, b = ours.sample(sample_shape), theirs.sample(sample_shape)
    assert a.shape == tuple(b.shape) and str(a.dtype) == str(b.dtype).replace("torch.", "")
    assert not a.requires_grad and a.grad_fn is None


@pytest.mark.parametrize("case", sorted(CASES))
def test_samples_lie_in_the_support(case, torch):
    ours, _, params, _ = _both(case, torch, requires_grad=False)
    values = _host(ours.sample((200,)))
    if case.startswith("Bernoulli"):
        assert set(np.unique(values)) <= {0.0, 1.0}
    elif case.startswith("Categorical"):
        assert values.min() >= 0 and values.max() < params[0].shape[-1]
    else:
        assert np.isfinite(values).all()


def test_normal_draws_have_its_mean_and_spread():
    loc, scale = minidl.tensor([-1.0, 2.0]), minidl.tensor([0.5, 3.0])
    for draws in (D.Normal(loc, scale).sample((100000,)), D.Normal(loc, scale).rsample((100000,))):
        values = _host(draws)
        np.testing.assert_allclose(values.mean(0), [-1.0, 2.0], atol=0.03)
        np.testing.assert_allclose(values.std(0), [0.5, 3.0], rtol=0.02)


def test_bernoulli_and_categorical_draws_have_their_frequencies(torch):
    probs = [0.1, 0.6, 0.3]
    coin = _host(D.Bernoulli(probs=minidl.tensor(probs)).sample((50000,)))
    np.testing.assert_allclose(coin.mean(0), probs, atol=0.01)
    ours = _host(D.Categorical(probs=minidl.tensor(probs)).sample((50000,)))
    theirs = torch.distributions.Categorical(probs=torch.tensor(probs)).sample((50000,)).cpu().numpy()
    np.testing.assert_allclose(np.bincount(ours, minlength=3) / 50000, probs, atol=0.01)
    np.testing.assert_allclose(np.bincount(ours, minlength=3) / 50000, np.bincount(theirs, minlength=3) / 50000, atol=0.015)


def test_a_batch_of_categoricals_draws_each_row_from_its_own_probabilities():
    logits = minidl.tensor([[0.0, 50.0, 0.0], [50.0, 0.0, 0.0]])
    draws = _host(D.Categorical(logits=logits).sample((100,)))
    assert draws.shape == (100, 2) and set(draws[:, 0]) == {1} and set(draws[:, 1]) == {0}


def test_rsample_sends_gradients_to_loc_and_scale():
    """x = loc + eps * scale, so dx/dloc = 1 and dx/dscale = eps = (x - loc) / scale."""
    loc, scale = leaf(np.array([0.5, -1.0])), leaf(np.array([2.0, 0.3]))
    x = D.Normal(loc, scale).rsample((1000,))
    x.sum().backward()
    eps = (_host(x) - _host(loc)) / _host(scale)
    np.testing.assert_allclose(_host(loc.grad), [1000.0, 1000.0])
    np.testing.assert_allclose(_host(scale.grad), eps.sum(0), rtol=1e-10)


@pytest.mark.parametrize("case", sorted(CASES))
def test_draws_are_reproducible_with_the_library_seed(case, torch):
    ours, _, _, _ = _both(case, torch, requires_grad=False)
    minidl.manual_seed(4)
    first = ours.sample((6,)).tolist()
    minidl.manual_seed(4)
    assert ours.sample((6,)).tolist() == first


@pytest.mark.parametrize("name", ["Bernoulli", "Categorical"])
def test_discrete_distributions_have_no_rsample_as_pytorch(name, torch):
    with pytest.raises(NotImplementedError):
        getattr(torch.distributions, name)(probs=torch.tensor([0.5, 0.5])).rsample()
    with pytest.raises(NotImplementedError):
        getattr(D, name)(probs=minidl.tensor([0.5, 0.5])).rsample()


def test_a_sample_shape_that_is_not_a_tuple_is_refused_as_pytorch(torch):
    with pytest.raises(TypeError):
        torch.distributions.Normal(0.0, 1.0).sample(5)
    with pytest.raises(TypeError, match="sample_shape"):
        D.Normal(0.0, 1.0).sample(5)


# ---- argument checks -----------------------------------------------------------------------------------
BAD = {
    "Normal zero scale": lambda lib, d: d.Normal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, 0.0])),
    "Normal negative scalar scale": lambda lib, d: d.Normal(0.0, -1.0),
    "Normal nan loc": lambda lib, d: d.Normal(float("nan"), 1.0),
    "Normal shapes": lambda lib, d: d.Normal(lib.zeros(2), lib.ones(3)),
    "Bernoulli probs above one": lambda lib, d: d.Bernoulli(probs=lib.tensor([0.2, 1.5])),
    "Bernoulli nan logits": lambda lib, d: d.Bernoulli(logits=lib.tensor([0.0, float("nan")])),
    "Bernoulli both": lambda lib, d: d.Bernoulli(probs=0.3, logits=0.1),
    "Bernoulli neither": lambda lib, d: d.Bernoulli(),
    "Categorical negative probs": lambda lib, d: d.Categorical(lib.tensor([0.2, -0.1, 0.9])),
    "Categorical zero row": lambda lib, d: d.Categorical(lib.tensor([[1.0, 0.0], [0.0, 0.0]])),
    "Categorical nan logits": lambda lib, d: d.Categorical(logits=lib.tensor([0.2, float("nan")])),
    "Categorical 0-d": lambda lib, d: d.Categorical(lib.tensor(0.2)),
    "Categorical both": lambda lib, d: d.Categorical(probs=lib.ones(2), logits=lib.ones(2)),
    "log_prob of a number": lambda lib, d: d.Normal(0.0, 1.0).log_prob(0.5),
    "log_prob of a wrong shape": lambda lib, d: d.Normal(lib.zeros(3), 1.0).log_prob(lib.zeros(2)),
    "log_prob of nan": lambda lib, d: d.Normal(0.0, 1.0).log_prob(lib.tensor(float("nan"))),
    "Bernoulli log_prob of 0.5": lambda lib, d: d.Bernoulli(probs=0.3).log_prob(lib.tensor(0.5)),
    "Categorical log_prob past the end": lambda lib, d: d.Categorical(lib.tensor([0.2, 0.8])).log_prob(lib.tensor(2)),
    "Categorical log_prob of 0.5": lambda lib, d: d.Categorical(lib.tensor([0.2, 0.8])).log_prob(lib.tensor(0.5)),
}


def _first_line(error):
    """The message's first line, with torch.Size([2, 3]) written as minidl's (2, 3) and tensors elided."""
    text = str(error).splitlines()[0]
    text = re.sub(r"torch\.Size\(\[([^\]]*)\]\)", lambda m: str(tuple(int(n) for n in m.group(1).split(", ") if n)), text)
    return re.sub(r"tensor\([^)]*\)", "tensor(...)", text)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_arguments_raise_pytorchs_error(case, torch):
    with pytest.raises(Exception) as theirs:
        BAD[case](torch, torch.distributions)
    with pytest.raises(Exception) as ours:
        BAD[case](minidl, D)
    assert type(ours.value) is type(theirs.value)
    if case != "Normal shapes":
        assert _first_line(ours.value) == _first_line(theirs.value)


@pytest.mark.parametrize("case", ["Normal zero scale", "Normal negative scalar scale", "Bernoulli probs above one"])
def test_validate_args_false_skips_the_checks_as_pytorch(case, torch):
    def build(lib, d):
        original = d.Distribution._validate_args if lib is torch else d.Distribution._validate_default
        d.Distribution.set_default_validate_args(False)
        try:
            return BAD[case](lib, d)
        finally:
            d.Distribution.set_default_validate_args(original)

    assert type(build(minidl, D)).__name__ == type(build(torch, torch.distributions)).__name__
    with pytest.raises(ValueError):
        BAD[case](minidl, D)  # the default is back on


def test_log_prob_without_validation_scores_any_value_as_pytorch(torch):
    ours = D.Normal(0.0, 1.0, validate_args=False).log_prob(minidl.tensor(float("nan")))
    theirs = torch.distributions.Normal(0.0, 1.0, validate_args=False).log_prob(torch.tensor(float("nan")))
    assert np.isnan(_host(ours)) and np.isnan(_host(theirs))


def test_numbers_become_float32_tensors_as_pytorch(torch):
    ours, theirs = D.Normal(0, 1), torch.distributions.Normal(0, 1)
    assert str(ours.loc.dtype) == str(theirs.loc.dtype).replace("torch.", "") and ours.batch_shape == ()
    assert repr(ours) == repr(theirs)
