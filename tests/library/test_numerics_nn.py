"""Numerical edge cases of the nn functions and layers, each against PyTorch 2.13.

Tails of log-sigmoid, softplus and the binary cross-entropies; input checks that NaN cannot slip
through; cross-entropy's weights, ignored targets and label smoothing; dropout at p = 1; gradient
clipping with non-finite norms; max pooling with NaN, ties and ceil_mode; attention with a fully masked
query; the padding row of an embedding; and float16 counts that must not overflow. Values and gradients
come from the ``torch`` fixture at test time. Where the library is deliberately stricter than PyTorch
(it raises where PyTorch silently returns a meaningless number) the test says so.
"""

import math

import numpy as np
import pytest

import minidl
import minidl.nn as nn
import minidl.nn.functional as F
from minidl.nn import loss as loss_module
from minidl.nn import activation
from minidl.nn.embedding import Embedding

NAN, INF = float("nan"), float("inf")


def _pair(torch, array, requires_grad=True):
    """The same host array as a minidl tensor and a torch tensor (both leaves)."""
    array = np.asarray(array)
    grad = requires_grad and array.dtype.kind == "f"
    return minidl.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


def _backward_both(torch, ours, theirs, rng):
    """Backpropagate the same random weighting of both outputs (every entry counts)."""
    upstream = rng.normal(size=tuple(theirs.shape)).astype(minidl.to_numpy(ours).dtype)
    (ours * minidl.tensor(upstream)).sum().backward()
    (theirs * torch.tensor(upstream)).sum().backward()


def _assert_same(ours, theirs, rtol=1e-5, atol=1e-7, name=""):
    """Equal up to rounding, NaN where PyTorch has NaN and infinities of the same sign."""
    ours = ours.detach().cpu().numpy() if isinstance(ours, minidl.Tensor) else np.asarray(ours)
    theirs = theirs.detach().cpu().numpy()
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape} != {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True, err_msg=name)


