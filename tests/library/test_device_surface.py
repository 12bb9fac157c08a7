"""The PyTorch surface around tensors that scripts type first: devices, grad modes, Module conveniences.

Each tensor has its own device; the backend chosen with ``minidl.use_backend`` is the default device
and what "cuda" means: NumPy has only "cpu", while CuPy or the simulated GPU (``minidl.use_backend("gpusim")``,
NumPy arrays that refuse host arrays as CuPy's do) are "cuda" beside the always-present "cpu". Every test
runs under both "numpy" and "gpusim", so both roles are exercised; moves between devices are tested in
``test_devices.py``.
"""

import pickle

import numpy as np
import pytest

import minidl
import minidl.backends.cudnn as cudnn  # the spelling PyTorch scripts use
from minidl import nn


def _on_gpu(backend):
    return backend != "numpy"


# ---- minidl.device -------------------------------------------------------------------------------------
DEVICES = [("cpu",), ("cuda",), ("cuda:0",), ("cuda:1",), ("cpu:0",), ("cuda", 1), ("cuda", 0)]


@pytest.mark.parametrize("args", DEVICES)
def test_device_reads_like_torch_device(args, torch):
    ours, theirs = minidl.device(*args), torch.device(*args)
    assert (str(ours), repr(ours), ours.type, ours.index) == (str(theirs), repr(theirs), theirs.type, theirs.index)


@pytest.mark.parametrize("a, b", [(a, b) for a in DEVICES for b in DEVICES] + [(("cpu",), "cpu"), (("cuda:0",), "cuda:0")])
def test_device_equality_is_torchs(a, b, torch):
    ours = minidl.device(*a) == (minidl.device(*b) if isinstance(b, tuple) else b)
    theirs = torch.device(*a) == (torch.device(*b) if isinstance(b, tuple) else b)
    assert ours is theirs
    if ours:
        assert hash(minidl.device(*a)) == hash(minidl.device(*b))


def test_a_device_survives_pickling_and_copying():
    d = minidl.device("cuda", 0)
    assert pickle.loads(pickle.dumps(d)) == d and minidl.device(d) is d


@pytest.mark.parametrize("args", [("gpu",), ("CUDA",), ("cuda:-1",), ("cuda:x",), (" cuda",), ("cuda:0:1",),
                                  ("cuda:0", 1), ("cpu", -1), (None,), (3.5,)])
def test_a_bad_device_raises_as_in_pytorch(args, torch):
    with pytest.raises(Exception) as theirs:
        torch.device(*args)
    with pytest.raises(Exception) as ours:
        minidl.device(*args)
    assert type(ours.value) is type(theirs.value)
    if isinstance(theirs.value, RuntimeError):  # the same words first (PyTorch lists more device types)
        assert str(ours.value).split()[:4] == str(theirs.value).split()[:4]


def test_an_int_device_is_a_gpu_number_only_where_a_gpu_is(backend):
    if _on_gpu(backend):
        assert minidl.device(0) == minidl.device("cuda:0")
    else:
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available."):
            minidl.device(0)


def test_cuda_is_available_only_under_a_gpu_backend(backend):
    assert minidl.cuda.is_available() is _on_gpu(backend)
    assert minidl.cuda.device_count() == int(_on_gpu(backend))
    assert minidl.get_default_device() == (minidl.device("cuda", 0) if _on_gpu(backend) else minidl.device("cpu"))


def test_a_new_tensor_is_on_the_default_device(backend, torch):
    x = minidl.ones(2)
    if _on_gpu(backend):
        assert x.device == minidl.device("cuda:0") and x.is_cuda
    else:  # the same as a CPU tensor of PyTorch
        assert (str(x.device), repr(x.device), x.is_cuda) == (str(torch.ones(2).device), repr(torch.ones(2).device), False)


def test_the_usual_device_opening_of_a_script_runs_on_either_backend():
    device = minidl.device("cuda" if minidl.cuda.is_available() else "cpu")
    model = nn.Linear(3, 2).to(device)
    x = minidl.randn(4, 3).to(device)
    assert model(x).shape == (4, 2) and x.device.type == device.type


