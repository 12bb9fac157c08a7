"""A learner's mistakes: PyTorch's error (type, and message where it has a clear one) or a clear message
naming the argument, what was given and the fix; and a call that raises leaves nothing half-changed."""

import io
import os
import random
import re
import zipfile

import numpy as np
import pytest

import minidl
import minidl.nn as nn
import minidl.optim as optim
from minidl.data import DataLoader
from minidl.sampling import sample
from minidl.train import evaluate, fit

from conftest import error_of


def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _torch_mlp(torch):
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def _weights(model):
    return {name: t.cpu().numpy().copy() for name, t in model.state_dict().items()}


def _assert_same_weights(model, before):
    after = _weights(model)
    assert after.keys() == before.keys()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


# ---- optimizers: a wrong gradient changes nothing ---------------------------------------------------
OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adadelta", dict()),
    ("RMSprop", dict(momentum=0.9, centered=True)),
    ("Adam", dict(lr=0.1)),
    ("AdamW", dict(lr=0.1)),
]
BAD_GRADS = {
    "a row that broadcasts": lambda module, shape: module.ones(shape[-1]),
    "one element": lambda module, shape: module.ones(1),
    "the transposed shape": lambda module, shape: module.ones(*shape[::-1]),
    "a NumPy array": lambda module, shape: np.ones(shape, np.float32),
}


def _optimizer_snapshot(params, optimizer):
    weights = [p.detach().cpu().numpy().copy() for p in params]
    state = {
        id(p): {key: value if isinstance(value, int) else minidl.to_numpy(value).copy() for key, value in s.items()}
        for p, s in optimizer.state.items()
    }
    return weights, state


def _assert_same_snapshot(first, second):
    for a, b in zip(first[0], second[0]):
        np.testing.assert_array_equal(a, b)
    assert first[1].keys() == second[1].keys()
    for key in first[1]:
        assert first[1][key].keys() == second[1][key].keys()
        for name in first[1][key]:
            np.testing.assert_array_equal(first[1][key][name], second[1][key][name], err_msg=name)


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[f"{n}-{k}" for n, k in OPTIMIZERS])
@pytest.mark.parametrize("bad_grad", BAD_GRADS, ids=list(BAD_GRADS))
@pytest.mark.parametrize("bad_index", [0, 2])
def test_a_step_with_a_gradient_of_the_wrong_shape_updates_nothing(name, kwargs, bad_grad, bad_index, torch):
    params = [minidl.randn(2, 3, requires_grad=True), minidl.randn(3, requires_grad=True),
              minidl.randn(2, 3, requires_grad=True)]
    optimizer = getattr(optim, name)(params, **kwargs)
    for p in params:
        p.grad = minidl.ones(*p.shape)
    optimizer.step()  # moments and step counters exist now, and must not move again
    bad = BAD_GRADS[bad_grad](minidl, params[bad_index].shape)
    reference = torch.zeros(2, 3, requires_grad=True)
    expected = error_of(lambda: setattr(reference, "grad", BAD_GRADS[bad_grad](torch, (2, 3))))
    assigned = error_of(lambda: setattr(params[bad_index], "grad", bad))
    assert type(assigned) is type(expected)  # refused when assigned, as in PyTorch
    # the step checks again, for a gradient that got past the assignment (here written into .grad's slot)
    params[bad_index]._grad = bad
    before = _optimizer_snapshot(params, optimizer)
    error = error_of(optimizer.step)
    assert type(error) is type(expected)
    if isinstance(error, RuntimeError):
        assert re.search(rf"params\[{bad_index}\] has shape \(2, 3\) but its \.grad has shape", str(error))
    else:
        assert f"params[{bad_index}].grad must be a Tensor or None, but got grad of type ndarray" in str(error)
    _assert_same_snapshot(before, _optimizer_snapshot(params, optimizer))


# ---- optimizers: arguments --------------------------------------------------------------------------
HYPERPARAMETERS = [
    (name, kwargs)
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta")
    for kwargs in (dict(lr=-0.1), dict(weight_decay=-1.0))
] + [
    ("SGD", dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(betas=(1.0, 0.9))),
    ("AdamW", dict(betas=(0.9, -0.1))),
    ("Adam", dict(eps=-1.0)),
    ("Adagrad", dict(lr_decay=-1.0)),
    ("Adagrad", dict(initial_accumulator_value=-1.0)),
    ("Adadelta", dict(rho=1.5)),
    ("RMSprop", dict(alpha=-1.0)),
    ("RMSprop", dict(momentum=-1.0)),
]


@pytest.mark.parametrize("name, kwargs", HYPERPARAMETERS, ids=[f"{n}-{k}" for n, k in HYPERPARAMETERS])
def test_out_of_range_hyperparameters_are_refused_with_pytorchs_message(name, kwargs, torch):
    error = error_of(lambda: getattr(optim, name)([minidl.zeros(2, requires_grad=True)], **kwargs))
    expected = error_of(lambda: getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs))
    assert type(error) is type(expected) is ValueError
    assert str(expected) in str(error) and str(error).startswith(f"{name}: ")


