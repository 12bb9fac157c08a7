"""``Module`` and ``Parameter``: layers that own their weights and can be composed, as in PyTorch.

Taught in "Neural networks" (``book/part1/networks.md``).
"""

from collections import OrderedDict, namedtuple

from minidl import backend
from minidl.tensor import Tensor

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
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
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
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor):
        """State that is saved with the model but not trained (e.g. running averages)."""
        self._buffers[name] = tensor

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

    def named_modules(self, prefix=""):
        """This module and all submodules, recursively, as (dotted name, module) pairs."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        """This module and all submodules, recursively (e.g. to initialize every layer of a type).

        Taught in "Detection and segmentation" (book/part3/detection.md).
        """
        return (module for _, module in self.named_modules())

    def named_parameters(self, prefix=""):
        """(name, parameter) pairs with PyTorch's dotted names, each parameter once.

        Taught in "Recurrent neural networks" (book/part2/rnn.md).
        """
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, parameter in module._parameters.items():
                if id(parameter) not in seen:
                    seen.add(id(parameter))
                    yield (f"{module_name}.{name}" if module_name else name), parameter

    def parameters(self):
        """Every parameter of the module and its submodules, e.g. to hand to an optimizer.

        Taught in "Neural networks" (book/part1/networks.md).
        """
        return (parameter for _, parameter in self.named_parameters())

    def named_buffers(self):
        """The buffers (saved state that is not trained) of the module and its submodules, with dotted names."""
        for module_name, module in self.named_modules():
            for name, buffer in module._buffers.items():
                yield (f"{module_name}.{name}" if module_name else name), buffer

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
        state.update((name, b.detach()) for name, b in self.named_buffers())
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into this model's parameters and buffers (in place), checking names and shapes.

        Taught in "Neural networks" (book/part1/networks.md).
        """
        own = OrderedDict(list(self.named_parameters()) + list(self.named_buffers()))
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected} "
                f"(this model has {list(own)})"
            )
        current = backend.current()
        for name, target in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = value.data if isinstance(value, Tensor) else value
            if not current.is_array(value):
                value = current.from_host(value)
            if tuple(value.shape) != target.shape:
                raise ValueError(
                    f"load_state_dict: {name} has shape {tuple(value.shape)} in the state dict "
                    f"but {target.shape} in the model"
                )
            target.data[...] = value
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
