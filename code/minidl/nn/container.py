"""Containers that compose layers: ``Sequential`` chains them, ``ModuleList`` holds them."""

from minidl.nn.module import Module


class Sequential(Module):
    """Feed the input through each layer in turn: layer_n(... layer_1(x)).

    Taught in "Neural networks" (book/part1/networks.md).
    """

    def __init__(self, *layers):
        super().__init__()
        for index, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: argument {index} is a {type(layer).__name__}, not a Module")
            setattr(self, str(index), layer)

    def forward(self, input):
        for layer in self._modules.values():
            input = layer(input)
        return input

    def __getitem__(self, index):
        layers = list(self._modules.values())
        return Sequential(*layers[index]) if isinstance(index, slice) else layers[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, layer):
        setattr(self, str(len(self)), layer)
        return self


class ModuleList(Module):
    """A list of layers whose parameters the parent module sees.

    Taught in "Attention and transformers" (book/part2/attention.md).
    """

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        setattr(self, str(len(self)), module)
        return self

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
