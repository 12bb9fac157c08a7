"""Tensors among NumPy, matplotlib and Python: conversions, indexing, formatting and printing, as PyTorch's."""

import operator

import numpy as np
import pytest

import minidl


def _error(function):
    """The exception ``function()`` raises (its type and message are compared with torch's)."""
    with pytest.raises(Exception) as caught:
        function()
    return caught.value


def _same_error(ours, theirs):
    assert type(ours) is type(theirs) and str(ours) == str(theirs)


# ---- NumPy and matplotlib read tensors ------------------------------------------------------------
@pytest.mark.parametrize("convert", [np.asarray, np.array], ids=["asarray", "array"])
@pytest.mark.parametrize("values", [np.arange(6.0, dtype=np.float32).reshape(2, 3), np.arange(4), np.float32(2.5)],
                         ids=["float32", "int64", "0-d"])
def test_numpy_reads_a_tensor_as_its_host_array(convert, values):
    array = convert(minidl.tensor(values))
    assert type(array) is np.ndarray and array.dtype == np.asarray(values).dtype
    np.testing.assert_array_equal(array, values)


def test_asarray_shares_memory_and_array_copies_on_the_numpy_backend(backend):
    t = minidl.tensor([1.0, 2.0])
    if backend == "numpy":
        assert np.shares_memory(np.asarray(t), t.data)
    assert not np.shares_memory(np.array(t), np.asarray(t))
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


def test_asarray_without_a_copy_is_refused_where_a_copy_is_needed(backend):
    t = minidl.tensor([1.0, 2.0])
    with pytest.raises(ValueError):
        np.asarray(t, dtype=np.float64, copy=False)
    if backend != "numpy":
        with pytest.raises(ValueError, match="lives on cuda:0"):
            np.asarray(t, copy=False)


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")  # torch's __array__
@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda t: t.cpu().numpy()], ids=["asarray", "array", "numpy"])
def test_a_tensor_that_requires_grad_is_refused_with_torchs_message(convert, torch):
    _same_error(_error(lambda: convert(minidl.tensor([1.0], requires_grad=True))),
                _error(lambda: convert(torch.tensor([1.0], requires_grad=True))))


def test_numpy_force_detaches():
    np.testing.assert_array_equal(minidl.tensor([1.0], requires_grad=True).cpu().numpy(force=True), [1.0])


@pytest.mark.parametrize("operation", [operator.mul, operator.add, operator.sub, operator.truediv])
def test_numpy_array_on_the_left_calls_the_tensor_operator(operation):
    host = np.array([1.0, 2.0], dtype=np.float32)
    result = operation(host, minidl.tensor([4.0, 8.0]))
    assert isinstance(result, minidl.Tensor)
    np.testing.assert_allclose(result.cpu().numpy(), operation(host, np.array([4.0, 8.0], dtype=np.float32)))


def test_matplotlib_draws_tensors():
    plt = pytest.importorskip("matplotlib.pyplot")
    plt.switch_backend("Agg")
    image = minidl.tensor(np.arange(12.0).reshape(3, 4))
    figure, axes = plt.subplots()
    try:
        shown = axes.imshow(image)
        (line,) = axes.plot(minidl.tensor([3.0, 1.0, 2.0]))
        figure.canvas.draw()
        np.testing.assert_array_equal(shown.get_array(), np.arange(12.0).reshape(3, 4))
        np.testing.assert_array_equal(line.get_ydata(), [3.0, 1.0, 2.0])
    finally:
        plt.close(figure)


# ---- tensors as indices -------------------------------------------------------------------------
@pytest.mark.parametrize("index", [np.int64(3), np.array([3]), np.array([[2]]), np.array([3, 4]), np.True_],
                         ids=["0-d", "one-element", "one-element-2d", "two-elements", "bool"])
def test_a_numpy_array_indexed_by_a_tensor_as_by_torchs(index, torch):
    host = np.arange(10) * 10
    np.testing.assert_array_equal(host[minidl.tensor(index)], host[torch.tensor(index)])


@pytest.mark.parametrize("values", [2.0, [1, 2]], ids=["float", "two-elements"])
def test_only_one_integer_converts_to_an_index_as_in_torch(values, torch):
    _same_error(_error(lambda: operator.index(minidl.tensor(values))), _error(lambda: operator.index(torch.tensor(values))))