@pytest.mark.parametrize(
    "kwargs, argument", [(dict(lr="0.1"), "lr"), (dict(lr=None), "lr"), (dict(betas=0.9), "betas"),
                         (dict(eps=[1e-8]), "eps")]
)
def test_hyperparameters_that_are_not_numbers_are_named(kwargs, argument):
    with pytest.raises(TypeError, match=rf"Adam: {argument} must be a (number|pair of numbers)"):
        optim.Adam([minidl.zeros(2, requires_grad=True)], **kwargs)


def _used_up(model):
    """A parameters generator that a first optimizer has already read to its end."""
    params = model.parameters()
    list(params)
    return params


PARAMS_MISTAKES = {
    "the model": (lambda model: model, lambda tmodel: tmodel, TypeError,
                  r"got the module Sequential.*SGD\(model\.parameters\(\), lr=\.\.\.\)"),
    "one layer": (lambda model: model[0], lambda tmodel: tmodel[0], TypeError,
                  r"got the module Linear.*model\.parameters\(\)"),
    "a list of layers": (lambda model: [model[0], model[2]], lambda tmodel: [tmodel[0], tmodel[2]], TypeError,
                         r"can only optimize Tensors, but one of the params is .*Linear; pass model\.parameters\(\)"),
    "a single tensor": (lambda model: model[0].weight, lambda tmodel: tmodel[0].weight, TypeError,
                        r"should be an iterable of Tensors or dicts, but got a Tensor; wrap it in a list"),
    "a used-up generator": (_used_up, _used_up, ValueError,
                            r"optimizer got an empty parameter list \(model\.parameters\(\) is a generator"),
    "an empty list": (lambda model: [], lambda tmodel: [], ValueError, r"optimizer got an empty parameter list"),
    "numbers": (lambda model: [1.0, 2.0], lambda tmodel: [1.0, 2.0], TypeError,
                r"optimizer can only optimize Tensors, but one of the params is float"),
    "a non-leaf tensor": (lambda model: [model[0].weight * 2], lambda tmodel: [tmodel[0].weight * 2], ValueError,
                          r"can't optimize a non-leaf Tensor"),
    "a parameter in two groups": (lambda model: [{"params": [model[0].weight]}, {"params": [model[0].weight]}],
                                  lambda tmodel: [{"params": [tmodel[0].weight]}, {"params": [tmodel[0].weight]}],
                                  ValueError, r"some parameters appear in more than one parameter group"),
    "a state dict": (lambda model: model.state_dict(), None, TypeError,
                     r"got a dict; pass model\.parameters\(\) \(not a state dict\)"),
}


@pytest.mark.parametrize("mistake", PARAMS_MISTAKES, ids=list(PARAMS_MISTAKES))
def test_params_mistakes_are_named_with_the_fix(mistake, torch):
    ours, theirs, kind, message = PARAMS_MISTAKES[mistake]
    model = _mlp()
    before = _weights(model)
    with pytest.raises(kind, match=message):
        optim.SGD(ours(model), lr=0.1)
    _assert_same_weights(model, before)
    if theirs is not None:
        assert type(error_of(lambda: torch.optim.SGD(theirs(_torch_mlp(torch)), lr=0.1))) is kind


def test_frozen_and_integer_tensors_are_accepted_and_left_alone_as_in_pytorch():
    frozen, counts = minidl.ones(2), minidl.tensor([1, 2])
    trained = minidl.ones(2, requires_grad=True)
    optimizer = optim.SGD([trained, frozen, counts], lr=0.5)
    (trained * 2).sum().backward()
    optimizer.step()
    np.testing.assert_array_equal(trained.detach().cpu().numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(frozen.cpu().numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(counts.cpu().numpy(), [1, 2])


@pytest.mark.parametrize("scheduler, kwargs", [("StepLR", dict(step_size=2)), ("CosineAnnealingLR", dict(T_max=5))])
def test_a_schedule_needs_an_optimizer(scheduler, kwargs, torch):
    model = _mlp()
    error = error_of(lambda: getattr(optim, scheduler)(model, **kwargs))
    expected = error_of(lambda: getattr(torch.optim.lr_scheduler, scheduler)(_torch_mlp(torch), **kwargs))
    assert type(error) is type(expected) is TypeError
    assert "Sequential is not an Optimizer" in str(error)


# ---- sampling ----------------------------------------------------------------------------------------
UNDEFINED_LOGITS = {"NaN": [0.5, np.nan, 1.0], "+inf": [0.5, np.inf, 1.0], "only -inf": [-np.inf, -np.inf, -np.inf]}


@pytest.mark.parametrize("kind", UNDEFINED_LOGITS)
@pytest.mark.parametrize("row", [0, 2])
@pytest.mark.parametrize("use_generator", [False, True])
def test_sample_refuses_logits_without_a_distribution_and_draws_nothing(kind, row, use_generator, torch):
    logits = np.zeros((3, 3))
    logits[row] = UNDEFINED_LOGITS[kind]
    generator = np.random.default_rng(7) if use_generator else None
    generator_state = generator.bit_generator.state if use_generator else None
    minidl.manual_seed(3)
    error = error_of(lambda: sample(minidl.tensor(logits), generator=generator))
    expected = error_of(lambda: torch.multinomial(torch.softmax(torch.tensor(logits), dim=-1), 1))
    assert type(error) is type(expected) is RuntimeError
    assert str(expected) in str(error) and f"logits row {row} holds NaN, +inf or only -inf" in str(error)
    if use_generator:
        assert generator.bit_generator.state == generator_state
    else:  # the library's stream has not moved: the next draw is the one a fresh seed gives
        after_error = sample(minidl.zeros(50, 10)).cpu().numpy()
        minidl.manual_seed(3)
        np.testing.assert_array_equal(after_error, sample(minidl.zeros(50, 10)).cpu().numpy())


def test_sample_never_draws_a_token_whose_logit_is_minus_inf():
    logits = minidl.tensor([[0.0, -np.inf, 0.0, -np.inf]] * 200)
    assert set(sample(logits).cpu().numpy().tolist()) == {0, 2}


@pytest.mark.parametrize(
    "generator", [0, "seed", np.random.RandomState(0), random.Random(0)], ids=["int", "str", "RandomState", "Random"]
)
def test_sample_names_a_generator_that_is_not_one(generator):
    with pytest.raises(TypeError, match=r"generator must be a NumPy Generator such as numpy\.random\.default_rng\(0\)"):
        sample(minidl.zeros(4), generator=generator)


# ---- save and load -----------------------------------------------------------------------------------
def _text_file(path, torch):
    path.write_text("weights: 1 2 3\n")


def _empty_file(path, torch):
    path.write_bytes(b"")


def _npy_file(path, torch):
    with open(path, "wb") as file:
        np.save(file, np.ones(3))


def _pickle_file(path, torch):
    import pickle

    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}))


