"""minidl.counting: parameter counts, multiply-adds and convolution output sizes, against PyTorch."""

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.counting import conv_output_size, count_parameters, multiply_adds

from test_docstrings import CHAPTER, CHAPTERS, TAUGHT_LINE

# (layer name in both minidl.nn and torch.nn, constructor arguments)
LAYERS = [
    ("Linear", (5, 3)),
    ("Conv2d", (3, 8, 3)),
    ("ConvTranspose2d", (4, 2, 2)),
    ("RNN", (2, 32)),
    ("GRU", (2, 32)),
    ("LSTM", (2, 32)),
    ("Embedding", (10, 4)),
    ("MultiheadAttention", (8, 2)),
    ("LayerNorm", (6,)),
]

# (input size (H, W), kernel_size, stride, padding)
SIZES = [
    ((28, 28), 3, 1, 0),
    ((28, 28), 3, 1, 1),
    ((28, 20), 5, 2, 2),
    ((224, 224), 7, 2, 3),
    ((13, 11), (3, 2), (2, 1), (1, 0)),
    ((5, 5), 5, 1, 0),
]

# Models as lists of (layer name, args, kwargs), built the same way in minidl and in PyTorch, with
# the shape of the input they run on.
MODELS = [
    pytest.param([("Conv2d", (1, 24, 3), {}), ("ReLU", (), {}), ("MaxPool2d", (2,), {}),
                  ("Conv2d", (24, 36, 3), {}), ("ReLU", (), {}), ("MaxPool2d", (2,), {}),
                  ("Flatten", (), {}), ("Linear", (36 * 5 * 5, 128), {}), ("ReLU", (), {}),
                  ("Linear", (128, 10), {})], (1, 1, 28, 28), id="lab-cnn"),
    pytest.param([("Conv2d", (3, 16, 3), {"stride": 2, "padding": 1}), ("ReLU", (), {}),
                  ("Conv2d", (16, 32, 3), {"stride": 2, "padding": 1}), ("Flatten", (), {}),
                  ("Linear", (32 * 4 * 4, 4), {})], (2, 3, 16, 16), id="strided-batch-of-two"),
    pytest.param([("Conv2d", (3, 8, 3), {"padding": 1}), ("MaxPool2d", (2,), {}),
                  ("ConvTranspose2d", (8, 4, 2), {"stride": 2}), ("Conv2d", (4, 2, 1), {})],
                 (1, 3, 12, 10), id="upsampling"),
    pytest.param([("Linear", (6, 5), {}), ("Tanh", (), {}), ("Linear", (5, 3), {})], (4, 7, 6), id="sequence-rows"),
]


def _build(library, spec):
    return library.Sequential(*[getattr(library, name)(*args, **kwargs) for name, args, kwargs in spec])


@pytest.mark.parametrize("name, args", LAYERS, ids=[name for name, _ in LAYERS])
def test_count_parameters_matches_torch(torch, name, args):
    expected = sum(p.numel() for p in getattr(torch.nn, name)(*args).parameters())
    assert count_parameters(getattr(nn, name)(*args)) == expected


def test_count_parameters_counts_a_shared_layer_once():
    shared = nn.Linear(4, 4)
    assert count_parameters(nn.Sequential(shared, nn.ReLU(), shared)) == 4 * 4 + 4


def test_count_parameters_rejects_a_non_module():
    with pytest.raises(TypeError, match="count_parameters: model must be a minidl.nn.Module, got list"):
        count_parameters([nn.Linear(2, 2)])


@pytest.mark.parametrize("size, kernel_size, stride, padding", SIZES)
def test_conv_output_size_matches_torch_and_the_layer(torch, size, kernel_size, stride, padding):
    expected = tuple(torch.nn.Conv2d(1, 1, kernel_size, stride, padding)(torch.zeros(1, 1, *size)).shape[-2:])
    assert conv_output_size(size, kernel_size, stride, padding) == expected
    with minidl.no_grad():
        assert nn.Conv2d(1, 1, kernel_size, stride, padding)(minidl.zeros(1, 1, *size)).shape[-2:] == expected