# ---- 1. log-sigmoid, softplus and the binary cross-entropies in the tails ----------------------
TAILS = [-200.0, -100.0, -40.0, -20.0, -1.0, 0.0, 0.5, 15.0, 19.9, 20.0, 20.5, 40.0, 100.0, 200.0]
ACTIVATIONS = {
    "logsigmoid": ({}, "LogSigmoid"),
    "softplus": ({}, "Softplus"),
    "softplus_beta_2_threshold_10": ({"beta": 2.0, "threshold": 10.0}, "Softplus"),
    "softplus_negative_beta": ({"beta": -1.5}, "Softplus"),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_log_sigmoid_and_softplus_match_pytorch_in_the_tails(name, dtype, rng, torch):
    kwargs, layer = ACTIVATIONS[name]
    function = name.split("_")[0]
    x, tx = _pair(torch, np.array(TAILS, dtype=dtype))
    ours, theirs = getattr(F, function)(x, **kwargs), getattr(torch.nn.functional, function)(tx, **kwargs)
    denormal = 1e-40  # float32 values below 1e-38 keep only a few bits
    _assert_same(ours, theirs, rtol=1e-6, atol=denormal, name="value")
    assert np.isfinite(ours.detach().cpu().numpy()).all()
    _backward_both(torch, ours, theirs, rng)
    _assert_same(x.grad, tx.grad, rtol=1e-6, atol=denormal, name="gradient")
    _assert_same(getattr(activation, layer)(**kwargs)(x), theirs, rtol=1e-6, atol=denormal, name="layer")


def test_log_sigmoid_gradient_tends_to_one_far_left():
    x = minidl.tensor([-20.0, -40.0], requires_grad=True)
    F.logsigmoid(x).sum().backward()
    np.testing.assert_array_equal(F.logsigmoid(x).detach().cpu().numpy(), [-20.0, -40.0])
    np.testing.assert_allclose(x.grad.cpu().numpy(), [1.0, 1.0], rtol=1e-7)


def test_softplus_stays_finite_where_pytorch_overflows(torch):
    """A threshold above exp's range: PyTorch returns inf (gradient NaN); softplus(x) is x there."""
    values = np.array([100.0, 89.0], dtype=np.float32)
    assert torch.isinf(torch.nn.functional.softplus(torch.tensor(values), threshold=200.0)).all()
    x = minidl.tensor(values, requires_grad=True)
    out = F.softplus(x, threshold=200.0)
    out.sum().backward()
    np.testing.assert_allclose(out.detach().cpu().numpy(), values, rtol=1e-7)
    np.testing.assert_allclose(x.grad.cpu().numpy(), [1.0, 1.0])


def test_softplus_refuses_beta_zero():
    with pytest.raises(ValueError, match="beta"):
        F.softplus(minidl.ones(2), beta=0)


def test_activation_layers_print_like_pytorch(torch):
    for name, args in (("Softplus", ()), ("Softplus", (2, 5)), ("LogSigmoid", ())):
        assert repr(getattr(activation, name)(*args)) == repr(getattr(torch.nn, name)(*args))


BCE_PROBABILITIES = [0.0, 1e-30, 1e-8, 0.3, 0.5, 1 - 1e-7, 1.0]  # log1p(-1e-30) = -1e-30, log(1 - 1e-30) = 0


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("target", [0.0, 1.0, 0.25])
def test_bce_on_probabilities_matches_pytorch_including_the_clamped_log(target, reduction, rng, torch):
    p, tp = _pair(torch, np.array(BCE_PROBABILITIES, dtype=np.float32))
    y, ty = _pair(torch, np.full(len(BCE_PROBABILITIES), target, dtype=np.float32))
    ours = F.binary_cross_entropy(p, y, reduction=reduction)
    theirs = torch.nn.functional.binary_cross_entropy(tp, ty, reduction=reduction)
    _assert_same(ours, theirs, rtol=1e-6, atol=0, name="value")
    assert np.isfinite(ours.detach().cpu().numpy()).all()  # log(0) is floored at -100
    _backward_both(torch, ours, theirs, rng)
    _assert_same(p.grad, tp.grad, rtol=1e-5, atol=0, name="input gradient")
    _assert_same(y.grad, ty.grad, rtol=1e-5, atol=1e-30, name="target gradient")


def test_bce_weight_matches_pytorch(rng, torch):
    p, tp = _pair(torch, rng.uniform(0.01, 0.99, (4, 3)))
    y, ty = _pair(torch, rng.integers(0, 2, (4, 3)).astype(float), requires_grad=False)
    weight = rng.uniform(0, 2, (3,))
    ours = F.binary_cross_entropy(p, y, weight=minidl.tensor(weight))
    theirs = torch.nn.functional.binary_cross_entropy(tp, ty, weight=torch.tensor(weight))
    _backward_both(torch, ours, theirs, rng)
    _assert_same(ours, theirs)
    _assert_same(p.grad, tp.grad)
    _assert_same(nn.BCELoss(minidl.tensor(weight))(p, y), theirs)


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("options", ["plain", "weight", "pos_weight", "both"])
def test_bce_with_logits_matches_pytorch_in_the_tails(options, reduction, rng, torch):
    logits = np.array([TAILS, TAILS[::-1]], dtype=np.float32).T  # (14, 2): two classes
    targets = rng.choice([0.0, 1.0, 0.3], size=logits.shape).astype(np.float32)
    kwargs = {}
    if options in ("weight", "both"):
        kwargs["weight"] = rng.uniform(0.5, 2, (1, 2)).astype(np.float32)
    if options in ("pos_weight", "both"):
        kwargs["pos_weight"] = np.array([3.0, 0.5], dtype=np.float32)
    x, tx = _pair(torch, logits)
    y, ty = _pair(torch, targets)
    ours = F.binary_cross_entropy_with_logits(x, y, reduction=reduction,
                                              **{k: minidl.tensor(v) for k, v in kwargs.items()})
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(
        tx, ty, reduction=reduction, **{k: torch.tensor(v) for k, v in kwargs.items()})
    _assert_same(ours, theirs, rtol=1e-6, atol=1e-6, name="value")
    _backward_both(torch, ours, theirs, rng)
    _assert_same(x.grad, tx.grad, rtol=1e-5, atol=1e-7, name="input gradient")
    _assert_same(y.grad, ty.grad, rtol=1e-5, atol=1e-5, name="target gradient")
    layer = nn.BCEWithLogitsLoss(*([minidl.tensor(kwargs["weight"])] if "weight" in kwargs else []),
                                 reduction=reduction,
                                 pos_weight=minidl.tensor(kwargs["pos_weight"]) if "pos_weight" in kwargs else None)
    _assert_same(layer(x, y), theirs, rtol=1e-6, atol=1e-6, name="layer")


# ---- 2. what the binary cross-entropies accept ----------------------------------------------------
@pytest.mark.parametrize("bad", [NAN, -0.1, 1.1, INF])
def test_bce_rejects_an_input_that_is_not_a_probability_as_pytorch_does(bad, torch):
    message = "all elements of input should be between 0 and 1"
    with pytest.raises(RuntimeError, match=message):
        torch.nn.functional.binary_cross_entropy(torch.tensor([0.5, bad]), torch.tensor([1.0, 0.0]))
    with pytest.raises(RuntimeError, match=message):
        F.binary_cross_entropy(minidl.tensor([0.5, bad], requires_grad=True), minidl.tensor([1.0, 0.0]))


@pytest.mark.parametrize("bad", [2.0, -1.0, NAN])
def test_bce_rejects_a_target_outside_zero_one_as_pytorch_does(bad, torch):
    message = "all elements of target should be between 0 and 1"
    with pytest.raises(RuntimeError, match=message):
        torch.nn.functional.binary_cross_entropy(torch.tensor([0.3]), torch.tensor([bad]))
    with pytest.raises(RuntimeError, match=message):
        F.binary_cross_entropy(minidl.tensor([0.3]), minidl.tensor([bad]))


@pytest.mark.parametrize("bad", [2.0, -1.0, NAN])
def test_bce_with_logits_is_stricter_than_pytorch_about_the_target(bad, torch):
    """PyTorch returns a number (0.25 for a target of 2) without complaint; the library raises."""
    assert torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor([0.3]), torch.tensor([bad])).numel() == 1
    with pytest.raises(ValueError, match=r"target.*\[0, 1\]"):
        F.binary_cross_entropy_with_logits(minidl.tensor([0.3]), minidl.tensor([bad]))