def _npz_of_byte_strings(path, torch):
    with open(path, "wb") as file:
        np.savez(file, names=np.array([b"cat", b"dog"]))


def _npz_of_strings(path, torch):
    with open(path, "wb") as file:
        np.savez(file, weight=np.ones(2), labels=np.array(["cat", "dog"]))


def _npz_of_objects(path, torch):
    with open(path, "wb") as file:
        np.savez(file, payload=np.array([{"run": "code"}], dtype=object))


def _torch_file(path, torch):
    torch.save(_torch_mlp(torch).state_dict(), path)


def _zip_of_other_files(path, torch):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not arrays")


NOT_CHECKPOINTS = {
    "a text file": (_text_file, "it is a text file"),
    "an empty file": (_empty_file, "it is empty"),
    "a single .npy array": (_npy_file, "a single array written by numpy.save; load it with numpy.load"),
    "a pickle": (_pickle_file, "it is a pickle"),
    "an npz of byte strings": (_npz_of_byte_strings, "the entry 'names' has dtype |S3, not numbers"),
    "an npz of strings": (_npz_of_strings, "the entry 'labels' has dtype <U3, not numbers"),
    "an npz of objects": (_npz_of_objects, "holds Python objects, which only pickle reads"),
    "a PyTorch file": (_torch_file, "it is a PyTorch file, written by torch.save"),
    "a zip of other files": (_zip_of_other_files, "it is a zip archive of other files"),
}


@pytest.mark.parametrize("kind", NOT_CHECKPOINTS)
def test_load_names_a_file_that_is_not_a_checkpoint_and_leaves_it_alone(kind, tmp_path, torch):
    write, why = NOT_CHECKPOINTS[kind]
    path = tmp_path / "model.npz"
    write(path, torch)
    contents = path.read_bytes()
    with pytest.raises(ValueError) as error:
        minidl.load(path)
    message = str(error.value)
    assert f"load: {str(path)!r} is not a minidl checkpoint: " in message and why in message
    assert "minidl.save(model.state_dict(), path)" in message
    assert path.read_bytes() == contents and os.listdir(tmp_path) == ["model.npz"]


def test_a_checkpoint_is_marked_and_one_written_before_the_mark_still_loads(tmp_path):
    model = _mlp()
    minidl.save(model.state_dict(), tmp_path / "marked.npz")
    with np.load(tmp_path / "marked.npz") as archive:
        assert minidl.serialization.FORMAT_KEY in archive.files
    with open(tmp_path / "unmarked.npz", "wb") as file:  # what save wrote before the mark
        np.savez(file, **{name: t.cpu().numpy() for name, t in model.state_dict().items()})
    for name in ("marked.npz", "unmarked.npz"):
        loaded = minidl.load(tmp_path / name)
        assert list(loaded) == list(model.state_dict())
        restored = _mlp()
        restored.load_state_dict(loaded)
        _assert_same_weights(restored, _weights(model))


def test_load_refuses_a_checkpoint_from_a_newer_format(tmp_path):
    with open(tmp_path / "future.npz", "wb") as file:
        np.savez(file, w=np.ones(2), **{minidl.serialization.FORMAT_KEY: np.array(99)})
    with pytest.raises(ValueError, match=r"checkpoint format 99, newer than this minidl reads \(1\)"):
        minidl.load(tmp_path / "future.npz")


def test_load_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        minidl.load(tmp_path / "missing.npz")