@pytest.mark.parametrize("size, kernel_size, stride, padding", [(28, 2, 2, 0), (11, 2, 2, 0), (112, 3, 2, 1), (7, 3, 3, 1)])
def test_conv_output_size_is_the_pooling_size_too(torch, size, kernel_size, stride, padding):
    pooled = torch.nn.MaxPool2d(kernel_size, stride, padding)(torch.zeros(1, 1, size, size))
    assert conv_output_size(size, kernel_size, stride, padding) == pooled.shape[-1]


def test_conv_output_size_gives_an_int_for_ints_and_a_pair_for_pairs():
    assert conv_output_size(28, 3) == 26 and isinstance(conv_output_size(28, 3), int)
    assert conv_output_size((28, 28), 3) == (26, 26)


@pytest.mark.parametrize("arguments, message", [
    ((4, 7, 1, 1), "kernel_size .* is larger than the padded input"),
    ((28, 3, 0, 0), "conv_output_size: stride must be at least 1, got 0"),
    ((28, 3, 1, -1), "conv_output_size: padding must be at least 0, got -1"),
    ((28, (3, 0), 1, 0), r"conv_output_size: kernel_size must be at least 1, got \(3, 0\)"),
])
def test_conv_output_size_rejects_bad_values(arguments, message):
    with pytest.raises(ValueError, match=message):
        conv_output_size(*arguments)


def test_conv_output_size_rejects_a_float_naming_it():
    with pytest.raises(TypeError, match="conv_output_size: kernel_size must be an int or a pair of ints, got 2.5"):
        conv_output_size(28, 2.5)


@pytest.mark.parametrize("spec, shape", MODELS)
def test_multiply_adds_are_half_of_torchs_flop_count(torch, rng, spec, shape):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as flop_counter:
        _build(torch.nn, spec)(torch.zeros(shape))
    counts = multiply_adds(_build(nn, spec), minidl.tensor(rng.normal(size=shape).astype(np.float32)))
    assert 2 * sum(counts.values()) == flop_counter.get_total_flops()


def test_multiply_adds_names_layers_in_the_order_they_ran():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    counts = multiply_adds(model, minidl.zeros(1, 1, 6, 6))
    assert list(counts.items()) == [("0", 4 * 4 * 2 * 1 * 3 * 3), ("3", 2 * 4 * 4 * 3)]


class _TwoCalls(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 3)

    def forward(self, x):
        return self.layer(self.layer(x))


def test_multiply_adds_counts_a_layer_called_twice_twice():
    assert multiply_adds(_TwoCalls(), minidl.zeros(5, 3)) == {"layer": 2 * 5 * 3 * 3}


def test_multiply_adds_leaves_the_model_as_it_was_even_after_an_error():
    model = nn.Sequential(nn.Linear(4, 2))
    with pytest.raises(ValueError, match="in_features=4"):
        multiply_adds(model, minidl.zeros(1, 5))
    assert "forward" not in vars(model[0])
    multiply_adds(model, minidl.zeros(1, 4))
    assert "forward" not in vars(model[0])


@pytest.mark.parametrize("model, input, message", [
    ("not a module", None, "multiply_adds: model must be a minidl.nn.Module, got str"),
    (nn.Linear(2, 2), [[1.0, 2.0]], "multiply_adds: input must be a minidl Tensor, got list"),
])
def test_multiply_adds_rejects_bad_arguments(model, input, message):
    with pytest.raises(TypeError, match=message):
        multiply_adds(model, input)


@pytest.mark.parametrize("name", minidl.counting.__all__)
def test_each_name_says_which_chapters_teach_it(name):
    """The rule of test_docstrings.py, for this module (which its list of modules does not name)."""
    last = getattr(minidl.counting, name).__doc__.strip().splitlines()[-1].strip()
    assert TAUGHT_LINE.fullmatch(last)
    for title, path in CHAPTER.findall(last):
        assert CHAPTERS.get(path) == title
