"""minidl: deep learning from scratch on NumPy or CuPy, with PyTorch's names and conventions.

The library of the book *Deep Learning, Executed*. ``import minidl`` gives tensors and autodiff, and the
function forms of Tensor's methods as in ``torch`` (``minidl.exp(x)``); ``minidl.nn`` layers and losses;
``minidl.optim`` optimizers; ``minidl.data`` loaders and data sets (also under its PyTorch name,
``minidl.utils.data``). CONTRIBUTING.md lists the package's layers and where a new operation, layer,
loss, optimizer, data set or chapter helper goes.
"""

from minidl import autograd, backend
from minidl.backend import float32, float64, int64, manual_seed, use_backend
from minidl.gradcheck import GradcheckError, gradcheck
from minidl.serialization import load, save
from minidl.tensor import Tensor, cat, gather, is_grad_enabled, no_grad, stack, tensor, to_numpy, unbind, where
from minidl.tensor import as_tensor, from_numpy
from minidl.tensor.torch_functions import *  # noqa: F401,F403  (minidl.exp(x), minidl.sum(x, dim=1), ... as torch.X)
from minidl import data, nn, optim, train, vision  # noqa: E402  (they import the names above)
from minidl import counting  # noqa: E402  (parameters, multiply-adds and feature-map sizes of a model)
from minidl import utils  # noqa: E402  (minidl.utils.data, as torch.utils.data)
from minidl.creation import arange, ones, ones_like, rand, randn, zeros, zeros_like
# PyTorch's factories, grad modes, devices and distributions (minidl.device: one backend, one device)
from minidl.creation import (empty, eye, full, full_like, linspace, multinomial, rand_like, randint, randint_like,
                             randn_like, randperm)
from minidl.autograd import enable_grad, inference_mode, is_inference_mode_enabled, set_grad_enabled
from minidl.device import backends, cuda, device, get_default_device  # noqa: E402  (after the submodule's import)
from minidl import distributions  # noqa: E402

long = int64

__version__ = "0.1.0"
