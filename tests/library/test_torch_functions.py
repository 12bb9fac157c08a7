"""The function forms (``minidl.exp(x)``, ``minidl.sum(x, dim=1)``) against ``torch.X``: values, dtypes, gradients."""

import inspect

import numpy as np
import pytest

import minidl
from minidl.tensor.torch_functions import FUNCTIONS

_rng = np.random.default_rng(7)
_x = _rng.normal(size=(3, 4)).astype(np.float32)
_y = _rng.normal(size=4).astype(np.float32)
_tie = _x.copy()
_tie[:, :2] = _y[:2]  # equal entries: maximum and minimum share the gradient there
INPUTS = {  # host arrays; a name in a case's arguments stands for a tensor made from one
    "x": _x,
    "y": _y,
    "tie": _tie,
    "p": _rng.uniform(0.5, 2.0, size=(3, 4)).astype(np.float32),  # positive: log, sqrt, divisors
    "m": _rng.normal(size=(4, 2)).astype(np.float32),
    "s": _rng.normal(size=(3, 1, 4)).astype(np.float32),
    "n": _rng.integers(-5, 6, size=(3, 4)),
    "k": _rng.integers(1, 4, size=(3, 4)),
    "b": _rng.random(size=(3, 4)) > 0.3,
    "z": np.where(np.arange(12).reshape(3, 4) % 5 == 1, 0, _x).astype(np.float32),  # a zero in some rows
    "i": _rng.integers(0, 4, size=(3, 2)),
}