SAVE_MISTAKES = {
    "the model": (lambda model, path: minidl.save(model, path), TypeError,
                  r"got a Sequential; minidl saves weights, not objects: minidl\.save\(model\.state_dict\(\), path\)"),
    "the arguments swapped": (lambda model, path: minidl.save(str(path), model.state_dict()), TypeError,
                              r"got the path .* first: minidl\.save\(model\.state_dict\(\), path\)"),
    "one tensor": (lambda model, path: minidl.save(model[0].weight, path), TypeError,
                   r"got Parameter; .*minidl\.save\(\{'x': x\}, path\) for one tensor"),
    "a nested dict": (lambda model, path: minidl.save({"model": model.state_dict(), "epoch": 3}, path), TypeError,
                      r"the value of 'model' is a OrderedDict; .* one flat dict with dotted names"),
    "a string value": (lambda model, path: minidl.save({"name": "mlp"}, path), TypeError,
                       r"the value of 'name' is a str"),
    "a non-string key": (lambda model, path: minidl.save({0: minidl.ones(1)}, path), TypeError,
                         r"keys must be strings, got 0"),
    "the reserved key": (lambda model, path: minidl.save({minidl.serialization.FORMAT_KEY: minidl.ones(1)}, path),
                         ValueError, r"is reserved for the file format"),
    "a file object as path": (lambda model, path: minidl.save(model.state_dict(), io.BytesIO()), TypeError,
                              r"path must be a str or os\.PathLike, got BytesIO"),
}


@pytest.mark.parametrize("mistake", SAVE_MISTAKES, ids=list(SAVE_MISTAKES))
def test_save_mistakes_are_named_and_leave_the_old_file_intact(mistake, tmp_path):
    call, kind, message = SAVE_MISTAKES[mistake]
    path = tmp_path / "model.npz"
    path.write_bytes(b"old contents")
    model = _mlp()
    with pytest.raises(kind, match=message):
        call(model, path)
    assert path.read_bytes() == b"old contents" and os.listdir(tmp_path) == ["model.npz"]


@pytest.mark.parametrize("missing", ["no_such_folder", "no/such/folders"])
def test_save_into_a_missing_folder_names_the_given_path(missing, tmp_path, torch):
    path = tmp_path / missing / "model.npz"
    error = error_of(lambda: minidl.save(_mlp().state_dict(), path))
    expected = error_of(lambda: torch.save({"w": torch.ones(1)}, str(path)))
    assert isinstance(error, FileNotFoundError) and isinstance(error, type(expected))  # PyTorch: RuntimeError
    assert error.filename == str(path) and f"Parent directory {path.parent} does not exist" in str(error)
    assert ".minidl-" not in str(error)
    assert os.listdir(tmp_path) == []


# ---- load_state_dict --------------------------------------------------------------------------------
def _normalize_torch(message):
    """PyTorch's message with its shapes printed as minidl prints them: torch.Size([8, 4]) -> (8, 4)."""
    shape = re.compile(r"torch\.Size\(\[([\d, ]*)\]\)")
    return shape.sub(lambda m: str(tuple(int(v) for v in m.group(1).split(", ") if v)), message)


def _wrong_shape(state, module):
    state["0.weight"] = module.zeros(2, 2)


def _wrong_shape_last(state, module):
    state["2.bias"] = module.zeros(4)


def _missing(state, module):
    del state["2.bias"]


def _unexpected(state, module):
    state["2.scale"] = module.ones(3)


def _everything_wrong(state, module):
    _wrong_shape(state, module)
    _wrong_shape_last(state, module)
    _missing(state, module)
    _unexpected(state, module)


CORRUPTIONS = {"a wrong first shape": _wrong_shape, "a wrong last shape": _wrong_shape_last,
               "a missing key": _missing, "an unexpected key": _unexpected, "everything wrong": _everything_wrong}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_checks_everything_before_copying_anything(corruption, strict, torch):
    source, target = _mlp(), _mlp()
    state = {name: t.clone() for name, t in source.state_dict().items()}
    CORRUPTIONS[corruption](state, minidl)
    before = _weights(target)
    error = error_of(lambda: target.load_state_dict(state, strict=strict))
    torch_target = _torch_mlp(torch)
    torch_state = {name: torch.tensor(t.cpu().numpy()) for name, t in source.state_dict().items()}
    CORRUPTIONS[corruption](torch_state, torch)
    expected = error_of(lambda: torch_target.load_state_dict(torch_state, strict=strict))
    if expected is None:  # strict=False with only missing or unexpected keys: the rest loads, as in PyTorch
        assert error is None
        result = target.load_state_dict(state, strict=strict)
        assert tuple(result) == tuple(torch_target.load_state_dict(torch_state, strict=strict))
        return
    assert isinstance(error, RuntimeError) and str(error) == _normalize_torch(str(expected))
    _assert_same_weights(target, before)


@pytest.mark.parametrize("value", ["weights", None, {"w": 1}, [["a"]]], ids=["str", "None", "dict", "strings"])
def test_load_state_dict_names_a_value_that_is_not_numbers(value, torch):
    model = _mlp()
    state = dict(model.state_dict(), **{"2.bias": value})
    before = _weights(model)
    with pytest.raises(RuntimeError, match=r'While copying the parameter named "2.bias", expected a Tensor'):
        model.load_state_dict(state)
    _assert_same_weights(model, before)
    expected = error_of(lambda: _torch_mlp(torch).load_state_dict({**_torch_mlp(torch).state_dict(), "2.bias": value}))
    assert isinstance(expected, RuntimeError) and 'While copying the parameter named "2.bias"' in str(expected)


