"""The function forms of Tensor's methods, as in PyTorch's namespace: ``minidl.exp(x)`` is ``x.exp()``.

PyTorch offers most Tensor methods twice, ``x.sum(dim=1)`` and ``torch.sum(x, dim=1)``; code written
either way should run here. Every function below is made from ONE table, ``FUNCTIONS`` (the PyTorch
name and the method it calls), so none is copied by hand: each takes the tensor as ``input``, then the
method's own arguments under the method's names (which are PyTorch's), and has a real signature for
``help()`` and editors. Where the method takes a variable number of sizes (``x.reshape(2, 3)``) the
function takes one sequence, as PyTorch's does (``torch.reshape(x, (2, 3))``).

``out=`` is not supported (a TypeError says so; ``out=None`` is accepted); write ``y = minidl.add(a, b)``.
As in PyTorch, ``input`` must be a Tensor (TypeError otherwise), except that the arithmetic functions
in ``NUMBER_INPUT`` also accept a Python number there (``torch.sub(1, x)`` is ``1 - x``).
"""

import inspect

from minidl.tensor.base import TensorBase
from minidl.tensor.core import Tensor
from minidl.tensor.promotion import is_number, promote

# PyTorch's function name -> the Tensor method it calls (most have the same name)
FUNCTIONS = {
    # arithmetic
    "add": "add", "sub": "sub", "subtract": "subtract", "mul": "mul", "multiply": "multiply",
    "div": "div", "divide": "divide", "true_divide": "true_divide", "floor_divide": "floor_divide",
    "remainder": "remainder", "pow": "pow", "neg": "neg", "negative": "negative",
    "matmul": "matmul", "mm": "mm",
    # comparisons
    "eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge", "greater": "greater",
    "greater_equal": "greater_equal", "less": "less", "less_equal": "less_equal", "not_equal": "not_equal",
    # elementwise
    "abs": "abs", "exp": "exp", "expm1": "expm1", "log": "log", "log1p": "log1p", "log2": "log2",
    "log10": "log10", "sqrt": "sqrt", "rsqrt": "rsqrt", "reciprocal": "reciprocal", "square": "square",
    "sin": "sin", "cos": "cos", "tanh": "tanh", "sigmoid": "sigmoid", "relu": "relu",
    "floor": "floor", "ceil": "ceil", "trunc": "trunc", "round": "round", "sign": "sign",
    "clamp": "clamp", "clip": "clip", "clamp_min": "clamp_min", "clamp_max": "clamp_max",
    "maximum": "maximum", "minimum": "minimum", "softmax": "softmax", "log_softmax": "log_softmax",
    # reductions
    "sum": "sum", "mean": "mean", "var": "var", "std": "std", "max": "max", "min": "min",
    "argmax": "argmax", "argmin": "argmin", "all": "all", "any": "any", "cumsum": "cumsum",
    "prod": "prod", "logsumexp": "logsumexp", "norm": "norm", "amax": "amax",
    "sort": "sort", "argsort": "argsort", "topk": "topk",
    # shapes
    "reshape": "reshape", "flatten": "flatten", "permute": "permute", "transpose": "transpose", "t": "t",
    "squeeze": "squeeze", "unsqueeze": "unsqueeze",
    "split": "split", "chunk": "chunk", "flip": "flip", "tril": "tril", "triu": "triu", "masked_fill": "masked_fill",
    # copies, graph and sizes
    "clone": "clone", "detach": "detach", "numel": "numel",
    # in place
    "clamp_": "clamp_", "fill_": "fill_", "zero_": "zero_",
}

# functions whose ``input`` may be a Python number, as PyTorch allows for them (``torch.add(2, x)``)
NUMBER_INPUT = {"add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
                "remainder", "pow"}

# the name PyTorch's function gives the sizes a method takes one by one (``x.permute(1, 0)``)
SEQUENCE_PARAMETERS = {"reshape": "shape", "permute": "dims", "flip": "dims"}


def _signature(name, method):
    """The function's signature: ``input``, then the method's parameters (a ``*sizes`` one as one sequence)."""
    parameters = [inspect.Parameter("input", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for parameter in list(inspect.signature(method).parameters.values())[1:]:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            parameter = inspect.Parameter(SEQUENCE_PARAMETERS[name], inspect.Parameter.POSITIONAL_OR_KEYWORD)
        parameters.append(parameter)
    return inspect.Signature(parameters)


def _type_name(obj):
    kind = type(obj)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _function(name, method_name):
    """``minidl.<name>(input, ...)``: checks ``input`` and ``out``, then calls ``input.<method_name>(...)``."""
    method = getattr(Tensor, method_name)
    signature = _signature(name, method)
    keyword_only = [p.name for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]

    def function(*args, **kwargs):
        if kwargs.pop("out", None) is not None:
            raise TypeError(
                f"{name}(): out= is not supported by minidl (it makes a new tensor); assign the result instead: "
                f"y = minidl.{name}(...)"
            )
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()  # the method's own defaults, so every argument can go by position
        values = dict(bound.arguments)
        input = values.pop("input")
        positional = [values.pop(key) for key in list(values) if key not in keyword_only]
        if name in NUMBER_INPUT and is_number(input) and isinstance(positional[0], TensorBase):
            input = promote(input, positional[0])[0]  # a number takes the other operand's dtype rules
        if not isinstance(input, TensorBase):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {_type_name(input)}")
        return getattr(input, method_name)(*positional, **values)

    function.__name__ = function.__qualname__ = name
    function.__module__ = __name__
    function.__signature__ = signature
    summary = (method.__doc__ or "").strip().splitlines()[0]
    function.__doc__ = (
        f"torch.{name}: same as Tensor.{method_name}: {summary}\n\n"
        f"Signature {name}{signature}; the shapes, dtypes, gradient and errors are those of "
        f"``input.{method_name}(...)``. ``out=`` is not supported (TypeError).\n"
    )
    return function


# made last: some names (max, min, sum, abs, round, all, any) hide Python's built-ins in this module
for _name, _method in FUNCTIONS.items():
    globals()[_name] = _function(_name, _method)

__all__ = sorted(FUNCTIONS)
