"""Argument checks shared by the functions and layers of nn, with PyTorch's error types and messages.

They name the argument, what was given and what is expected, and for common confusions the fix.
"""

import numbers

from minidl.tensor import Tensor


def type_name(value):
    """``numpy.ndarray``, ``tuple``: a type as PyTorch's messages print it."""
    kind = type(value)
    plain = kind.__module__ == "builtins" or kind.__module__.startswith("minidl")
    return kind.__qualname__ if plain else f"{kind.__module__}.{kind.__qualname__}"


def check_input_tensor(layer, input, error=RuntimeError):
    """PyTorch's TypeError for a layer called on something that is not a Tensor, and its error for
    a non-floating input (``error``), each with the likely fix."""
    name = type(layer).__name__
    if not isinstance(input, Tensor):
        if isinstance(input, tuple) and input and isinstance(input[0], Tensor):
            hint = (
                "recurrent layers (RNN, LSTM, GRU) return a tuple (output, state): unpack it first, "
                "e.g. output, state = lstm(x), and pass output on"
            )
        else:
            hint = "convert it first with minidl.tensor(x)"
        raise TypeError(f"{name}: argument 'input' must be Tensor, not {type_name(input)}; {hint}")
    weight = next(iter(layer._parameters.values()), None)
    if input.dtype.kind not in "fc" and weight is not None:
        raise error(
            f"{name}: input has dtype {input.dtype} but the weights are {weight.dtype}; convert the input "
            "with x.float() (token indices go through nn.Embedding first)"
        )


def check_size(owner, name, value):
    """A layer size (features, channels, layers) as a positive int: PyTorch's TypeError for a
    non-integer, ValueError for zero or less."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} should be of type int, got: {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer (greater than zero), got {value}")
    return int(value)


def is_int(value):
    """Whether ``value`` is an integer (a bool is not), for size arguments."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# ---- argument checks ---------------------------------------------------------------------------
def pair(value, name, minimum):
    """An int or a pair of ints as a pair, each at least ``minimum``: TypeError for anything but ints
    (floats, strings such as padding='same'), ValueError for a wrong length or a value too small."""
    if isinstance(value, str):
        hint = "; padding='same' is not supported: use padding=kernel_size // 2 for an odd kernel"
        hint = hint if "padding" in name else ""
        raise TypeError(f"{name} must be an int or a pair of ints, got the string {value!r}{hint}")
    pair = (value, value) if is_int(value) else value
    if not isinstance(pair, (tuple, list)) or not all(is_int(v) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {type(value).__name__} {value!r}")
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints (height, width), got {len(pair)} values {value!r}")
    if not all(v >= minimum for v in pair):
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return tuple(int(v) for v in pair)


def check_class_indices(target, num_classes, name):
    """Class indices as an integer tensor in [0, num_classes), else the error PyTorch raises, naming ``name``."""
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: target must hold integer class indices (got dtype {target.dtype}); "
            "convert with .long()"
        )
    if target.data.size and (int(target.data.min()) < 0 or int(target.data.max()) >= num_classes):
        raise ValueError(
            f"{name}: target values must lie in [0, {num_classes - 1}] for {num_classes} classes; "
            f"got values from {int(target.data.min())} to {int(target.data.max())}"
        )


def check_image_input(input, name):
    """A Tensor of shape (N, C, H, W), else TypeError or ValueError naming ``name`` and the fix."""
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{name}: argument 'input' must be Tensor, not {type_name(input)}; convert it first with minidl.tensor(x)"
        )
    if input.ndim != 4:
        raise ValueError(
            f"{name}: input must have 4 dimensions (N, C, H, W), got shape {input.shape}; "
            "for a single image add the batch dimension with .unsqueeze(0)"
        )


def normalized_shape_tuple(normalized_shape):
    """``normalized_shape`` (an int or a sequence of ints) as a tuple, as LayerNorm takes it."""
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(normalized_shape)