@pytest.mark.parametrize(
    "given, fix", [("model.npz", r"model\.load_state_dict\(minidl\.load\(path\)\)"),
                   ("module", r"model\.load_state_dict\(other\.state_dict\(\)\)"),
                   ("list", r"other_model\.state_dict\(\)")]
)
def test_load_state_dict_of_something_else_than_a_dict_says_what_to_pass(given, fix, torch):
    model = _mlp()
    argument = {"model.npz": "model.npz", "module": _mlp(), "list": list(model.state_dict().values())}[given]
    before = _weights(model)
    error = error_of(lambda: model.load_state_dict(argument))
    torch_argument = {"model.npz": "model.npz", "module": _torch_mlp(torch), "list": []}[given]
    expected = error_of(lambda: _torch_mlp(torch).load_state_dict(torch_argument))
    assert type(error) is type(expected) is TypeError
    assert "Expected state_dict to be dict-like" in str(error) and re.search(fix, str(error))
    _assert_same_weights(model, before)


# ---- layers: inputs -----------------------------------------------------------------------------------
LAYERS = {
    "Linear": (lambda: nn.Linear(3, 2), (4, 3)),
    "Flatten": (lambda: nn.Flatten(), (4, 3)),
    "Conv2d": (lambda: nn.Conv2d(1, 2, 3), (1, 1, 5, 5)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(1, 2, 3), (1, 1, 5, 5)),
    "RNN": (lambda: nn.RNN(3, 2), (5, 1, 3)),
    "LSTM": (lambda: nn.LSTM(3, 2), (5, 1, 3)),
    "GRU": (lambda: nn.GRU(3, 2), (5, 1, 3)),
    "RNNCell": (lambda: nn.RNNCell(3, 2), (4, 3)),
    "LSTMCell": (lambda: nn.LSTMCell(3, 2), (4, 3)),
    "GRUCell": (lambda: nn.GRUCell(3, 2), (4, 3)),
}
NOT_TENSORS = {
    "a NumPy array": (lambda shape: np.zeros(shape, np.float32),
                      r"not numpy\.ndarray; convert it first with minidl\.tensor\(x\)"),
    "a list": (lambda shape: np.zeros(shape).tolist(), r"not list; convert it first with minidl\.tensor\(x\)"),
    "an LSTM's (output, state)": (lambda shape: nn.LSTM(shape[-1], shape[-1])(minidl.zeros(2, 1, shape[-1])),
                                  r"not tuple; recurrent layers \(RNN, LSTM, GRU\) return a tuple \(output, state\): "
                                  r"unpack it"),
}


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("given", NOT_TENSORS, ids=list(NOT_TENSORS))
def test_a_layer_called_on_something_else_than_a_tensor_says_how_to_convert_it(layer, given, torch):
    build, shape = LAYERS[layer]
    module = build()
    before = _weights(module)
    make, message = NOT_TENSORS[given]
    with pytest.raises(TypeError, match=rf"{layer}: argument 'input' must be Tensor, {message}"):
        module(make(shape))
    _assert_same_weights(module, before)
    assert all(p.grad is None for p in module.parameters())


@pytest.mark.parametrize("given", ["a NumPy array", "a list", "a tuple"])
def test_linear_on_a_non_tensor_raises_pytorchs_type_error(given, torch):
    argument = {"a NumPy array": np.zeros((1, 3), np.float32), "a list": [[0.0, 0.0, 0.0]],
                "a tuple": (torch.zeros(1, 3), torch.zeros(1, 3))}[given]
    expected = error_of(lambda: torch.nn.Linear(3, 2)(argument))
    ours = argument if given != "a tuple" else (minidl.zeros(1, 3), minidl.zeros(1, 3))
    assert type(error_of(lambda: nn.Linear(3, 2)(ours))) is type(expected) is TypeError


TORCH_LAYERS = {
    "Linear": lambda torch: torch.nn.Linear(3, 2),
    "Conv2d": lambda torch: torch.nn.Conv2d(1, 2, 3),
    "LSTM": lambda torch: torch.nn.LSTM(3, 2),
}


@pytest.mark.parametrize("layer", TORCH_LAYERS)
@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_a_layer_refuses_integer_input_as_pytorch_does(layer, dtype, torch):
    build, shape = LAYERS[layer]
    module = build()
    error = error_of(lambda: module(minidl.tensor(np.zeros(shape, dtype))))
    expected = error_of(lambda: TORCH_LAYERS[layer](torch)(torch.zeros(shape, dtype=getattr(torch, dtype))))
    assert type(error) is type(expected)
    assert re.search(rf"{layer}: input has dtype {dtype} but the weights are float32; .* x\.float\(\)", str(error))


@pytest.mark.parametrize("cell, hx", [("LSTMCell", "one tensor"), ("LSTMCell", "a list of arrays"),
                                      ("RNNCell", "a tuple"), ("GRUCell", "an array")])
def test_a_cell_names_a_state_of_the_wrong_kind(cell, hx, torch):
    h = minidl.zeros(4, 2)
    kinds = {"one tensor": h, "a list of arrays": [np.zeros((4, 2))] * 2, "a tuple": (h,), "an array": np.zeros((4, 2))}
    given = kinds[hx]
    module = getattr(nn, cell)(3, 2)
    expected = "a tuple \\(h_0, c_0\\) of Tensors" if cell == "LSTMCell" else "a Tensor"
    with pytest.raises(TypeError, match=rf"{cell}: argument 'hx' must be {expected}, not "):
        module(minidl.zeros(4, 3), given)
    if hx == "one tensor":
        torch_error = error_of(lambda: torch.nn.LSTMCell(3, 2)(torch.zeros(4, 3), torch.zeros(4, 2)))
        assert isinstance(torch_error, TypeError)