# ---- 3. cross-entropy and NLL with PyTorch's options --------------------------------------------
CE_SHAPES = {"(C,)": (5,), "(N, C)": (6, 5), "(N, C, d)": (3, 5, 4), "(N, C, d1, d2)": (2, 5, 3, 2)}
CE_OPTIONS = {
    "default": {},
    "weight": {"weight": True},
    "ignore_default": {"ignore": -100},
    "ignore_in_range": {"ignore_index": 2, "ignore": 2},
    "weight_ignore": {"weight": True, "ignore": -100},
    "smoothing": {"label_smoothing": 0.1},
    "smoothing_one": {"label_smoothing": 1.0},
    "weight_ignore_smoothing": {"weight": True, "ignore": -100, "label_smoothing": 0.25},
}


def _ce_case(rng, shape, options):
    logits = (rng.normal(size=shape) * 3).astype(np.float32)
    classes = shape[0] if len(shape) == 1 else shape[1]
    target_shape = () if len(shape) == 1 else shape[:1] + shape[2:]
    target = rng.integers(0, classes, size=target_shape)
    if "ignore" in options and target.size > 1:
        target.flat[1::3] = options["ignore"]
    kwargs = {k: v for k, v in options.items() if k in ("ignore_index", "label_smoothing")}
    weight = rng.uniform(0.2, 3.0, classes).astype(np.float32) if options.get("weight") else None
    return logits, target, weight, kwargs


def _losses_both(torch, name, logits, target, weight, kwargs, reduction):
    x, tx = _pair(torch, logits)
    ours = getattr(F, name)(x, minidl.tensor(target), reduction=reduction,
                            weight=None if weight is None else minidl.tensor(weight), **kwargs)
    theirs = getattr(torch.nn.functional, name)(tx, torch.tensor(target), reduction=reduction,
                                                weight=None if weight is None else torch.tensor(weight), **kwargs)
    return x, tx, ours, theirs


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", CE_OPTIONS)
@pytest.mark.parametrize("shape", CE_SHAPES)
def test_cross_entropy_options_match_pytorch(shape, options, reduction, rng, torch):
    logits, target, weight, kwargs = _ce_case(rng, CE_SHAPES[shape], CE_OPTIONS[options])
    x, tx, ours, theirs = _losses_both(torch, "cross_entropy", logits, target, weight, kwargs, reduction)
    _assert_same(ours, theirs, rtol=1e-5, atol=1e-6, name="value")
    _backward_both(torch, ours, theirs, rng)
    _assert_same(x.grad, tx.grad, rtol=1e-5, atol=1e-6, name="gradient")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", ["default", "weight", "ignore_in_range", "weight_ignore"])
@pytest.mark.parametrize("shape", CE_SHAPES)
def test_nll_loss_options_match_pytorch(shape, options, reduction, rng, torch):
    logits, target, weight, kwargs = _ce_case(rng, CE_SHAPES[shape], CE_OPTIONS[options])
    class_dim = 0 if logits.ndim == 1 else 1
    log_probs = logits - np.log(np.exp(logits).sum(class_dim, keepdims=True))
    x, tx, ours, theirs = _losses_both(torch, "nll_loss", log_probs, target, weight, kwargs, reduction)
    _assert_same(ours, theirs, rtol=1e-5, atol=1e-6, name="value")
    _backward_both(torch, ours, theirs, rng)
    _assert_same(x.grad, tx.grad, rtol=1e-5, atol=1e-6, name="gradient")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", [
    {}, {"weight": True}, {"label_smoothing": 0.2}, {"weight": True, "label_smoothing": 0.3},
])
@pytest.mark.parametrize("shape", ["(N, C)", "(N, C, d)", "(C,)"])
def test_cross_entropy_with_class_probabilities_matches_pytorch(shape, options, reduction, rng, torch):
    logits, _, weight, kwargs = _ce_case(rng, CE_SHAPES[shape], options)
    class_dim = 0 if logits.ndim == 1 else 1
    positions = logits.shape[:class_dim] + logits.shape[class_dim + 1:]
    probabilities = rng.dirichlet(np.ones(logits.shape[class_dim]), size=positions)  # classes last
    probabilities = np.moveaxis(probabilities, -1, class_dim).astype(np.float32)
    x, tx, ours, theirs = _losses_both(torch, "cross_entropy", logits, probabilities, weight, kwargs, reduction)
    _assert_same(ours, theirs, rtol=1e-5, atol=1e-6, name="value")
    _backward_both(torch, ours, theirs, rng)
    _assert_same(x.grad, tx.grad, rtol=1e-5, atol=1e-6, name="gradient")


@pytest.mark.parametrize("name, options", [
    ("cross_entropy", {}), ("cross_entropy", {"weight": True}), ("cross_entropy", {"label_smoothing": 0.1}),
    ("nll_loss", {}), ("nll_loss", {"weight": True}),
])
def test_a_mean_over_only_ignored_targets_is_nan_as_in_pytorch(name, options, rng, torch):
    logits, _, weight, kwargs = _ce_case(rng, (4, 3), options)
    target = np.full(4, -100)
    for reduction in ("mean", "sum", "none"):
        x, tx, ours, theirs = _losses_both(torch, name, logits, target, weight, kwargs, reduction)
        _assert_same(ours, theirs, name=reduction)
        ours.sum().backward()
        theirs.sum().backward()
        _assert_same(x.grad, tx.grad, name=f"{reduction}: gradient")  # zero, also for the NaN mean
    assert math.isnan(_losses_both(torch, name, logits, target, weight, kwargs, "mean")[2].item())


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("bad", [3, -1, -5])
def test_an_out_of_range_class_raises_index_error_as_pytorch_does(name, bad, torch):
    with pytest.raises(IndexError, match=f"Target {bad} is out of bounds"):
        getattr(torch.nn.functional, name)(torch.zeros(2, 3), torch.tensor([0, bad]))
    with pytest.raises(IndexError, match=rf"Target {bad} is out of bounds.*\[0, 2\]"):
        getattr(F, name)(minidl.zeros(2, 3), minidl.tensor([0, bad]))