# (test id, function name, arguments, keyword arguments); gradients are compared wherever a float input takes part
CASES = [
    ("add", "add", ("x", "y"), {}),
    ("add_alpha", "add", ("x", "y"), {"alpha": 2}),
    ("add_number_input", "add", (2, "x"), {}),
    ("sub", "sub", ("x", "y"), {}),
    ("subtract_alpha", "subtract", ("x", "p"), {"alpha": 0.5}),
    ("sub_number_input", "sub", (1, "x"), {}),
    ("mul", "mul", ("x", "y"), {}),
    ("multiply_number", "multiply", ("x", 3.0), {}),
    ("div", "div", ("x", "p"), {}),
    ("divide", "divide", ("y", "p"), {}),
    ("div_floor", "div", ("x", "p"), {"rounding_mode": "floor"}),
    ("div_trunc", "div", ("x", "p"), {"rounding_mode": "trunc"}),
    ("div_trunc_integers", "div", ("n", "k"), {"rounding_mode": "trunc"}),
    ("div_floor_integers", "div", ("n", "k"), {"rounding_mode": "floor"}),
    ("true_divide_integers", "true_divide", ("n", "k"), {}),
    ("floor_divide", "floor_divide", ("n", "k"), {}),
    ("remainder", "remainder", ("x", "p"), {}),
    ("pow", "pow", ("p", 1.5), {}),
    ("pow_tensor", "pow", ("p", "x"), {}),
    ("pow_number_input", "pow", (2.0, "x"), {}),
    ("neg", "neg", ("x",), {}),
    ("negative", "negative", ("x",), {}),
    ("matmul", "matmul", ("x", "m"), {}),
    ("mm", "mm", ("x", "m"), {}),
    *[(name, name, ("n", "k"), {}) for name in ("eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal",
                                                  "less", "less_equal", "not_equal")],
    *[(name, name, ("x",), {}) for name in ("abs", "exp", "expm1", "square", "sin", "cos", "tanh", "sigmoid", "relu",
                                            "floor", "ceil", "trunc", "round", "sign")],
    *[(name, name, ("p",), {}) for name in ("log", "log1p", "log2", "log10", "sqrt", "rsqrt", "reciprocal")],
    *[(f"{name}_integers", name, ("n",), {}) for name in ("abs", "exp", "sigmoid", "sqrt", "sin", "square", "floor",
                                                          "round", "sign", "reciprocal", "neg")],
    ("round_decimals", "round", ("x",), {"decimals": 2}),
    ("clamp", "clamp", ("x", -0.5, 0.5), {}),
    ("clip_min", "clip", ("x",), {"min": -0.2}),
    ("clamp_min", "clamp_min", ("x", -0.2), {}),
    ("clamp_max", "clamp_max", ("x", 0.3), {}),
    ("maximum", "maximum", ("x", "y"), {}),
    ("minimum", "minimum", ("x", "y"), {}),
    ("maximum_ties", "maximum", ("tie", "y"), {}),
    ("minimum_ties", "minimum", ("tie", "y"), {}),
    ("softmax", "softmax", ("x", 1), {}),
    ("log_softmax", "log_softmax", ("x",), {"dim": 0}),
    ("sum", "sum", ("x",), {}),
    ("sum_dim_keepdim", "sum", ("x", 1), {"keepdim": True}),
    ("sum_keepdim_by_name", "sum", ("x",), {"dim": 0, "keepdim": True}),
    ("mean", "mean", ("x",), {"dim": 0}),
    ("var", "var", ("x", 1), {}),
    ("std", "std", ("x",), {}),
    ("std_correction", "std", ("x",), {"dim": 1, "correction": 0}),
    ("max", "max", ("x",), {}),
    ("max_dim", "max", ("x", 1), {}),
    ("min_dim_keepdim", "min", ("x",), {"dim": 0, "keepdim": True}),
    ("max_other", "max", ("x", "y"), {}),
    ("min_other", "min", ("x", "y"), {}),
    ("argmax", "argmax", ("x",), {}),
    ("argmax_dim", "argmax", ("x", 1), {}),
    ("argmin", "argmin", ("x",), {"dim": 0, "keepdim": True}),
    ("all", "all", ("b",), {}),
    ("any_dim", "any", ("b", 1), {}),
    ("all_floats", "all", ("x",), {"dim": 0}),
    ("cumsum", "cumsum", ("x", 1), {}),
    ("cumsum_integers", "cumsum", ("n",), {"dim": 0}),
    ("prod", "prod", ("x",), {}),
    ("prod_dim_with_a_zero", "prod", ("z", 1), {}),
    ("prod_integers_keepdim", "prod", ("k",), {"dim": 0, "keepdim": True}),
    ("logsumexp", "logsumexp", ("x", 1), {}),
    ("logsumexp_dims_keepdim", "logsumexp", ("x", (0, 1)), {"keepdim": True}),
    ("norm", "norm", ("x",), {}),
    ("norm_zero_rows", "norm", ("z",), {"dim": 0}),
    ("norm_1_dim", "norm", ("x", 1), {"dim": 1}),
    ("norm_inf", "norm", ("x", float("inf")), {}),
    ("norm_3_keepdim", "norm", ("x", 3), {"dim": 0, "keepdim": True}),
    ("amax", "amax", ("x", 1), {}),
    ("amax_dims", "amax", ("s", (0, 2)), {"keepdim": True}),
    ("sort", "sort", ("x",), {}),
    ("sort_descending_dim", "sort", ("x",), {"dim": 0, "descending": True}),
    ("argsort", "argsort", ("x", 1), {}),
    ("argsort_descending", "argsort", ("x",), {"dim": 0, "descending": True}),
    ("topk", "topk", ("x", 2), {}),
    ("topk_smallest_dim", "topk", ("x", 1), {"dim": 0, "largest": False}),
    ("reshape", "reshape", ("x", (2, 6)), {}),
    ("reshape_by_name", "reshape", ("x",), {"shape": (-1,)}),
    ("flatten", "flatten", ("s",), {"start_dim": 1}),
    ("permute", "permute", ("s", (2, 0, 1)), {}),
    ("permute_by_name", "permute", ("x",), {"dims": (1, 0)}),
    ("transpose", "transpose", ("s", 0, 2), {}),
    ("t", "t", ("x",), {}),
    ("squeeze", "squeeze", ("s",), {}),
    ("squeeze_dim", "squeeze", ("s", 1), {}),
    ("unsqueeze", "unsqueeze", ("x", 1), {}),
    ("split", "split", ("x", 3, 1), {}),
    ("split_sections", "split", ("x", [1, 2]), {"dim": 0}),
    ("chunk", "chunk", ("x", 3), {"dim": 1}),
    ("flip", "flip", ("x", (0, 1)), {}),
    ("tril", "tril", ("x",), {}),
    ("triu_diagonal", "triu", ("x", 1), {}),
    ("masked_fill", "masked_fill", ("x", "b", -1.5), {}),
    ("clone", "clone", ("x",), {}),
    ("detach", "detach", ("x",), {}),
    ("numel", "numel", ("s",), {}),
    ("clamp_", "clamp_", ("x", -0.5, 0.5), {}),
    ("fill_", "fill_", ("x", 2.0), {}),
    ("zero_", "zero_", ("x",), {}),
    ("gather", "gather", ("x", 1, "i"), {}),
    ("unbind", "unbind", ("x", 1), {}),
    ("where", "where", ("b", "x", "y"), {}),
    ("cat", "cat", (["x", "x"], 1), {}),
    ("stack", "stack", (["x", "p"],), {"dim": 2}),
]
IN_PLACE = {"clamp_", "fill_", "zero_"}