# ---- layers: sizes ------------------------------------------------------------------------------------
SIZES = [
    ("Linear", (2.0, 3), {}, TypeError, r"Linear: in_features should be of type int, got: float 2\.0"),
    ("Linear", (2, 3.5), {}, TypeError, r"Linear: out_features should be of type int, got: float 3\.5"),
    ("Linear", (True, 3), {}, TypeError, r"in_features should be of type int, got: bool True"),
    ("Linear", (0, 3), {}, ValueError, r"in_features must be a positive integer \(greater than zero\), got 0"),
    ("Linear", (4, -1), {}, ValueError, r"out_features must be a positive integer .*got -1"),
    ("Conv2d", (1, 1, 3.0), {}, TypeError, r"Conv2d: kernel_size must be an int or a pair of ints, got float 3\.0"),
    ("Conv2d", (1, 1, (3, 3.0)), {}, TypeError, r"kernel_size must be an int or a pair of ints, got tuple \(3, 3\.0\)"),
    ("Conv2d", (1, 1, (3, 3, 3)), {}, ValueError, r"a pair of ints \(height, width\), got 3 values"),
    ("Conv2d", (1, 1, 0), {}, ValueError, r"kernel_size must be at least 1, got 0"),
    ("Conv2d", (1.0, 1, 3), {}, TypeError, r"Conv2d: in_channels should be of type int, got: float 1\.0"),
    ("Conv2d", (1, 0, 3), {}, ValueError, r"Conv2d: out_channels must be a positive integer"),
    ("Conv2d", (1, 1, 3), dict(stride=0), ValueError, r"stride must be at least 1, got 0"),
    ("Conv2d", (1, 1, 3), dict(stride=1.5), TypeError, r"stride must be an int or a pair of ints, got float 1\.5"),
    ("Conv2d", (1, 1, 3), dict(padding=-1), ValueError, r"padding must be at least 0, got -1"),
    ("Conv2d", (1, 1, 3), dict(padding=1.0), TypeError, r"padding must be an int or a pair of ints, got float 1\.0"),
    ("Conv2d", (1, 1, 3), dict(padding="same"), TypeError, r"'same' is not supported: use padding=kernel_size // 2"),
    ("ConvTranspose2d", (1, 1, 2.0), {}, TypeError, r"ConvTranspose2d: kernel_size must be an int or a pair of ints"),
    ("ConvTranspose2d", (1, -2, 2), {}, ValueError, r"ConvTranspose2d: out_channels must be a positive integer"),
    ("ConvTranspose2d", (1, 1, 3), dict(stride=2, output_padding=2), ValueError,
     r"output_padding \(2, 2\) must be smaller than stride \(2, 2\)"),
    ("RNN", (2.0, 3), {}, TypeError, r"RNN: input_size should be of type int, got: float 2\.0"),
    ("LSTM", (2, 0), {}, ValueError, r"LSTM: hidden_size must be a positive integer \(greater than zero\), got 0"),
    ("GRU", (2, 3), dict(num_layers=1.0), TypeError, r"GRU: num_layers should be of type int, got: float 1\.0"),
    ("LSTM", (2, 3), dict(dropout=1.5), ValueError, r"LSTM: dropout should be a number in range \[0, 1\)"),
    ("LSTMCell", (2.0, 3), {}, TypeError, r"LSTMCell: input_size should be of type int, got: float 2\.0"),
    ("GRUCell", (2, -3), {}, ValueError, r"GRUCell: hidden_size must be a positive integer"),
]


@pytest.mark.parametrize("layer, args, kwargs, kind, message", SIZES, ids=[f"{s[0]}{s[1]}{s[2]}" for s in SIZES])
def test_a_layer_size_of_the_wrong_type_or_range_is_named(layer, args, kwargs, kind, message):
    with pytest.raises(kind, match=message):
        getattr(nn, layer)(*args, **kwargs)


@pytest.mark.parametrize("layer, args, kwargs", [s[:3] for s in SIZES if s[3] is TypeError and "got: float" in s[4]])
def test_a_float_size_is_a_type_error_in_pytorch_too(layer, args, kwargs, torch):
    assert isinstance(error_of(lambda: getattr(torch.nn, layer)(*args, **kwargs)), TypeError)


# ---- data loading ------------------------------------------------------------------------------------
def _batches(loader):
    return [tuple(minidl.to_numpy(t) for t in (batch if isinstance(batch, list) else (batch,))) for batch in loader]


SAMPLE_LISTS = {
    "list(zip(X, y))": lambda X, y: list(zip(X, y)),
    "tuple(zip(X, y))": lambda X, y: tuple(zip(X, y)),
    "pairs of tensors": lambda X, y: [(minidl.tensor(x), minidl.tensor(label)) for x, label in zip(X, y)],
}