@pytest.mark.parametrize("target", ["indices", "probabilities"])
def test_label_smoothing_outside_zero_one_is_refused(target, torch):
    """PyTorch raises above 1; below 0 it silently smooths nothing, and the library raises there too."""
    logits, torch_logits = minidl.zeros(2, 3), torch.zeros(2, 3)
    y, torch_y = (minidl.tensor([0, 1]), torch.tensor([0, 1])) if target == "indices" else \
        (minidl.ones(2, 3) / 3, torch.ones(2, 3) / 3)
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        torch.nn.functional.cross_entropy(torch_logits, torch_y, label_smoothing=1.5)
    assert torch.nn.functional.cross_entropy(torch_logits, torch_y, label_smoothing=-0.1) == \
        torch.nn.functional.cross_entropy(torch_logits, torch_y)
    for bad in (1.5, -0.1):
        with pytest.raises(RuntimeError, match=f"label_smoothing must be between 0.0 and 1.0. Got: {bad}"):
            F.cross_entropy(logits, y, label_smoothing=bad)


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_a_weight_of_the_wrong_size_is_refused_as_in_pytorch(name, torch):
    message = "weight tensor should be defined either for all 3 classes or no classes"
    with pytest.raises(RuntimeError, match=message):
        getattr(torch.nn.functional, name)(torch.zeros(2, 3), torch.tensor([0, 1]), weight=torch.ones(4))
    with pytest.raises(RuntimeError, match=message):
        getattr(F, name)(minidl.zeros(2, 3), minidl.tensor([0, 1]), weight=minidl.ones(4))


LOSS_LAYERS = {
    "CrossEntropyLoss": ({"weight": True, "ignore_index": 1, "label_smoothing": 0.1}, "indices"),
    "NLLLoss": ({"weight": True, "ignore_index": 0}, "indices"),
    "BCELoss": ({"weight": True}, "probabilities"),
    "BCEWithLogitsLoss": ({"weight": True, "pos_weight": True}, "logits"),
    "MSELoss": ({}, "logits"),
}


