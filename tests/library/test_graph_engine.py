"""The graph engine as PyTorch defines it: who owns ``.grad``, in-place changes, version counters,
freed graphs and named nodes. Expected values come from PyTorch where it is installed."""

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.nn import functional as F

from conftest import leaf
from test_autograd import BINARY, UNARY


def host(t):
    return minidl.to_numpy(t)


# ---- who owns .grad -----------------------------------------------------------------------------------
def test_two_leaves_never_share_a_gradient_array():
    a = minidl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = minidl.tensor([4.0, 5.0, 6.0], requires_grad=True)
    c = minidl.tensor([1.0, 10.0, 100.0])
    for _ in range(2):
        ((a + b) * c).sum().backward()
    np.testing.assert_array_equal(host(a.grad), [2, 20, 200])
    np.testing.assert_array_equal(host(b.grad), [2, 20, 200])


def test_clip_grad_norm_scales_each_gradient_once():
    a = minidl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = minidl.tensor([4.0, 5.0, 6.0], requires_grad=True)
    ((a + b) * minidl.tensor([1.0, 10.0, 100.0])).sum().backward()
    nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    norm = np.sqrt((host(a.grad) ** 2).sum() + (host(b.grad) ** 2).sum())
    assert norm == pytest.approx(1.0, rel=1e-4)
    np.testing.assert_allclose(host(a.grad), host(b.grad))


def test_the_callers_gradient_is_never_adopted():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    v = minidl.tensor([1.0, 1.0])
    (x - 0).backward(v)
    x.grad.zero_()
    np.testing.assert_array_equal(host(v), [1.0, 1.0])


def test_a_retained_gradient_is_its_own_array():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    y = x + 0
    y.retain_grad()
    (y * 3).sum().backward()
    y.grad.zero_()
    np.testing.assert_array_equal(host(x.grad), [3.0, 3.0])
    assert y.retains_grad and not x.retains_grad