def test_python_abs_round_trips_through_the_method(torch):
    values = np.array([-1.5, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(abs(minidl.tensor(values)).cpu().numpy(), abs(torch.tensor(values)).cpu().numpy())


def test_an_integer_tensor_is_a_python_index():
    n = minidl.tensor(3)
    assert list(range(n)) == [0, 1, 2] and ["a", "b", "c", "d"][n] == "d"


@pytest.mark.parametrize("convert", [lambda t: t.item(), float, int, bool], ids=["item", "float", "int", "bool"])
def test_converting_several_elements_to_a_number_fails_as_in_torch(convert, torch):
    _same_error(_error(lambda: convert(minidl.tensor([1.0, 2.0]))), _error(lambda: convert(torch.tensor([1.0, 2.0]))))


# ---- making tensors from arrays: tensor copies, as_tensor and from_numpy share ------------------------
@pytest.mark.parametrize("source", [np.array([1.0, 2.0]), np.array([1.0, 2.0], dtype=np.float32), np.array([1, 2])],
                         ids=["float64", "float32", "int64"])
def test_tensor_copies_its_data(source):
    source = source.copy()  # the parameter is shared by the runs on each backend
    t = minidl.tensor(source)
    source[0] = 99
    assert t.dtype == source.dtype and t.tolist() == [1, 2]


def test_tensor_of_a_tensor_copies_and_detaches():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    y = minidl.tensor(x)
    with minidl.no_grad():
        x += 1
    assert y.tolist() == [1.0, 2.0] and y.is_leaf and not y.requires_grad


def test_as_tensor_shares_what_it_can(backend):
    x = minidl.tensor([1.0, 2.0])
    assert minidl.as_tensor(x) is x and minidl.as_tensor(x, dtype=minidl.float64).dtype == np.float64
    source = np.array([1.0, 2.0], dtype=np.float32)
    shared = minidl.as_tensor(source)
    source[0] = 5.0
    assert shared.tolist() == ([5.0, 2.0] if backend == "numpy" else [1.0, 2.0])
    assert minidl.as_tensor([1, 2]).dtype == np.int64


def test_from_numpy_shares_memory_as_a_cpu_tensor_whatever_the_default_device():
    source = np.array([1.0, 2.0])
    t = minidl.from_numpy(source)
    source[0] = 5.0
    t[1] = 7.0
    assert t.dtype == np.float64 and t.tolist() == [5.0, 7.0] and source.tolist() == [5.0, 7.0]
    assert t.device == minidl.device("cpu")


@pytest.mark.parametrize("source", [[1.0, 2.0], np.array(["a"]), np.array([1, None], dtype=object)],
                         ids=["list", "strings", "objects"])
def test_from_numpy_refuses_other_data_as_torch(source, torch):
    _same_error(_error(lambda: minidl.from_numpy(source)), _error(lambda: torch.from_numpy(source)))


# ---- lists holding tensors -------------------------------------------------------------------------
LISTS = {  # a list of (value, kind) items: "t" a 0-d tensor, "d" a float64 0-d tensor, "v" a one-element vector
    "two 0-d floats": [(1.0, "t"), (2.0, "t")],
    "a 0-d float64 and an int": [(1.0, "d"), (2, None)],
    "a 0-d int and a float": [(1, "t"), (2.5, None)],
    "0-d ints": [(1, "t"), (2, "t")],
    "a 0-d bool and an int": [(True, "t"), (1, None)],
    "one-element vectors": [(1.0, "v"), (3.0, "v")],
    "nested": [[(1.0, "t")], [(2.0, "t")]],
}


def _build(library, items):
    if isinstance(items, list):
        return [_build(library, item) for item in items]
    value, kind = items
    if kind == "t":
        return library.tensor(value)
    if kind == "d":
        return library.tensor(value, dtype=library.float64)
    return library.tensor([value]) if kind == "v" else value


@pytest.mark.parametrize("name", LISTS)
def test_a_list_of_one_element_tensors_becomes_a_tensor_as_in_torch(name, torch):
    ours, theirs = minidl.tensor(_build(minidl, LISTS[name])), torch.tensor(_build(torch, LISTS[name]))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.cpu().numpy(), theirs.cpu().numpy())


def test_a_list_of_longer_tensors_is_refused_as_in_torch(torch):
    _same_error(_error(lambda: minidl.tensor([minidl.tensor([1.0, 2.0]), minidl.tensor([3.0, 4.0])])),
                _error(lambda: torch.tensor([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])])))