@pytest.mark.parametrize("move", ["cpu", "cuda", "to str", "to device", "to keyword"])
def test_tensor_moves_return_the_tensor_itself_on_its_own_device_and_cuda_needs_a_gpu(move, backend):
    here = "cuda" if _on_gpu(backend) else "cpu"
    x = minidl.ones(3, requires_grad=True)
    call = {"cpu": lambda d: x.cpu() if d == "cpu" else x.cuda(),
            "cuda": lambda d: x.cuda() if d == "cuda" else x.cpu(),
            "to str": lambda d: x.to(d),
            "to device": lambda d: x.to(minidl.device(d)),
            "to keyword": lambda d: x.to(device=minidl.device(d, 0) if d == "cuda" else minidl.device(d))}[move]
    assert call(here) is x
    if here == "cuda":
        assert call("cpu").device == minidl.device("cpu")
    else:
        with pytest.raises(RuntimeError, match="No CUDA GPUs are available"):
            call("cuda")


def test_cudnn_flags_are_plain_settable_switches():
    assert cudnn is minidl.backends.cudnn and minidl.backends.mps.is_available() is False
    before = cudnn.benchmark, cudnn.deterministic
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        assert minidl.backends.cudnn.benchmark is True and minidl.backends.cudnn.deterministic is True
        assert nn.Linear(2, 2)(minidl.ones(1, 2)).shape == (1, 2)  # no effect on computing
    finally:
        cudnn.benchmark, cudnn.deterministic = before


# ---- Module.to, cpu, cuda, apply, named_modules, buffers ----------------------------------------------
class _WithBuffers:
    """A linear layer with a float buffer and an integer buffer, in either library."""

    @staticmethod
    def make(lib):
        layer = lib.nn.Linear(3, 2)
        layer.register_buffer("running", lib.zeros(2))
        layer.register_buffer("steps", lib.zeros(1, dtype=lib.int64))
        return layer


def test_module_to_dtype_casts_floating_parameters_and_buffers_in_place_as_pytorch(torch):
    ours, theirs = _WithBuffers.make(minidl), _WithBuffers.make(torch)
    weight = ours.weight
    ours(minidl.ones(1, 3)).sum().backward()
    theirs(torch.ones(1, 3)).sum().backward()
    assert ours.to(minidl.float64) is ours
    theirs.to(torch.float64)
    assert ours.weight is weight and ours.weight.requires_grad  # the optimizer's parameter is still the model's
    for (name, a), (_, b) in zip(list(ours.named_parameters()) + list(ours.named_buffers()),
                                 list(theirs.named_parameters()) + list(theirs.named_buffers())):
        assert _name(a.dtype) == _name(b.dtype), name
    assert _name(ours.weight.grad.dtype) == _name(theirs.weight.grad.dtype) == "float64"
    assert ours(minidl.ones(1, 3, dtype=minidl.float64)).dtype == minidl.float64


def _name(dtype):
    return str(dtype).replace("torch.", "")


@pytest.mark.parametrize("cast", ["double", "float", "to tensor"])
def test_module_casts_by_name_or_by_tensor(cast):
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)).double()
    target = {"double": lambda m: m.double(), "float": lambda m: m.float(),
              "to tensor": lambda m: m.to(minidl.zeros(1))}[cast](model)
    expected = minidl.float32 if cast != "double" else minidl.float64
    assert target is model and {p.dtype for p in model.parameters()} == {np.dtype(expected)}


def test_module_to_an_integer_dtype_raises_as_pytorch(torch):
    with pytest.raises(TypeError) as theirs:
        torch.nn.Linear(2, 2).to(torch.int64)
    with pytest.raises(TypeError) as ours:
        nn.Linear(2, 2).to(minidl.int64)
    assert str(ours.value).split("dtype=")[0] == str(theirs.value).split("dtype=")[0]