def _ops_with_inputs():
    """(name, function, input shapes): every differentiable operation the library offers, one call each."""
    cases = [(f"unary-{name}", fn, [(2, 3)]) for name, fn in UNARY.items()]
    cases += [(f"binary-{name}", fn, [(2, 3), (2, 3)]) for name, fn in BINARY.items()]
    cases += [
        ("matmul", lambda a, b: a @ b, [(2, 3), (3, 4)]),
        ("cat", lambda a, b: minidl.cat([a, b], dim=1), [(2, 3), (2, 2)]),
        ("stack", lambda a, b: minidl.stack([a, b]), [(2, 3), (2, 3)]),
        ("unbind", lambda a: minidl.stack(list(minidl.unbind(a, 1))[::-1]), [(2, 3)]),
        ("linear", lambda x, w, b: F.linear(x, w, b), [(4, 3), (2, 3), (2,)]),
        ("softmax", lambda x: F.softmax(x, -1), [(2, 3)]),
        ("cross_entropy", lambda x: F.cross_entropy(x, minidl.tensor([0, 2])), [(2, 3)]),
        ("mse", lambda x, y: F.mse_loss(x, y), [(2, 3), (2, 3)]),
        ("bce_logits", lambda x: F.binary_cross_entropy_with_logits(x, minidl.tensor(np.full((2, 3), 0.25))), [(2, 3)]),
        ("layer_norm", lambda x, w, b: F.layer_norm(x, (3,), w, b), [(2, 3), (3,), (3,)]),
        ("conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1), [(1, 2, 4, 4), (3, 2, 3, 3), (3,)]),
        ("conv_transpose2d", lambda x, w: F.conv_transpose2d(x, w, stride=2), [(1, 2, 3, 3), (2, 3, 2, 2)]),
        ("max_pool2d", lambda x: F.max_pool2d(x, 2), [(1, 2, 4, 4)]),
        ("avg_pool2d", lambda x: F.avg_pool2d(x, 2), [(1, 2, 4, 4)]),
        ("attention", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [(2, 3, 4)] * 3),
        ("embedding", lambda w: F.embedding(minidl.tensor([[0, 2], [2, 1]]), w), [(3, 4)]),
        ("lstm", lambda x: _lstm()(x)[0], [(5, 2, 3)]),
    ]
    return cases


def _lstm():
    minidl.manual_seed(3)
    layer = nn.LSTM(3, 4)
    for p in layer.parameters():
        p.requires_grad_(False)
    return layer


OPS = _ops_with_inputs()


@pytest.mark.parametrize("name, fn, shapes", OPS, ids=[case[0] for case in OPS])
def test_every_op_gives_each_leaf_its_own_gradient(name, fn, shapes):
    """Backward twice into fresh leaves gives twice one pass; mutating one gradient moves nothing else."""
    rng = np.random.default_rng(0)
    values = [rng.normal(size=s) + 0.1 for s in shapes]
    weights = [rng.normal(size=np.shape(fn(*[leaf(v, requires_grad=False) for v in values]).data))]

    def run(passes):
        inputs = [leaf(v) for v in values]
        for _ in range(passes):
            (fn(*inputs) * leaf(weights[0], requires_grad=False)).sum().backward()
        return inputs

    once = [host(t.grad) for t in run(1)]
    inputs = run(2)
    for single, t in zip(once, inputs):
        np.testing.assert_allclose(host(t.grad), 2 * single, rtol=1e-6, atol=1e-12)
    snapshot = [host(t.grad).copy() for t in inputs] + [host(t).copy() for t in inputs]
    inputs[0].grad.data[...] = 12345.0
    for before, after in zip(snapshot[1:], [host(t.grad) for t in inputs[1:]] + [host(t) for t in inputs]):
        np.testing.assert_array_equal(before, after)


# ---- in-place operations --------------------------------------------------------------------------------
def test_in_place_on_a_graph_result_changes_that_tensor(torch):
    x = minidl.tensor(1.0, requires_grad=True)
    y = x * 2
    keep = y
    y += 1
    assert keep is y and keep.item() == 3.0
    assert y.grad_fn.name() == "AddBackward0"
    assert y.grad_fn.next_functions[0][0].name() == "MulBackward0"
    y.backward()
    assert x.grad.item() == 2.0


def test_earlier_users_keep_the_old_graph(torch):
    """z = h * 2 was built before h *= 5: its gradient follows the old h, as in PyTorch."""
    results = []
    for lib in (minidl, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        h = a + 1
        z = h * 2
        h *= 5
        z.sum().backward()
        results.append(np.asarray(a.grad.tolist()))
    np.testing.assert_array_equal(results[0], results[1])


IN_PLACE = {
    "iadd": lambda y, w: y.__iadd__(w),
    "isub": lambda y, w: y.__isub__(w),
    "imul": lambda y, w: y.__imul__(w),
    "itruediv": lambda y, w: y.__itruediv__(w + 3),
    "add_": lambda y, w: y.add_(w),
    "mul_": lambda y, w: y.mul_(w),
    "clamp_": lambda y, w: y.clamp_(-0.5, 0.5),
    "copy_": lambda y, w: y.copy_(w * 3),
    "fill_": lambda y, w: y.fill_(2.0),
    "zero_": lambda y, w: y.zero_(),
    "setitem_slice": lambda y, w: y.__setitem__((slice(None), 1), w[:, 0] * 4),
    "setitem_int": lambda y, w: y.__setitem__(0, w[1]),
    "setitem_mask": lambda y, w: y.__setitem__(y > 0.5, 7.0),
}


@pytest.mark.parametrize("name", IN_PLACE)
def test_in_place_gradients_match_pytorch(name, torch):
    rng = np.random.default_rng(1)
    xv, wv = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    grads = []
    for lib in (minidl, torch):
        x = lib.tensor(xv, requires_grad=True)
        w = lib.tensor(wv, requires_grad=True)
        y = x * 1.5
        IN_PLACE[name](y, w)
        (y * lib.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
        grads.append([np.asarray(y.tolist())] + [np.asarray(t.grad.tolist()) if t.grad is not None else None for t in (x, w)])
    for ours, theirs in zip(*grads):
        if theirs is None:
            assert ours is None or not np.any(ours)
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("change", ["no_grad_iadd", "detach_zero", "data_view_mul"])
def test_a_value_saved_for_backward_that_changed_raises(change, torch):
    for lib in (minidl, torch):
        x = lib.tensor([0.5, 1.0], requires_grad=True)
        y = x.exp()
        if change == "no_grad_iadd":
            with lib.no_grad():
                y += 1
        elif change == "detach_zero":
            y.detach().zero_()
        else:
            with lib.no_grad():
                y.detach()[0:1].mul_(3)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_changing_an_input_that_was_not_saved_is_allowed(torch):
    for lib in (minidl, torch):
        x = lib.tensor([0.5, 1.0], requires_grad=True)
        h = x * 1
        y = h + 1  # addition keeps no input
        with lib.no_grad():
            h += 10
        y.sum().backward()
        np.testing.assert_array_equal(np.asarray(x.grad.tolist()), [1.0, 1.0])


@pytest.mark.parametrize("operation", ["iadd", "setitem", "zero_"])
def test_a_leaf_that_requires_grad_cannot_change_in_place_while_recording(operation):
    w = minidl.tensor([1.0, 2.0], requires_grad=True)
    change = {"iadd": lambda: w.__iadd__(1), "setitem": lambda: w.__setitem__(0, 5.0), "zero_": w.zero_}[operation]
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        change()
    np.testing.assert_array_equal(host(w), [1.0, 2.0])
    with minidl.no_grad():
        change()  # how an optimizer updates a parameter
    assert w.requires_grad and w.is_leaf


def test_in_place_keeps_dtype_rules():
    counts = minidl.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        counts += 1.5
    counts += 1
    np.testing.assert_array_equal(host(counts), [2, 3])
    with pytest.raises(RuntimeError, match="broadcast shape"):
        minidl.tensor([1.0, 2.0]).__iadd__(minidl.ones(3, 2))


def test_setitem_without_a_graph_writes_through():
    x = minidl.zeros(2, 3)
    x[0] = minidl.tensor([1.0, 2.0, 3.0])
    x[1, 1:] = 9.0
    x[minidl.tensor([[False, False, True], [False, False, False]])] = -1.0
    np.testing.assert_array_equal(host(x), [[1, 2, -1], [0, 9, 9]])
    assert not x.requires_grad


def test_in_place_on_a_view_inside_a_graph_says_what_to_do():
    x = minidl.tensor([[1.0, 2.0]], requires_grad=True)
    view = (x * 2).reshape(2)
    with pytest.raises(NotImplementedError, match="clone"):
        view += 1


# ---- freed graphs ---------------------------------------------------------------------------------------
SECOND_PASS = {
    "add": (lambda x: x + 1, False),
    "neg": (lambda x: -x, False),
    "reshape": (lambda x: x.reshape(2, 1), False),
    "sum": (lambda x: x.sum(), False),
    "slice": (lambda x: x[0:1], False),
    "mul_scalar": (lambda x: x * 2, True),
    "mul_self": (lambda x: x * x, True),
    "exp": (lambda x: x.exp(), True),
    "tanh": (lambda x: x.tanh(), True),
    "relu": (lambda x: x.relu(), True),
}


@pytest.mark.parametrize("name", SECOND_PASS)
def test_a_second_backward_through_a_freed_graph_raises_as_in_pytorch(name, torch):
    fn, raises = SECOND_PASS[name]
    for lib in (minidl, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = fn(x).sum()
        y.backward()
        if raises:
            with pytest.raises(RuntimeError, match="backward through the graph a second time"):
                y.backward()
        else:
            y.backward()
            assert x.grad is not None


def test_retain_graph_allows_a_second_pass():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(host(x.grad), [4.0, 8.0])


def test_a_long_training_loop_frees_its_graphs():
    """The saved arrays of a finished step are released, so memory does not grow with the steps."""
    import gc
    import weakref

    w = minidl.tensor(np.ones((3, 3)), requires_grad=True)
    x = minidl.tensor(np.ones((2, 3)))
    hidden = (x @ w).tanh()
    loss = (hidden * hidden).sum()
    probe = weakref.ref(hidden.grad_fn)
    saved = loss.grad_fn.next_functions[0][0]
    loss.backward()
    assert saved._saved == () and saved._backward is None
    del hidden, loss, saved
    gc.collect()
    assert probe() is None


# ---- named nodes and requires_grad ----------------------------------------------------------------------
def test_graph_nodes_have_pytorch_names():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    out = (x * 3).sum()
    assert repr(out).endswith("grad_fn=<SumBackward0>)")
    assert out.grad_fn.name() == "SumBackward0"
    (mul, _), = out.grad_fn.next_functions
    assert mul.name() == "MulBackward0"
    accumulate, constant = mul.next_functions
    assert accumulate[0].variable is x and constant[0] is None
    assert x.grad_fn is None and x.is_leaf


def test_requires_grad_follows_pytorch():
    counts = minidl.tensor([1, 2])
    with pytest.raises(RuntimeError, match="floating point"):
        counts.requires_grad = True
    assert not counts.requires_grad
    x = minidl.tensor([1.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match="does not require grad"):
        minidl.tensor([1.0]).sum().backward()
    with pytest.raises(NotImplementedError, match="create_graph"):
        (x * x).sum().backward(create_graph=True)


# ---- Function: PyTorch's extension point -----------------------------------------------------------------
class Exp(minidl.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale=1.0):
        result = (x * scale).exp()
        ctx.save_for_backward(result)
        ctx.scale = scale
        return result

    @staticmethod
    def backward(ctx, grad_output):
        (result,) = ctx.saved_tensors
        return grad_output * result * ctx.scale, None


def test_a_function_subclass_is_an_operation_with_its_own_gradient(torch):
    x = leaf(np.array([0.3, -1.2, 2.0]))
    out = Exp.apply(x, 0.5)
    assert out.grad_fn.name() == "ExpBackward"
    assert minidl.gradcheck(lambda t: Exp.apply(t, 0.5), [x])
    reference = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64, requires_grad=True)
    (reference * 0.5).exp().sum().backward()
    x.grad = None
    Exp.apply(x, 0.5).sum().backward()
    np.testing.assert_allclose(host(x.grad), reference.grad.cpu().numpy())


def test_a_function_checks_what_backward_returns():
    class TooFew(minidl.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    class WrongShape(minidl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output.sum()

    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        TooFew.apply(x, x).sum().backward()
    with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
        WrongShape.apply(x).sum().backward()


def test_a_tensor_saved_by_a_function_is_guarded():
    x = minidl.tensor([0.5, 1.0], requires_grad=True)
    out = Exp.apply(x)
    with minidl.no_grad():
        out += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


@pytest.mark.parametrize("value, error", [
    (lambda: minidl.zeros(3), RuntimeError),
    (lambda: minidl.zeros(2, dtype=minidl.float64), RuntimeError),
    (lambda: minidl.tensor([0, 0]), RuntimeError),
    (lambda: np.zeros(2, dtype=np.float32), TypeError),
    (lambda: 3, TypeError),
])
def test_assigning_a_gradient_checks_it_as_pytorch_does(value, error, torch):
    x = minidl.zeros(2, requires_grad=True)
    with pytest.raises(error, match="grad"):
        x.grad = value()
    assert x.grad is None
    x.grad = minidl.ones(2)
    x.grad = None
    assert x.grad is None