def _make(library, argument, requires_grad):
    """An argument of a case for ``library`` (torch or minidl): names become tensors, lists lists of them."""
    if isinstance(argument, list):
        return [_make(library, a, requires_grad) for a in argument]
    if not (isinstance(argument, str) and argument in INPUTS):
        return argument
    array = INPUTS[argument]
    return library.tensor(array.copy(), requires_grad=requires_grad and array.dtype.kind == "f")


def _leaves(arguments):
    for argument in arguments:
        if isinstance(argument, list):
            yield from _leaves(argument)
        elif getattr(argument, "requires_grad", False):
            yield argument


def _tensors(output):
    """The tensors of a result: itself, or each member of a tuple (max(dim) gives values and indices)."""
    return list(output) if isinstance(output, tuple) else [output]


def _run(library, case):
    """The case's result and the gradients of its float inputs, as host arrays."""
    _, name, arguments, keywords = case
    requires_grad = name not in IN_PLACE
    arguments = [_make(library, a, requires_grad) for a in arguments]
    output = getattr(library, name)(*arguments, **keywords)
    if not hasattr(output, "shape") and not isinstance(output, tuple):
        return [output], [], []
    outputs = _tensors(output)
    values = [o.detach().cpu().numpy() for o in outputs]
    dtypes = [str(o.dtype).replace("torch.", "") for o in outputs]
    differentiable = [o for o in outputs if o.requires_grad]
    leaves = list(_leaves(arguments))
    if differentiable and leaves:
        weights = np.random.default_rng(0).normal(size=differentiable[0].shape).astype(values[0].dtype)
        (differentiable[0] * library.tensor(weights)).sum().backward()
    return values + dtypes, [leaf.grad.detach().cpu().numpy() if leaf.grad is not None else None for leaf in leaves], leaves


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_function_matches_torch_in_values_dtypes_and_gradients(case, torch):
    expected, expected_grads, _ = _run(torch, case)
    got, grads, leaves = _run(minidl, case)
    assert len(got) == len(expected)
    for ours, theirs in zip(got, expected):
        if isinstance(theirs, np.ndarray):
            assert ours.shape == theirs.shape
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
        else:
            assert ours == theirs
    assert len(grads) == len(expected_grads)
    for ours, theirs in zip(grads, expected_grads):
        assert (ours is None) == (theirs is None)
        if theirs is not None:
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_every_function_of_the_table_has_a_case():
    assert set(FUNCTIONS) <= {case[1] for case in CASES}


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) | {"cat", "stack", "where", "gather", "unbind", "tensor",
                                                          "as_tensor", "from_numpy"}))
def test_every_name_exists_in_both(name, torch):
    assert callable(getattr(minidl, name)) and callable(getattr(torch, name))


def test_every_method_torch_also_offers_as_a_function_is_a_function_here(torch):
    """dir(torch) against Tensor's methods: a method PyTorch offers as ``torch.X`` is ``minidl.X`` too."""
    methods = [name for name, member in inspect.getmembers(minidl.Tensor, inspect.isfunction) if not name.startswith("_")]
    offered = [name for name in methods if callable(getattr(torch, name, None)) and not isinstance(getattr(torch, name), torch.dtype)]
    assert len(offered) > 40
    assert [name for name in offered if not callable(getattr(minidl, name, None))] == []


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_has_a_real_signature_and_says_what_it_is(name):
    function = getattr(minidl, name)
    parameters = list(inspect.signature(function).parameters)
    assert parameters[0] == "input" and "out" not in parameters
    assert function.__doc__.startswith(f"torch.{name}: same as Tensor.{FUNCTIONS[name]}")
    assert function.__module__ == "minidl.tensor.torch_functions"