def _layer_case(rng, name):
    options, kind = LOSS_LAYERS[name]
    x = rng.normal(size=(4, 3)).astype(np.float32)
    if kind == "probabilities":
        x = 1 / (1 + np.exp(-x))
    y = rng.integers(0, 3, 4) if kind == "indices" else rng.uniform(0, 1, (4, 3)).astype(np.float32)
    kwargs = {k: (rng.uniform(0.5, 2, 3).astype(np.float32) if v is True else v) for k, v in options.items()}
    return x, y, kwargs


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", LOSS_LAYERS)
def test_loss_layers_take_pytorch_options(name, reduction, rng, torch):
    x, y, kwargs = _layer_case(rng, name)
    lift = lambda make: {k: make(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    ours = getattr(nn, name)(reduction=reduction, **lift(minidl.tensor))
    theirs = getattr(torch.nn, name)(reduction=reduction, **lift(torch.tensor))
    xs, txs = _pair(torch, x)
    _assert_same(ours(xs, minidl.tensor(y)), theirs(txs, torch.tensor(y)))
    assert [k for k, _ in ours.state_dict().items()] == [k for k in theirs.state_dict()]
    assert repr(ours).startswith(f"{name}(")


@pytest.mark.parametrize("name", LOSS_LAYERS)
def test_a_loss_layer_given_the_data_explains_how_it_is_used(name, rng):
    x, y, _ = _layer_case(rng, name)
    with pytest.raises(TypeError, match=rf"loss_fn = nn\.{name}\(\); loss = loss_fn\("):
        getattr(nn, name)(minidl.tensor(x), minidl.tensor(y))


def test_every_loss_layer_is_covered():
    layers = {name for name, cls in vars(loss_module).items() if isinstance(cls, type)
              and cls.__module__ == loss_module.__name__ and not name.startswith("_")}
    # GaussianNLLLoss takes (input, target, var): tests/library/test_uncertainty.py compares it with PyTorch
    assert layers - {"GaussianNLLLoss"} == set(LOSS_LAYERS)


# ---- 4. dropout -------------------------------------------------------------------------------
def test_dropout_with_p_one_drops_everything_as_in_pytorch(torch):
    x, tx = _pair(torch, np.ones((3, 4), dtype=np.float32))
    for ours in (F.dropout(x, 1.0), nn.Dropout(1.0)(x)):
        theirs = torch.nn.functional.dropout(tx, 1.0)
        ours.sum().backward()
        theirs.sum().backward()
        _assert_same(ours, theirs)
        _assert_same(x.grad, tx.grad)


@pytest.mark.parametrize("p", [-0.1, 1.1, NAN])
def test_dropout_probability_outside_zero_one_is_refused(p):
    message = "dropout probability has to be between 0 and 1, but got"
    with pytest.raises(ValueError, match=message):
        F.dropout(minidl.ones(3), p)
    with pytest.raises(ValueError, match=message):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=message):
        nn.MultiheadAttention(4, 2, dropout=p)


def test_attention_dropout_of_one_gives_zeros_as_in_pytorch(torch):
    q, tq = _pair(torch, np.ones((1, 3, 4), dtype=np.float32))
    _assert_same(F.scaled_dot_product_attention(q, q, q, dropout_p=1.0),
                 torch.nn.functional.scaled_dot_product_attention(tq, tq, tq, dropout_p=1.0))


# ---- 5. gradient clipping ---------------------------------------------------------------------
CLIP_CASES = {
    "clipped": ([[3.0, 4.0], [12.0]], 1.0, 2.0),
    "not_clipped": ([[3.0, 4.0], [0.0]], 10.0, 2.0),
    "max_norm_zero": ([[3.0, 4.0]], 0.0, 2.0),
    "inf_norm": ([[3.0, -4.0], [1.0]], 1.0, INF),
    "inf_norm_as_text": ([[3.0, -4.0]], 1.0, "inf"),
    "l1": ([[3.0, -4.0], [2.0, 2.0]], 1.0, 1.0),
    "half_norm": ([[3.0, 4.0]], 1.0, 0.5),
    "zero_norm": ([[3.0, 0.0], [0.0]], 1.0, 0.0),
    "minus_inf_norm": ([[3.0, 4.0], [-5.0]], 1.0, -INF),
    "tiny": ([[1e-7, 0.0]], 1e-8, 2.0),
    "nan": ([[NAN, 1.0], [2.0]], 1.0, 2.0),
    "inf": ([[INF, 1.0], [2.0]], 1.0, 2.0),
    "minus_inf_entry": ([[-INF, 1.0]], 1.0, 2.0),
    "inf_with_inf_norm": ([[INF, 1.0]], 1.0, INF),
}


def _parameters_with_grads(module, values, dtype=np.float32):
    """Parameters of ``module`` (minidl or torch) whose .grad holds ``values``, in ``dtype``."""
    parameters = []
    for v in values:
        grad = module.tensor(np.array(v, dtype=dtype))
        p = module.zeros(len(v), dtype=grad.dtype, requires_grad=True)
        p.grad = grad
        parameters.append(p)
    return parameters


@pytest.mark.parametrize("case, dtype", [
    (case, dtype) for case in CLIP_CASES for dtype in (np.float32, np.float64, np.float16)
    if (case, dtype) != ("tiny", np.float16)  # max_norm = 1e-8 is below float16's smallest number
])
def test_clip_grad_norm_matches_pytorch(case, dtype, torch):
    values, max_norm, norm_type = CLIP_CASES[case]
    ours, theirs = _parameters_with_grads(minidl, values, dtype), _parameters_with_grads(torch, values, dtype)
    norm = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    torch_norm = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(norm, minidl.Tensor) and norm.shape == () and norm.dtype == dtype
    tolerance = 2e-3 if dtype == np.float16 else 1e-6
    _assert_same(norm, torch_norm, rtol=tolerance, name="total norm")
    for p, q in zip(ours, theirs):
        _assert_same(p.grad, q.grad, rtol=tolerance, atol=1e-30, name="clipped gradient")


@pytest.mark.parametrize("case", ["nan", "inf", "minus_inf_entry", "inf_with_inf_norm"])
def test_clip_grad_norm_can_refuse_a_non_finite_norm_as_pytorch_does(case, torch):
    values, max_norm, norm_type = CLIP_CASES[case]
    message = f"The total norm of order {float(norm_type)} for gradients from `parameters` is non-finite"
    with pytest.raises(RuntimeError, match=message):
        torch.nn.utils.clip_grad_norm_(_parameters_with_grads(torch, values), max_norm, norm_type,
                                       error_if_nonfinite=True)
    parameters = _parameters_with_grads(minidl, values)
    with pytest.raises(RuntimeError, match=message):
        nn.utils.clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite=True)
    np.testing.assert_array_equal(parameters[0].grad.cpu().numpy(), np.array(values[0], dtype=np.float32))  # untouched


@pytest.mark.parametrize("shared", ["one_tensor", "one_array"])
def test_clip_grad_norm_scales_a_shared_gradient_once(shared):
    """Two parameters whose .grad share memory: both count in the norm, and the array is scaled once.

    (PyTorch multiplies the shared tensor once per parameter, which shrinks it twice.)
    """
    first, second = _parameters_with_grads(minidl, [[3.0, 4.0], [0.0, 0.0]])
    second.grad = first.grad if shared == "one_tensor" else minidl.Tensor(first.grad.data)
    norm = nn.utils.clip_grad_norm_([first, second], 1.0)
    np.testing.assert_allclose(norm.item(), math.sqrt(50), rtol=1e-6)
    np.testing.assert_allclose(first.grad.cpu().numpy(), np.array([3.0, 4.0]) / (math.sqrt(50) + 1e-6), rtol=1e-6)