@pytest.mark.parametrize("move", ["cpu", "cuda", "to"])
def test_module_moves_return_the_module_and_cuda_needs_a_gpu(move, backend):
    here = "cuda" if _on_gpu(backend) else "cpu"
    model = nn.Linear(2, 2)
    call = {"cpu": lambda d: model.cpu() if d == "cpu" else model.cuda(),
            "cuda": lambda d: model.cuda() if d == "cuda" else model.cpu(),
            "to": lambda d: model.to(minidl.device(d), minidl.float64)}[move]
    assert call(here) is model and model.weight.device.type == here
    if here == "cuda":
        assert call("cpu") is model and model.weight.device == minidl.device("cpu")
    else:
        with pytest.raises(RuntimeError, match="No CUDA GPUs are available"):
            call("cuda")


def _tree(lib):
    inner = lib.nn.Sequential(lib.nn.ReLU(), lib.nn.Linear(2, 2))
    return lib.nn.Sequential(lib.nn.Linear(2, 2), inner, lib.nn.Tanh())


def test_apply_visits_children_first_then_the_module_as_pytorch(torch):
    def visited(lib):
        order = []
        returned = _tree(lib).apply(lambda module: order.append(type(module).__name__))
        return order, type(returned).__name__

    assert visited(minidl) == visited(torch)


def test_apply_initializes_every_layer_of_a_type():
    model = _tree(minidl)

    def init(module):
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.weight)

    model.apply(init)
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    assert len(weights) == 2 and all(not p.detach().cpu().numpy().any() for p in weights)


@pytest.mark.parametrize("remove_duplicate", [True, False])
def test_named_modules_lists_a_shared_module_once_as_pytorch(remove_duplicate, torch):
    def names(lib):
        shared = lib.nn.Linear(2, 2)
        model = lib.nn.Sequential(shared, lib.nn.ReLU(), shared)
        return [name for name, _ in model.named_modules(remove_duplicate=remove_duplicate)]

    assert names(minidl) == names(torch)


def test_children_and_named_children_are_the_direct_submodules(torch):
    ours, theirs = _tree(minidl), _tree(torch)
    assert [type(m).__name__ for m in ours.children()] == [type(m).__name__ for m in theirs.children()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]


@pytest.mark.parametrize("name, value", [(3, "tensor"), ("a.b", "tensor"), ("", "tensor"), ("weight", "tensor"),
                                         ("extra", 5), ("extra", [1.0])])
def test_register_buffer_refuses_what_pytorch_refuses(name, value, torch):
    def register(lib):
        lib.nn.Linear(2, 2).register_buffer(name, lib.zeros(2) if value == "tensor" else value)

    with pytest.raises(Exception) as theirs:
        register(torch)
    with pytest.raises(Exception) as ours:
        register(minidl)
    assert type(ours.value) is type(theirs.value)


def test_buffers_follow_pytorchs_rules_for_persistence_none_and_reassignment(torch):
    def observe(lib):
        layer = lib.nn.Linear(2, 2)
        layer.register_buffer("kept", lib.zeros(2))
        layer.register_buffer("scratch", lib.ones(2), persistent=False)
        layer.register_buffer("unset", None)
        layer.kept = lib.ones(2)  # assigning a tensor to a buffer keeps it a buffer
        with pytest.raises(TypeError):
            layer.kept = 5
        return (sorted(layer.state_dict()), sorted(n for n, _ in layer.named_buffers()),
                float(layer.state_dict()["kept"].sum()), layer.unset is None, len(list(layer.buffers())))

    assert observe(minidl) == observe(torch)


def test_a_deleted_buffer_leaves_the_state_and_a_buffer_needs_init_first(torch):
    def observe(lib):
        layer = lib.nn.Linear(2, 2)
        layer.register_buffer("scratch", lib.ones(2), persistent=False)
        del layer.scratch
        layer.register_buffer("scratch", lib.ones(2))  # persistent again
        return sorted(layer.state_dict())

    class Early(minidl.nn.Module):
        def __init__(self):
            self.register_buffer("x", minidl.zeros(1))

    assert observe(minidl) == observe(torch)
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_a_model_with_a_non_persistent_buffer_loads_its_own_state_dict():
    model = nn.Linear(2, 2)
    model.register_buffer("scratch", minidl.ones(2), persistent=False)
    assert model.load_state_dict(model.state_dict()) == ([], [])


