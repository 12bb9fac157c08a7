"""Tensors that remember how they were made: the Tensor class and the torch-style functions on tensors.

Each operation computes its result and, right beside it, a ``backward`` function that turns the
gradient of the loss with respect to the result into gradients with respect to the inputs (the chain
rule, one step); ``minidl.autograd`` records them into a graph and runs the backward pass.

The package is layered, each module importing only those above it in this list: ``base`` (the
common base class), ``shapes``, ``promotion`` and ``printing`` (shape and dtype rules, PyTorch's print
layout), one module per family of operations (``arithmetic``, ``reductions``, ``elementwise``,
``shaping``, ``inplace``), ``core`` (the Tensor class), ``functions`` (tensor, from_numpy, cat, stack, where, ...) and ``torch_functions``
(``minidl.exp(x)`` and the other function forms of Tensor's methods, made from one table).

Taught in the chapter "Gradient descent and backpropagation" (``book/part1/backprop.md``).
"""

from minidl.autograd import is_grad_enabled, no_grad  # noqa: F401  (minidl.no_grad, as torch.no_grad)
from minidl.tensor.core import Tensor
from minidl.tensor.functions import as_tensor, cat, from_numpy, gather, stack, tensor, to_numpy, unbind, where
from minidl.tensor.reductions import ReductionResult
from minidl.tensor import torch_functions
from minidl.tensor.torch_functions import *  # noqa: F401,F403  (minidl.exp, minidl.sum, ...: one per entry of its table)

__all__ = ["Tensor", "ReductionResult", "as_tensor", "cat", "from_numpy", "gather", "is_grad_enabled", "no_grad",
           "stack", "tensor", "to_numpy", "unbind", "where"] + torch_functions.__all__