@pytest.mark.parametrize("form", SAMPLE_LISTS)
@pytest.mark.parametrize("shuffle", [False, True])
def test_a_list_of_samples_batches_as_pytorchs_default_collation_does(form, shuffle, torch):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 3)).astype(np.float32), rng.integers(0, 3, 10)
    ours = _batches(DataLoader(SAMPLE_LISTS[form](X, y), batch_size=4, shuffle=shuffle, seed=0))
    assert [b[1].dtype for b in ours] == [np.int64] * 3 and [b[0].dtype for b in ours] == [np.float32] * 3
    reference = _batches(DataLoader((X, y), batch_size=4, shuffle=shuffle, seed=0))
    for a, b in zip(ours, reference):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    if not shuffle:
        theirs = list(torch.utils.data.DataLoader(list(zip(X, y)), batch_size=4))
        for a, (inputs, targets) in zip(ours, theirs):
            np.testing.assert_array_equal(a[0], inputs.cpu().numpy())
            np.testing.assert_array_equal(a[1], targets.cpu().numpy())


def test_a_list_of_single_samples_batches_into_tensors(torch):
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    ours = [minidl.to_numpy(batch) for batch in DataLoader(list(X), batch_size=4)]
    theirs = [batch.cpu().numpy() for batch in torch.utils.data.DataLoader(list(X), batch_size=4)]
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


LOADER_MISTAKES = {
    "[X, y] as a list": (lambda X, y: next(iter(DataLoader([X, y], batch_size=2))), RuntimeError,
                         r"stack expects each tensor to be equal size, but got \[6, 2\] at entry 0 and \[6\] at "
                         r"entry 1 .*pass them as one tuple: DataLoader\(\(X, y\)\)"),
    "y as batch_size": (lambda X, y: DataLoader(X, y), ValueError,
                        r"batch_size should be a positive integer value, but got an array of length 6; "
                        r".*DataLoader\(\(X, y\)"),
    "batch_size 0": (lambda X, y: DataLoader((X, y), batch_size=0), ValueError, r"positive integer value, but got batch_size=0"),
    "batch_size 2.5": (lambda X, y: DataLoader((X, y), batch_size=2.5), ValueError, r"integer value, but got batch_size=2\.5"),
    "batch_size True": (lambda X, y: DataLoader((X, y), batch_size=True), ValueError, r"integer value, but got batch_size=True"),
    "string labels": (lambda X, y: DataLoader((X, y.astype(str))), TypeError,
                      r"array 1 has dtype <U\d+, not numbers; .*integers"),
    "ragged rows": (lambda X, y: DataLoader((X, [[1], [1, 2]] * 3)), ValueError,
                    r"array 1 has rows of different lengths"),
    "samples of different shapes": (lambda X, y: next(iter(DataLoader([(X[0], 1), (X[1, :1], 0)], batch_size=2))),
                                    RuntimeError, r"equal size, but got \[2\] at entry 0 and \[1\] at entry 1"),
    "samples with different parts": (lambda X, y: next(iter(DataLoader([(X[0], 1), (X[1],)], batch_size=2))),
                                     RuntimeError, r"each element in list of batch should be of equal size"),
    "different lengths": (lambda X, y: DataLoader((X, y[:4])), ValueError,
                          r"same length, got lengths \[4, 6\] \(in order: \[6, 4\]\)"),
    "a single number": (lambda X, y: DataLoader((X, 3)), ValueError, r"array 1 is a single value"),
    "a generator": (lambda X, y: DataLoader(zip(X, y)), TypeError,
                    r"a list of samples such as list\(zip\(X, y\)\); got zip"),
}


@pytest.mark.parametrize("mistake", LOADER_MISTAKES, ids=list(LOADER_MISTAKES))
def test_loader_mistakes_are_named_and_leave_the_data_alone(mistake):
    X, y = np.arange(12, dtype=np.float32).reshape(6, 2), np.arange(6)
    build, kind, message = LOADER_MISTAKES[mistake]
    with pytest.raises(kind, match=message):
        build(X, y)
    np.testing.assert_array_equal(X, np.arange(12).reshape(6, 2))
    np.testing.assert_array_equal(y, np.arange(6))


@pytest.mark.parametrize("batch_size", [0, 2.5, True])
def test_a_bad_batch_size_is_a_value_error_in_pytorch_too(batch_size, torch):
    assert isinstance(error_of(lambda: torch.utils.data.DataLoader(list(range(4)), batch_size=batch_size)), ValueError)


def test_an_empty_list_of_samples_gives_no_batches_as_in_pytorch(torch):
    assert len(DataLoader([], batch_size=2)) == len(torch.utils.data.DataLoader([], batch_size=2)) == 0
    assert list(DataLoader([], batch_size=2)) == []


# ---- training loop -----------------------------------------------------------------------------------
def _moons_loader(batch_size=16, n=48):
    from minidl.data import make_moons

    X, y = make_moons(n)
    return DataLoader((X, y), batch_size=batch_size)


def _classifier():
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2))


def _loader_of_single_tensors():
    from minidl.data import make_moons

    return DataLoader(make_moons(32)[0], batch_size=8)


def _loader_with_a_wrong_width():
    return DataLoader((np.zeros((8, 3), np.float32), np.zeros(8, np.int64)), batch_size=4)


def _loader_whose_third_batch_is_nan():
    from minidl.data import make_moons

    X, y = make_moons(48)
    X[40] = np.nan
    return DataLoader((X, y), batch_size=16)