# ---- grad modes ----------------------------------------------------------------------------------------
def _mode_no_grad_bare_decorator(lib):
    @lib.no_grad
    def inside():
        return lib.is_grad_enabled()

    return inside(), lib.is_grad_enabled()


def _mode_no_grad_called_decorator(lib):
    @lib.no_grad()
    def inside():
        return lib.is_grad_enabled()

    return inside(), lib.is_grad_enabled()


def _mode_inference_block(lib):
    with lib.inference_mode():
        inside = (lib.is_grad_enabled(), lib.is_inference_mode_enabled())
    return inside, lib.is_grad_enabled(), lib.is_inference_mode_enabled()


def _mode_inference_bare_decorator(lib):
    @lib.inference_mode
    def inside():
        return lib.is_grad_enabled(), lib.is_inference_mode_enabled()

    return inside(), lib.is_inference_mode_enabled()


def _mode_inference_false_inside_no_grad(lib):
    with lib.no_grad(), lib.inference_mode(False):
        return lib.is_grad_enabled(), lib.is_inference_mode_enabled()


def _mode_inference_false_decorator(lib):
    @lib.inference_mode(mode=False)
    def inside():
        return lib.is_grad_enabled()

    with lib.no_grad():
        return inside(), lib.is_grad_enabled()


def _mode_enable_grad_inside_no_grad(lib):
    with lib.no_grad():
        with lib.enable_grad():
            inside = lib.is_grad_enabled()
        return inside, lib.is_grad_enabled()


def _mode_enable_grad_inside_inference(lib):
    with lib.inference_mode():
        with lib.enable_grad():
            inside = lib.is_grad_enabled()
        return inside, lib.is_inference_mode_enabled()


def _mode_set_grad_enabled_call(lib):
    lib.set_grad_enabled(False)
    after_call = lib.is_grad_enabled()
    lib.set_grad_enabled(True)
    return after_call, lib.is_grad_enabled()


def _mode_set_grad_enabled_block(lib):
    with lib.set_grad_enabled(False):
        inside = lib.is_grad_enabled()
    return inside, lib.is_grad_enabled()


def _mode_set_grad_enabled_decorator(lib):
    @lib.set_grad_enabled(False)
    def inside():
        return lib.is_grad_enabled()

    return lib.is_grad_enabled(), inside(), lib.is_grad_enabled()


def _mode_restored_after_an_exception(lib):
    try:
        with lib.inference_mode():
            raise KeyError("inside")
    except KeyError:
        pass
    return lib.is_grad_enabled(), lib.is_inference_mode_enabled()


def _mode_generator(lib):
    @lib.no_grad()
    def steps():
        for _ in range(2):
            yield lib.is_grad_enabled()

    generator = steps()
    first = next(generator)
    between = lib.is_grad_enabled()
    return first, between, list(generator)


def _mode_records_nothing(lib):
    w = lib.ones(2, requires_grad=True)
    with lib.inference_mode():
        y = w * 2
    with lib.set_grad_enabled(False):
        z = w * 2
    return y.requires_grad, y.grad_fn is None, z.requires_grad, (w * 2).requires_grad


MODES = {name[len("_mode_"):]: function for name, function in globals().items() if name.startswith("_mode_")}


@pytest.mark.parametrize("scenario", sorted(MODES))
def test_grad_modes_behave_as_pytorchs(scenario, torch):
    assert MODES[scenario](minidl) == MODES[scenario](torch)
    assert minidl.is_grad_enabled() and not minidl.is_inference_mode_enabled()


def test_set_grad_enabled_takes_only_a_bool_as_pytorch(torch):
    with pytest.raises(TypeError) as theirs:
        torch.set_grad_enabled("yes")
    with pytest.raises(TypeError) as ours:
        minidl.set_grad_enabled("yes")
    assert str(ours.value) == str(theirs.value) and minidl.is_grad_enabled()


def test_an_exception_thrown_into_a_decorated_generator_reaches_it():
    @minidl.no_grad()
    def steps():
        try:
            yield 1
        except ValueError:
            yield minidl.is_grad_enabled()

    generator = steps()
    next(generator)
    assert generator.throw(ValueError("stop")) is False and minidl.is_grad_enabled()
