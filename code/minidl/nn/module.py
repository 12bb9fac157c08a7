"""``Module`` and ``Parameter``: layers that own their weights and can be composed, as in PyTorch.

Taught in "Neural networks" (``book/part1/networks.md``).
"""

import os
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

from minidl import backend
from minidl.tensor import Tensor, no_grad
from minidl.device import backend_for
from minidl.tensor.promotion import as_dtype, move, transfer

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A tensor that a Module registers as learnable: it requires a gradient.

    Taught in "Neural networks" (book/part1/networks.md).
    """

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model: registers parameters and submodules by attribute.

    Taught in "Neural networks" (book/part1/networks.md) and "Recurrent neural networks" (book/part2/rnn.md).
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None expected)")
            self._buffers[name] = value  # a buffer stays a buffer, as in PyTorch
            return
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        if isinstance(value, (Parameter, Module)):
            self.__dict__.pop(name, None)  # a plain attribute of that name would shadow the registry
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor, persistent=True):
        """State that is saved with the model but not trained (e.g. running averages), as PyTorch's.

        ``tensor`` is a Tensor or None (a buffer without a value yet); it is reached as ``self.<name>``,
        follows ``to(dtype)`` and is in ``state_dict()`` unless ``persistent=False``. Raises, as PyTorch
        does, TypeError for a name that is not a string or a value that is not a Tensor, and KeyError for
        an empty name, one with a ".", or the name of an existing attribute; AttributeError before
        ``super().__init__()``.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"buffer name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError('buffer name can\'t contain "."')
        if name == "":
            raise KeyError('buffer name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def forward(self, *args, **kwargs):
        """The computation of the module; subclasses define it, and calling the module runs it.

        Taught in "Recurrent neural networks" (book/part2/rnn.md).
        """
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- traversal -----------------------------------------------------------------------------
    def named_children(self):
        """The direct submodules, as (name, module) pairs."""
        return iter(self._modules.items())

    def children(self):
        """The direct submodules."""
        return iter(self._modules.values())

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """This module and all submodules, recursively, as (dotted name, module) pairs; a module shared
        by several parents is listed once (unless ``remove_duplicate=False``), as in PyTorch."""
        memo = set() if memo is None else memo
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        """This module and all submodules, recursively (e.g. to initialize every layer of a type)."""
        return (module for _, module in self.named_modules())

    def named_parameters(self, prefix=""):
        """(name, parameter) pairs with PyTorch's dotted names, each parameter once.

        Taught in "Recurrent neural networks" (book/part2/rnn.md).
        """
        seen = set()
        for module_name, module in self.named_modules(prefix=prefix):
            for name, parameter in module._parameters.items():
                if id(parameter) not in seen:
                    seen.add(id(parameter))
                    yield (f"{module_name}.{name}" if module_name else name), parameter

    def parameters(self):
        """Every parameter of the module and its submodules, e.g. to hand to an optimizer.

        Taught in "Neural networks" (book/part1/networks.md).
        """
        return (parameter for _, parameter in self.named_parameters())

    def named_buffers(self, prefix="", recurse=True):
        """The buffers (saved state that is not trained) of the module and its submodules, with dotted names.

        Buffers set to None are skipped and each tensor comes once, as in PyTorch; ``recurse=False``
        gives this module's own.
        """
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, buffer in module._buffers.items():
                if buffer is not None and id(buffer) not in seen:
                    seen.add(id(buffer))
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self, recurse=True):
        """The buffers of the module and its submodules (see ``named_buffers``)."""
        return (buffer for _, buffer in self.named_buffers(recurse=recurse))

    def _persistent_buffers(self):
        """The named buffers that ``state_dict`` saves: all but those registered with ``persistent=False``."""
        for module_name, module in self.named_modules():
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent_buffers_set:
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    # ---- devices and dtypes --------------------------------------------------------------------
    def to(self, *args, device=None, dtype=None, non_blocking=False):
        """Move the parameters and buffers to ``device`` and cast the floating ones to ``dtype``, in place; returns self.

        ``model.to(minidl.float64)``, ``model.to("cuda")``, ``model.to("cpu")``, ``model.to(device, dtype)``
        or ``model.to(tensor)`` (its dtype and device), as PyTorch's ``Module.to``: parameters keep their
        identity (an optimizer made before still holds them, and its state follows at its next step) and
        their gradients move and are cast too; integer buffers keep their dtype. RuntimeError for
        ``"cuda"`` where no GPU backend is in use, as ``Tensor.to``; TypeError for a dtype that is
        neither floating nor complex.
        """
        del non_blocking  # copies here are synchronous
        for arg in args:
            if isinstance(arg, Tensor):
                dtype, device = arg.dtype, arg.device
            elif isinstance(arg, str):  # "cuda", or a minidl.device (a str)
                device = arg
            elif isinstance(arg, int) and not isinstance(arg, bool):  # a GPU number, as Module.to(0)
                device = f"cuda:{arg}"
            else:
                dtype = arg
        if device is not None:
            self._move(backend_for(device))
        if dtype is None:
            return self
        dtype = as_dtype(dtype)
        if dtype.kind not in "fc":
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got desired dtype={dtype}")
        for module in self.modules():
            for parameter in module._parameters.values():
                if parameter is not None and parameter.dtype.kind in "fc" and parameter.dtype != dtype:
                    parameter.data = parameter.data.astype(dtype)
                    if parameter.grad is not None:
                        parameter.grad.data = parameter.grad.data.astype(dtype)
            for name, buffer in module._buffers.items():
                if buffer is not None and buffer.dtype.kind in "fc" and buffer.dtype != dtype:
                    with no_grad():
                        module._buffers[name] = buffer.to(dtype)
        return self

    def _move(self, owner):
        """Every parameter (and its gradient) and buffer onto backend ``owner``'s device, in place."""
        for module in self.modules():
            for parameter in module._parameters.values():
                if parameter is not None and backend.of(parameter.data) is not owner:
                    parameter.data = transfer(parameter.data, backend.of(parameter.data), owner)
                    if parameter.grad is not None:
                        parameter.grad = move(parameter.grad, owner)
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    with no_grad():
                        module._buffers[name] = move(buffer, owner)

    def cpu(self):
        """``to("cpu")``: the parameters and buffers moved to host memory (NumPy); returns self."""
        return self.to(device="cpu")

    def cuda(self, device=None):
        """``to("cuda")``: the parameters and buffers moved to the GPU (CuPy, or the simulated GPU); returns self.

        RuntimeError where no GPU backend is in use."""
        return self.to(device="cuda" if device is None else device)

    def float(self):
        """Cast the floating parameters and buffers to float32 in place; returns self."""
        return self.to(backend.float32)

    def double(self):
        """Cast the floating parameters and buffers to float64 in place (e.g. for a gradient check); returns self."""
        return self.to(backend.float64)

    def half(self):
        """Cast the floating parameters and buffers to float16 in place; returns self."""
        return self.to(backend.xp().float16)

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule, children first, then on this module; returns self.

        The usual way to initialize every layer of a type: ``model.apply(init_weights)``, as in PyTorch.
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients -------------------------------------------------------------------
    def train(self, mode=True):
        """Training mode: dropout drops. Returns self, so ``model.train()`` chains.

        Taught in "Overfitting and regularization" (book/part1/regularization.md).
        """
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: dropout is the identity.

        Taught in "Overfitting and regularization" (book/part1/regularization.md).
        """
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Reset the ``.grad`` of every parameter before the next ``backward`` (gradients accumulate).

        Taught in "Neural networks" (book/part1/networks.md).
        """
        for parameter in self.parameters():
            if set_to_none:
                parameter.grad = None
            elif parameter.grad is not None:
                parameter.grad.data[...] = 0

    # ---- state ---------------------------------------------------------------------------------
    def state_dict(self):
        """Every parameter and buffer by name, as detached tensors sharing the model's memory.

        Taught in "Recurrent neural networks" (book/part2/rnn.md).
        """
        state = OrderedDict((name, p.detach()) for name, p in self.named_parameters())
        state.update((name, b.detach()) for name, b in self._persistent_buffers())
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into this model's parameters and buffers (in place), checking names and shapes.

        ``state_dict`` maps names to tensors (or numeric arrays), as ``state_dict()`` or ``minidl.load``
        return. Everything is checked before anything is copied, so a call that raises changes no
        weight. Raises TypeError if ``state_dict`` is not a dict (e.g. a path: use
        ``model.load_state_dict(minidl.load(path))``), and a RuntimeError listing, as PyTorch does, the
        missing and unexpected keys (with ``strict``) and the shape mismatches. Returns
        ``(missing_keys, unexpected_keys)``.

        Taught in "Neural networks" (book/part1/networks.md).
        """
        _check_state_dict_type(state_dict)
        own = OrderedDict(list(self.named_parameters()) + list(self._persistent_buffers()))
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{name}"' for name in missing) + ". ")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{name}"' for name in unexpected) + ". ")
        values = {}
        for name, target in own.items():
            if name not in state_dict:
                continue
            value = _as_backend_array(state_dict[name])
            if value is None:
                errors.append(
                    f'While copying the parameter named "{name}", expected a Tensor or a numeric array from '
                    f"checkpoint but received {type(state_dict[name]).__name__}"
                )
            elif tuple(value.shape) != target.shape:
                errors.append(
                    f"size mismatch for {name}: copying a param with shape {tuple(value.shape)} from checkpoint, "
                    f"the shape in current model is {target.shape}."
                )
            else:
                values[name] = value
        if errors:
            raise _LoadStateDictError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors)
            )
        for name, value in values.items():  # copied across devices, as PyTorch's copy_
            owner = backend.of(own[name].data)
            own[name].data[...] = value if backend.of(value) is owner else transfer(value, backend.of(value), owner)
        return IncompatibleKeys(missing, unexpected)

    # ---- printing ------------------------------------------------------------------------------
    def extra_repr(self):
        """The text inside the parentheses of the module's repr; layers override it to show their sizes."""
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        head = f"{type(self).__name__}(" + (self.extra_repr() + "\n" if self.extra_repr() else "\n")
        return head + "".join(f"  {line}\n" for line in lines) + ")"