# ---- formatting and printing ----------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["", ".2f", "8.3e", ">12", "+.1%"])
@pytest.mark.parametrize("value", [3.14159, 3.0, -0.5], ids=str)
def test_a_0d_tensor_formats_its_number_as_in_torch(value, spec, torch):
    assert format(minidl.tensor(value), spec) == format(torch.tensor(value), spec)


def test_integer_0d_tensor_formats_its_number(torch):
    assert f"{minidl.tensor(7):>4d}" == f"{torch.tensor(7):>4d}" == "   7"


def test_a_tensor_of_several_elements_formats_as_its_repr_and_refuses_a_spec(torch):
    assert f"{minidl.tensor([1.0, 2.0])}" == str(minidl.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    _same_error(_error(lambda: format(minidl.tensor([1.0]), ".2f")), _error(lambda: format(torch.tensor([1.0]), ".2f")))


_big = np.random.default_rng(3).normal(size=(40, 50)).astype(np.float32)
PRINTED = {  # host values; every one prints as torch prints it
    "0-d whole": np.float32(3.0),
    "0-d fraction": np.float32(3.5),
    "0-d zero": np.float32(0.0),
    "0-d tiny": np.float32(1e-5),
    "0-d int": np.int64(3),
    "0-d bool": np.True_,
    "whole floats": np.array([1.0, 2.0], dtype=np.float32),
    "four digits": np.array([0.123456, 1.0], dtype=np.float32),
    "negative": np.array([-1.5, 2.25, 0.0], dtype=np.float32),
    "scientific (wide range)": np.array([1e-5, 1.0, 300.0], dtype=np.float32),
    "scientific (large)": np.array([1e10, 1.0], dtype=np.float32),
    "non-finite": np.array([np.nan, np.inf, -np.inf, 1.0], dtype=np.float32),
    "non-finite with fractions": np.array([np.nan, 1.5], dtype=np.float32),
    "only zeros and nan": np.array([0.0, np.nan], dtype=np.float32),
    "int64": np.array([1, -20, 300]),
    "bool": np.array([True, False]),
    "float64": np.array([1.0, 2.5]),
    "float16": np.array([1.0, 2.5], dtype=np.float16),
    "int32": np.array([1, 2], dtype=np.int32),
    "matrix": np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
    "3-d": np.arange(24).reshape(2, 3, 4),
    "long row wraps": np.arange(40, dtype=np.float32) / 3,
    "summarized vector": np.arange(2000, dtype=np.float32),
    "summarized matrix": _big,
    "summarized 3-d": np.arange(3000).reshape(10, 15, 20),
    "empty": np.zeros(0, dtype=np.float32),
    "empty matrix": np.zeros((0, 3), dtype=np.float32),
    "empty int64": np.zeros(0, dtype=np.int64),
}


def _printed(library, values, grad):
    t = library.tensor(values, requires_grad=grad == "leaf")
    if grad == "result":
        t = library.tensor(values, requires_grad=True) * 2
    return repr(t)


@pytest.mark.parametrize("name", PRINTED)
def test_repr_is_torchs(name, torch):
    assert _printed(minidl, PRINTED[name], None) == _printed(torch, PRINTED[name], None).replace("torch.", "minidl.")


@pytest.mark.parametrize("grad", ["leaf", "result"])
@pytest.mark.parametrize("name", ["0-d fraction", "whole floats", "float64", "matrix", "long row wraps"])
def test_repr_names_the_graph_as_torch(name, grad, torch):
    assert _printed(minidl, PRINTED[name], grad) == _printed(torch, PRINTED[name], grad).replace("torch.", "minidl.")


def test_str_is_repr_and_a_parameter_prints_as_torchs(torch):
    t = minidl.tensor([0.5, 1.0])
    assert str(t) == repr(t)
    values = np.array([[0.5, -1.25]], dtype=np.float32)
    assert repr(minidl.nn.Parameter(minidl.tensor(values))) == repr(torch.nn.Parameter(torch.tensor(values)))