def _failing_loss(outputs, targets):
    raise ZeroDivisionError("a loss that fails")


FAILURES = {
    "single tensors": (_loader_of_single_tensors, nn.functional.cross_entropy, TypeError,
                       r"each batch of \w+ must be an \(inputs, targets\) pair, got a Tensor of shape \(8, 2\); "
                       r".*DataLoader\(\(X, y\)"),
    "a wrong input width": (_loader_with_a_wrong_width, nn.functional.cross_entropy, ValueError, r"in_features=2"),
    "a failing loss": (_moons_loader, _failing_loss, ZeroDivisionError, r"a loss that fails"),
}


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("training", [True, False])
def test_evaluate_that_raises_restores_the_training_mode(failure, training):
    make_loader, loss_fn, kind, message = FAILURES[failure]
    model = _classifier().train(training)
    before = _weights(model)
    with pytest.raises(kind, match=message):
        evaluate(model, make_loader(), loss_fn)
    assert all(module.training is training for module in model.modules())
    _assert_same_weights(model, before)


@pytest.mark.parametrize("failure", [*FAILURES, "a NaN loss"])
@pytest.mark.parametrize("training", [True, False])
def test_fit_that_raises_restores_the_training_mode(failure, training):
    if failure == "a NaN loss":
        make_loader, loss_fn, kind, message = _loader_whose_third_batch_is_nan, nn.functional.cross_entropy, \
            FloatingPointError, r"the loss became nan at epoch 1, step 3"
    else:
        make_loader, loss_fn, kind, message = FAILURES[failure]
    model = _classifier().train(training)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(kind, match=message):
        fit(model, loss_fn, optimizer, make_loader(), epochs=2)
    assert all(module.training is training for module in model.modules())


def test_a_nan_loss_on_the_first_step_trains_nothing():
    from minidl.data import make_moons

    X, y = make_moons(32)
    X[0] = np.nan
    model = _classifier()
    optimizer = optim.Adam(model.parameters(), lr=0.1)
    before = _weights(model)
    with pytest.raises(FloatingPointError, match="epoch 1, step 1"):
        fit(model, nn.functional.cross_entropy, optimizer, DataLoader((X, y), batch_size=16), epochs=1)
    _assert_same_weights(model, before)
    assert optimizer.state == {}


@pytest.mark.parametrize("training", [True, False])
def test_fit_leaves_the_training_mode_as_it_found_it(training):
    model = _classifier().train(training)
    fit(model, nn.functional.cross_entropy, optim.SGD(model.parameters(), lr=0.1), _moons_loader(), epochs=1,
        val_loader=_moons_loader())
    assert all(module.training is training for module in model.modules())


FIT_MISTAKES = {
    "loss and optimizer swapped": (lambda m, o, l: fit(m, o, nn.functional.cross_entropy, l, 1), TypeError,
                                   r"fit: loss_fn must be callable, got SGD"),
    "optimizer and loss swapped": (lambda m, o, l: fit(m, nn.MSELoss(), nn.functional.cross_entropy, l, 1), TypeError,
                                   r"optimizer must be an optimizer such as .*fit\(model, loss_fn, optimizer"),
    "the loss class": (lambda m, o, l: fit(m, nn.CrossEntropyLoss, o, l, 1), TypeError,
                       r"loss_fn is the class CrossEntropyLoss, not an instance; .*CrossEntropyLoss\(\)"),
    "a float epoch count": (lambda m, o, l: fit(m, nn.functional.cross_entropy, o, l, 1e3), TypeError,
                            r"epochs must be an int, got float 1000\.0"),
    "a negative epoch count": (lambda m, o, l: fit(m, nn.functional.cross_entropy, o, l, -1), ValueError,
                               r"epochs must be >= 0, got -1"),
    "patience 0": (lambda m, o, l: fit(m, nn.functional.cross_entropy, o, l, 1, val_loader=l, patience=0), ValueError,
                   r"patience must be a positive int"),
    "an empty loader": (lambda m, o, l: fit(m, nn.functional.cross_entropy, o, DataLoader([], batch_size=4), 1),
                        ValueError, r"train_loader yielded no samples"),
    "drop_last with too few samples": (
        lambda m, o, l: fit(m, nn.functional.cross_entropy, o, _moons_loader_drop_last(), 1), ValueError,
        r"drop_last=True with fewer samples than batch_size"),
}


def _moons_loader_drop_last():
    from minidl.data import make_moons

    X, y = make_moons(8)
    return DataLoader((X, y), batch_size=16, drop_last=True)


@pytest.mark.parametrize("mistake", FIT_MISTAKES, ids=list(FIT_MISTAKES))
def test_fit_mistakes_are_named_and_train_nothing(mistake):
    model = _classifier()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    before = _weights(model)
    call, kind, message = FIT_MISTAKES[mistake]
    with pytest.raises(kind, match=message):
        call(model, optimizer, _moons_loader())
    _assert_same_weights(model, before)
    assert model.training and optimizer.state == {}


def test_evaluate_of_an_empty_loader_is_named():
    with pytest.raises(ValueError, match="evaluate: loader yielded no samples"):
        evaluate(_classifier(), DataLoader([], batch_size=4), nn.functional.cross_entropy)