class _LoadStateDictError(RuntimeError, KeyError, ValueError):
    """PyTorch raises RuntimeError; it is also the KeyError (missing keys) and ValueError (shapes)
    that minidl raised before, so code written against either keeps working."""

    __str__ = RuntimeError.__str__  # KeyError would print the message in quotes


def _check_state_dict_type(state_dict):
    """PyTorch's TypeError for something that is not a dict, with the fix for the usual mix-ups."""
    if isinstance(state_dict, Mapping):
        return
    given = f"{type(state_dict).__name__}"
    if isinstance(state_dict, (str, bytes, os.PathLike)):
        hint = f" {state_dict!r}; to load a file, read it first: model.load_state_dict(minidl.load(path))"
    elif isinstance(state_dict, Module):
        hint = " (a module); pass its state: model.load_state_dict(other.state_dict())"
    else:
        hint = "; pass {name: tensor}, e.g. other_model.state_dict()"
    raise TypeError(f"load_state_dict: Expected state_dict to be dict-like, got {given}{hint}")


def _as_backend_array(value):
    """A tensor's array (on its device), or a numeric array-like as a host array; None for anything else."""
    current = backend.host()
    value = value.data if isinstance(value, Tensor) else value
    if backend.is_array(value):
        return value if value.dtype.kind in "biuf" else None
    if isinstance(value, (str, bytes, dict)) or value is None:
        return None
    try:
        array = current.from_host(value)
    except (TypeError, ValueError):
        return None
    return array if array.dtype.kind in "biuf" else None