def test_clip_grad_norm_counts_a_repeated_parameter_once():
    (p,) = _parameters_with_grads(minidl, [[3.0, 4.0]])
    assert nn.utils.clip_grad_norm_([p, p], 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.cpu().numpy(), [0.6, 0.8], rtol=1e-5)


def test_clip_grad_norm_takes_a_single_tensor_or_a_generator_and_no_gradients():
    (p,) = _parameters_with_grads(minidl, [[3.0, 4.0]])
    assert nn.utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    (q,) = _parameters_with_grads(minidl, [[3.0, 4.0]])
    assert nn.utils.clip_grad_norm_((x for x in [q]), 1.0).item() == pytest.approx(5.0)
    assert nn.utils.clip_grad_norm_([minidl.zeros(2, requires_grad=True)], 1.0).item() == 0.0


def test_clip_grad_norm_is_stricter_than_pytorch_about_a_negative_max_norm(torch):
    """PyTorch flips the sign of every gradient for max_norm < 0; the library refuses."""
    (q,) = _parameters_with_grads(torch, [[3.0, 4.0]])
    torch.nn.utils.clip_grad_norm_([q], -1.0)
    assert (q.grad < 0).all()
    with pytest.raises(ValueError, match="max_norm"):
        nn.utils.clip_grad_norm_(_parameters_with_grads(minidl, [[3.0, 4.0]]), -1.0)


# ---- 6. max pooling ---------------------------------------------------------------------------
POOL_WINDOWS = {
    "nan_in_a_window": [[1.0, NAN, 3.0, 2.0], [5.0, 0.0, 5.0, 5.0], [2.0, 2.0, 2.0, 2.0], [NAN, NAN, 1.0, 9.0]],
    "nan_then_larger": [[NAN, 7.0, 1.0, 1.0], [9.0, 8.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]],
    "ties": [[7.0, 7.0, 0.0, 7.0], [7.0, 0.0, 7.0, 7.0], [2.0, 7.0, 7.0, 7.0], [7.0, 2.0, 7.0, 2.0]],
    "minus_inf": [[-INF, -INF, -INF, 1.0], [-INF, -INF, -INF, -INF], [0.0, -INF, -INF, -INF], [-INF, -INF, -INF, -INF]],
    "plus_inf": [[INF, INF, 1.0, NAN], [INF, 1.0, INF, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, INF, 1.0, 1.0]],
}
POOL_SETTINGS = {
    "k2": dict(kernel_size=2),
    "k2_s1": dict(kernel_size=2, stride=1),
    "k3_s2_p1": dict(kernel_size=3, stride=2, padding=1),
    "k2_p1": dict(kernel_size=2, padding=1),
    "k3_s2_ceil": dict(kernel_size=3, stride=2, ceil_mode=True),
    "k2_s3_p1_ceil": dict(kernel_size=2, stride=3, padding=1, ceil_mode=True),
    "k2_dilation2": dict(kernel_size=2, stride=1, dilation=2),
}


@pytest.mark.parametrize("settings", POOL_SETTINGS)
@pytest.mark.parametrize("window", POOL_WINDOWS)
def test_max_pool_propagates_nan_and_routes_the_gradient_as_pytorch(window, settings, rng, torch):
    grid = np.array(POOL_WINDOWS[window], dtype=np.float32)
    x, tx = _pair(torch, np.stack([grid, grid.T])[None])  # (1, 2, 4, 4)
    ours = F.max_pool2d(x, **POOL_SETTINGS[settings])
    theirs = torch.nn.functional.max_pool2d(tx, **POOL_SETTINGS[settings])
    _assert_same(ours, theirs, rtol=0, atol=0, name="value")
    _backward_both(torch, ours, theirs, rng)
    _assert_same(x.grad, tx.grad, rtol=1e-6, atol=0, name="gradient")


CEIL_CASES = [(5, 2, 2, 0), (6, 3, 2, 0), (5, 3, 2, 1), (4, 2, 2, 1), (7, 3, 3, 1), (6, 2, 3, 0),
              (2, 2, 2, 1), (3, 3, 2, 1), (8, 3, 4, 1), (9, 4, 3, 2), (1, 1, 2, 0)]


@pytest.mark.parametrize("ceil_mode", [True, False])
@pytest.mark.parametrize("size, kernel, stride, padding", CEIL_CASES)
def test_max_pool_output_size_and_gradient_match_pytorch(size, kernel, stride, padding, ceil_mode, rng, torch):
    x, tx = _pair(torch, rng.normal(size=(2, 3, size, size + 1)).astype(np.float32))
    settings = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    ours, theirs = nn.MaxPool2d(**settings)(x), torch.nn.MaxPool2d(**settings)(tx)
    _assert_same(ours, theirs, rtol=0, atol=0)
    _backward_both(torch, ours, theirs, rng)
    _assert_same(x.grad, tx.grad, rtol=1e-6, atol=0)


@pytest.mark.parametrize("layer, settings", [
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1)),
])
@pytest.mark.parametrize("shape", [(2, 3, 7, 6), (3, 7, 6)])
def test_pooling_layers_take_padding_and_unbatched_input_as_pytorch(layer, settings, shape, rng, torch):
    x, tx = _pair(torch, rng.normal(size=shape).astype(np.float32))
    ours, theirs = getattr(nn, layer)(**settings)(x), getattr(torch.nn, layer)(**settings)(tx)
    _assert_same(ours, theirs, rtol=1e-6)
    _backward_both(torch, ours, theirs, rng)
    _assert_same(x.grad, tx.grad, rtol=1e-6)