@pytest.mark.parametrize("name", ["exp", "sum", "add"])
def test_out_is_refused_with_a_clear_type_error_but_none_is_accepted(name):
    x = minidl.tensor([1.0, 2.0])
    arguments = (x, x) if name == "add" else (x,)
    with pytest.raises(TypeError, match="out= is not supported"):
        getattr(minidl, name)(*arguments, out=minidl.tensor([0.0, 0.0]))
    np.testing.assert_allclose(getattr(minidl, name)(*arguments, out=None).cpu().numpy(), getattr(x, name)(*arguments[1:]).cpu().numpy())


@pytest.mark.parametrize("name, arguments", [("exp", (2.0,)), ("sum", ([1.0, 2.0],)), ("maximum", (1, "x")),
                                             ("matmul", (np.ones((2, 2)), "x"))])
def test_input_that_is_not_a_tensor_is_a_type_error_as_in_torch(name, arguments, torch):
    x = np.ones((2, 2), dtype=np.float32)
    with pytest.raises(TypeError) as theirs:
        getattr(torch, name)(*[torch.tensor(x) if isinstance(a, str) else a for a in arguments])
    with pytest.raises(TypeError) as ours:
        getattr(minidl, name)(*[minidl.tensor(x) if isinstance(a, str) else a for a in arguments])
    assert str(ours.value) == str(theirs.value)


def test_positional_sizes_are_refused_as_in_torch(torch):
    """torch.reshape takes one shape argument, not sizes one by one as the method does."""
    with pytest.raises(TypeError):
        torch.reshape(torch.zeros(6), 2, 3)
    with pytest.raises(TypeError):
        minidl.reshape(minidl.zeros(6), 2, 3)


@pytest.mark.parametrize("name, arguments", [("mm", ((3,), (3, 2))), ("mm", ((2, 3), (3,))), ("t", ((2, 2, 2),))])
def test_matrix_only_functions_refuse_other_shapes_as_torch(name, arguments, torch):
    with pytest.raises(RuntimeError) as theirs:
        getattr(torch, name)(*[torch.zeros(shape) for shape in arguments])
    with pytest.raises(RuntimeError) as ours:
        getattr(minidl, name)(*[minidl.zeros(shape) for shape in arguments])
    assert str(ours.value).startswith(str(theirs.value))


def test_div_refuses_an_unknown_rounding_mode_as_torch(torch):
    with pytest.raises(RuntimeError) as theirs:
        torch.div(torch.ones(2), 2, rounding_mode="round")
    with pytest.raises(RuntimeError) as ours:
        minidl.div(minidl.ones(2), 2, rounding_mode="round")
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("sizes", [(2, 1), (1, 3, 2), ((2, 2),)])
def test_repeat_tiles_as_torch_and_sums_the_copies_back(sizes, torch):
    """``x.repeat`` (a method only: PyTorch has no ``torch.repeat``) against torch, values and gradients."""
    weights = np.random.default_rng(1).normal(size=torch.tensor(_x).repeat(*sizes).shape).astype(np.float32)
    results = []
    for library in (torch, minidl):
        x = library.tensor(_x.copy(), requires_grad=True)
        out = x.repeat(*sizes)
        (out * library.tensor(weights)).sum().backward()
        results.append((out.detach().cpu().numpy(), x.grad.detach().cpu().numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0])
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda x: x.topk(5), "k must be an int from 0 to 4"),
    (lambda x: x.split([1, 1]), "add up to 2, not to the size 3"),
    (lambda x: x.masked_fill(minidl.tensor([True, False]), 0.0), "does not broadcast"),
    (lambda x: x.repeat(2), "can not be smaller than the number of dimensions"),
    (lambda x: x[0].tril(), "at least 2 dimensions"),
    (lambda x: x.norm("nuc"), "p must be a number"),
])
def test_bad_arguments_of_the_orderings_and_masks_say_what_was_expected(call, message):
    with pytest.raises((RuntimeError, ValueError), match=message):
        call(minidl.tensor(_x.copy()))