def test_max_pool_layer_prints_its_options_like_pytorch(torch):
    settings = dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)
    assert repr(nn.MaxPool2d(**settings)) == repr(torch.nn.MaxPool2d(**settings))


@pytest.mark.parametrize("settings, message", [
    (dict(kernel_size=2, padding=2), "pad should be at most half of effective kernel size"),
    (dict(kernel_size=5), "Output size is too small"),
])
def test_max_pool_refuses_impossible_settings_as_pytorch_does(settings, message, torch):
    with pytest.raises(RuntimeError, match=message):
        torch.nn.functional.max_pool2d(torch.zeros(1, 1, 4, 4), **settings)
    with pytest.raises(RuntimeError, match=message):
        F.max_pool2d(minidl.zeros(1, 1, 4, 4), **settings)


# ---- 7. attention with a fully masked query ---------------------------------------------------
def _masks(kind, length, source):
    """A mask in which query 1 may attend to nothing, in each of PyTorch's spellings."""
    if kind == "bool":
        mask = np.ones((length, source), dtype=bool)
        mask[1] = False
        mask[2, ::2] = False
    else:
        mask = np.zeros((length, source), dtype=np.float32)
        mask[1] = -INF
        mask[2, ::2] = -INF
    return mask


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["bool", "additive"])
def test_a_fully_masked_query_gets_zero_output_and_gradient_as_in_pytorch(kind, dtype, rng, torch):
    arrays = [rng.normal(size=(2, 3, 4)).astype(dtype), rng.normal(size=(2, 5, 4)).astype(dtype),
              rng.normal(size=(2, 5, 3)).astype(dtype)]
    pairs = [_pair(torch, a) for a in arrays]
    mask = _masks(kind, 3, 5).astype(dtype if kind == "additive" else bool)
    ours = F.scaled_dot_product_attention(*(p[0] for p in pairs), attn_mask=minidl.tensor(mask))
    theirs = torch.nn.functional.scaled_dot_product_attention(*(p[1] for p in pairs), attn_mask=torch.tensor(mask))
    _assert_same(ours, theirs, rtol=1e-5, atol=1e-6, name="output")
    assert not np.isnan(ours.detach().cpu().numpy()).any() and not ours.detach().cpu().numpy()[:, 1].any()
    _backward_both(torch, ours, theirs, rng)
    for name, (a, b) in zip(("query", "key", "value"), pairs):
        _assert_same(a.grad, b.grad, rtol=1e-5, atol=1e-6, name=name)


def _mha_both(torch, rng, kind, need_weights):
    ours, theirs = nn.MultiheadAttention(4, 2, batch_first=True), torch.nn.MultiheadAttention(4, 2, batch_first=True)
    for p in ours.parameters():
        p.data[...] = minidl.tensor(rng.normal(size=p.shape).astype(np.float32) * 0.5).data
    theirs.load_state_dict({k: torch.tensor(v.cpu().numpy()) for k, v in ours.state_dict().items()})
    x, tx = _pair(torch, rng.normal(size=(2, 3, 4)).astype(np.float32))
    masks = {}
    if kind == "key_padding":
        padding = np.zeros((2, 3), dtype=bool)
        padding[1] = True  # every key of the second sequence is padding
        masks["key_padding_mask"] = padding
    else:
        mask = _masks("bool", 3, 3)
        masks["attn_mask"] = ~mask if kind == "bool" else np.where(mask, 0, -INF).astype(np.float32)
    out, weights = ours(x, x, x, need_weights=need_weights, **{k: minidl.tensor(v) for k, v in masks.items()})
    torch_out, torch_weights = theirs(tx, tx, tx, need_weights=need_weights,
                                      **{k: torch.tensor(v) for k, v in masks.items()})
    return (ours, x, out, weights), (theirs, tx, torch_out, torch_weights)


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("kind", ["bool", "additive", "key_padding"])
def test_multihead_attention_with_a_fully_masked_query_matches_pytorch(kind, need_weights, rng, torch):
    """PyTorch gives zeros through its fused path (need_weights=False) and NaN through the explicit
    softmax (need_weights=True, the weights are returned); the library does the same."""
    (ours, x, out, weights), (theirs, tx, torch_out, torch_weights) = _mha_both(torch, rng, kind, need_weights)
    assert np.isnan(torch_out.detach().cpu().numpy()).any() == need_weights
    _assert_same(out, torch_out, rtol=1e-5, atol=1e-6, name="output")
    if need_weights:
        _assert_same(weights, torch_weights, rtol=1e-5, atol=1e-6, name="weights")
        return
    _backward_both(torch, out, torch_out, rng)
    _assert_same(x.grad, tx.grad, rtol=1e-4, atol=1e-5, name="input gradient")
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        _assert_same(p.grad, q.grad, rtol=1e-4, atol=1e-5, name=name)


# ---- 8. the padding row of an embedding ------------------------------------------------------
@pytest.mark.parametrize("padding_idx", [0, 3, -1, -2])
def test_embedding_padding_row_is_zero_and_gets_no_gradient_as_in_pytorch(padding_idx, rng, torch):
    ours, theirs = Embedding(5, 3, padding_idx=padding_idx), torch.nn.Embedding(5, 3, padding_idx=padding_idx)
    assert ours.padding_idx == theirs.padding_idx and repr(ours) == repr(theirs)
    assert not ours.weight.detach().cpu().numpy()[ours.padding_idx].any()
    assert ours.weight.detach().cpu().numpy().any(axis=1).sum() == 4  # the other rows are drawn
    theirs.load_state_dict({k: torch.tensor(v.cpu().numpy()) for k, v in ours.state_dict().items()})
    indices = np.array([[3, 1, 3, 0], [0, 3, 4, 2]])
    out, torch_out = ours(minidl.tensor(indices)), theirs(torch.tensor(indices))
    _assert_same(out, torch_out)
    _backward_both(torch, out, torch_out, rng)
    _assert_same(ours.weight.grad, theirs.weight.grad, rtol=1e-6)
    assert not ours.weight.grad.cpu().numpy()[ours.padding_idx].any()


@pytest.mark.parametrize("padding_idx", [1, -4])
def test_functional_embedding_padding_idx_matches_pytorch(padding_idx, rng, torch):
    """F.embedding leaves the padding row's value alone and only holds back its gradient."""
    weight, torch_weight = _pair(torch, rng.normal(size=(4, 2)).astype(np.float32))
    indices = np.array([0, 1, 1, 3, 0])
    out = F.embedding(minidl.tensor(indices), weight, padding_idx=padding_idx)
    torch_out = torch.nn.functional.embedding(torch.tensor(indices), torch_weight, padding_idx=padding_idx)
    _assert_same(out, torch_out)
    _backward_both(torch, out, torch_out, rng)
    _assert_same(weight.grad, torch_weight.grad, rtol=1e-6)


@pytest.mark.parametrize("padding_idx", [5, -6])
def test_an_out_of_range_padding_idx_is_refused_as_in_pytorch(padding_idx, torch):
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        torch.nn.Embedding(5, 3, padding_idx=padding_idx)
    with pytest.raises(AssertionError, match=rf"Padding_idx must be within num_embeddings.*{padding_idx}.*\[-5, 4\]"):
        Embedding(5, 3, padding_idx=padding_idx)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        F.embedding(minidl.tensor([0]), minidl.zeros(5, 3), padding_idx=padding_idx)


# ---- 9. float16 counts and sums never overflow ------------------------------------------------
def _half_reference(torch, name, x, y, **kwargs):
    """PyTorch's float64 result rounded to float16: what an exact float16 computation gives."""
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    loss = getattr(torch.nn.functional, name)(tx, torch.tensor(y), **kwargs)
    loss.backward()
    return loss.detach().cpu().numpy().astype(np.float16), tx.grad.cpu().numpy().astype(np.float16)


HALF_CASES = {
    "mse_loss": lambda rng: (np.full(70000, 2.0), np.zeros(70000), {}),
    "binary_cross_entropy": lambda rng: (np.full(70000, 0.5), np.ones(70000), {}),
    "binary_cross_entropy_with_logits": lambda rng: (np.zeros(70000), np.ones(70000), {}),
    "cross_entropy": lambda rng: (np.zeros((70000, 3)), np.zeros(70000, dtype=np.int64), {"label_smoothing": 0.1}),
    "cross_entropy_probabilities": lambda rng: (np.zeros((70000, 3)), np.eye(3)[np.zeros(70000, dtype=int)], {}),
    "cross_entropy_classes": lambda rng: (np.zeros((2, 70000)), np.zeros(2, dtype=np.int64), {}),
}


@pytest.mark.parametrize("case", HALF_CASES)
def test_float16_means_over_70000_entries_do_not_overflow(case, torch):
    x, y, kwargs = HALF_CASES[case](None)
    name = case.replace("_probabilities", "").replace("_classes", "")
    value, grad = _half_reference(torch, name, x, y, **kwargs)
    ours_x = minidl.tensor(x.astype(np.float16), requires_grad=True)
    ours_y = minidl.tensor(y if y.dtype.kind == "i" else y.astype(np.float16))
    loss = getattr(F, name)(ours_x, ours_y, **kwargs)
    loss.backward()
    assert loss.dtype == np.float16 and ours_x.grad.dtype == np.float16
    np.testing.assert_allclose(loss.item(), value, rtol=2e-3)
    np.testing.assert_allclose(ours_x.grad.cpu().numpy(), grad, rtol=2e-3, atol=0)
    assert ours_x.grad.cpu().numpy().any()


@pytest.mark.parametrize("function", ["softmax", "log_softmax"])
def test_float16_softmax_over_70000_equal_values_does_not_overflow(function, torch):
    """Against PyTorch in float64: PyTorch's own float16 log_softmax overflows here (it gives -inf)."""
    values = np.zeros((1, 70000))
    x = minidl.tensor(values.astype(np.float16), requires_grad=True)
    tx = torch.tensor(values, requires_grad=True)
    ours, theirs = getattr(F, function)(x, 1), getattr(torch.nn.functional, function)(tx, 1)
    assert ours.dtype == np.float16
    _assert_same(ours, theirs.to(torch.float16), rtol=2e-3)
    ours[0, 0].backward()
    theirs[0, 0].backward()
    _assert_same(x.grad, tx.grad.to(torch.float16), rtol=2e-3, atol=1e-7)
