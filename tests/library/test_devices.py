"""Per-tensor devices: copies between host and GPU, operations on either, mixing refused, models moved.

Under the "gpusim" backend (the simulated GPU, selected by the autouse fixture of conftest.py with
``minidl.use_backend("gpusim")``) new tensors are on "cuda:0" and ``.cpu()`` copies them to NumPy, so
every path between the two devices runs on a machine without a GPU. Under "numpy" there is no GPU:
"cuda" raises, and the tests of moves check that instead.
"""

import numpy as np
import pytest

import minidl
from minidl import nn

CPU, CUDA = minidl.device("cpu"), minidl.device("cuda", 0)


@pytest.fixture
def gpu(backend):
    """Skip where no GPU backend is in use (the NumPy run): only there is "cuda" a device."""
    if backend == "numpy":
        pytest.skip("the NumPy backend has no GPU; moves to cuda are tested under gpusim and cupy")
    return backend


# ---- where a tensor lives ------------------------------------------------------------------------------
def test_a_tensor_reports_its_arrays_device(backend):
    x = minidl.randn(2, 3)
    assert x.device == (CPU if backend == "numpy" else CUDA) and x.is_cuda is (backend != "numpy")
    assert x.cpu().device == CPU and not x.cpu().is_cuda


@pytest.mark.parametrize("make", ["zeros", "ones", "randn", "arange", "tensor", "full"])
def test_factories_make_tensors_on_the_device_asked_for(make, backend):
    call = {"zeros": lambda d: minidl.zeros(2, device=d), "ones": lambda d: minidl.ones(2, device=d),
            "randn": lambda d: minidl.randn(2, device=d), "arange": lambda d: minidl.arange(3, device=d),
            "tensor": lambda d: minidl.tensor([1.0, 2.0], device=d), "full": lambda d: minidl.full((2,), 7.0, device=d)}[make]
    assert call("cpu").device == CPU and call(None).device == minidl.get_default_device()
    if backend != "numpy":
        assert call("cuda").device == CUDA


def test_cuda_without_a_gpu_backend_raises(backend):
    if backend != "numpy":
        pytest.skip("a GPU backend is in use")
    for call in (lambda: minidl.ones(2).cuda(), lambda: minidl.ones(2, device="cuda"), lambda: nn.Linear(2, 2).to("cuda")):
        with pytest.raises(RuntimeError, match="No CUDA GPUs are available"):
            call()


# ---- copies ------------------------------------------------------------------------------------------
def test_cpu_copies_a_gpu_tensor_to_numpy_and_cuda_copies_it_back(gpu):
    x = minidl.tensor([1.0, -2.0, 3.0])
    host = x.cpu()
    assert type(host.data) is np.ndarray and host.device == CPU
    np.testing.assert_array_equal(host.numpy(), [1.0, -2.0, 3.0])
    back = host.cuda()
    assert back.device == CUDA and back.tolist() == [1.0, -2.0, 3.0]
    host.data[0] = 9.0  # a copy, not a view: the GPU tensor keeps its value
    assert x.tolist()[0] == 1.0


def test_numpy_of_a_gpu_tensor_raises_pytorchs_message_and_cpu_numpy_works(gpu, torch):
    x = minidl.ones(2)
    with pytest.raises(TypeError) as ours:
        x.numpy()
    assert str(ours.value) == ("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
                               "tensor to host memory first.")
    np.testing.assert_array_equal(x.cpu().numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(minidl.to_numpy(x), [1.0, 1.0])  # minidl's helper copies from any device


@pytest.mark.parametrize("move", ["cpu()", "to('cpu')", "to(device)", "to(tensor)"])
def test_gradients_flow_back_across_a_copy(move, gpu, torch):
    values = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = minidl.tensor(values, requires_grad=True)
    host = {"cpu()": lambda t: t.cpu(), "to('cpu')": lambda t: t.to("cpu"), "to(device)": lambda t: t.to(CPU),
            "to(tensor)": lambda t: t.to(minidl.zeros(1, dtype=minidl.float64, device="cpu"))}[move](x)
    assert host.device == CPU and host.grad_fn.name() == "ToCopyBackward0"
    (host.tanh() * host).sum().backward()
    assert x.grad.device == CUDA
    t = torch.tensor(values, requires_grad=True)
    (t.tanh() * t).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), t.grad.numpy(), rtol=1e-12)


def test_a_round_trip_through_the_host_passes_the_gradient_unchanged(gpu):
    x = minidl.randn(3, 4, dtype=minidl.float64, requires_grad=True)
    assert minidl.gradcheck(lambda t: (t.cpu().exp().cuda() * t).sum(-1), x)


def test_a_copy_under_no_grad_is_out_of_the_graph(gpu):
    x = minidl.ones(2, requires_grad=True)
    with minidl.no_grad():
        host = x.cpu()
    assert host.grad_fn is None and not host.requires_grad


# ---- computing on the CPU while a GPU is the default device ------------------------------------------
def test_cpu_tensors_compute_and_differentiate_with_numpy(gpu, torch):
    a = minidl.randn(4, 3, device="cpu", requires_grad=True)
    b = minidl.randn(3, 2, device="cpu", requires_grad=True)
    out = ((a @ b).relu() + a.sum(0)[:2] * 0.5).softmax(-1).log().mean()
    out.backward()
    assert out.device == CPU and a.grad.device == CPU and b.grad.device == CPU
    ta = torch.tensor(a.detach().numpy(), requires_grad=True)
    tb = torch.tensor(b.detach().numpy(), requires_grad=True)
    ((ta @ tb).relu() + ta.sum(0)[:2] * 0.5).softmax(-1).log().mean().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("function", ["cross_entropy", "dropout", "conv2d", "max_pool2d", "layer_norm", "cat", "index"])
def test_functional_operations_run_on_cpu_tensors_under_a_gpu_default(function, gpu):
    F = nn.functional
    x = minidl.randn(2, 3, 4, 4, device="cpu", requires_grad=True)
    out = {"cross_entropy": lambda: F.cross_entropy(x.flatten(1)[:, :5], minidl.tensor([1, 4], device="cpu")),
           "dropout": lambda: F.dropout(x, 0.5, training=True),
           "conv2d": lambda: F.conv2d(x, minidl.randn(2, 3, 3, 3, device="cpu"), padding=1),
           "max_pool2d": lambda: F.max_pool2d(x, 2),
           "layer_norm": lambda: F.layer_norm(x, (4,)),
           "cat": lambda: minidl.cat([x, x * 2], dim=1),
           "index": lambda: x[minidl.tensor([1, 0], device="cpu"), :, [0, 3]]}[function]()
    out.sum().backward()
    assert out.device == CPU and x.grad.device == CPU and x.grad.shape == x.shape


# ---- mixing devices ----------------------------------------------------------------------------------
MESSAGE = "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"


@pytest.mark.parametrize("operation", ["add", "radd", "mul", "matmul", "maximum", "where", "cat", "lt"])
def test_mixing_devices_raises_pytorchs_message(operation, gpu, torch):
    call = {"add": lambda lib, a, b: a + b, "radd": lambda lib, a, b: b + a, "mul": lambda lib, a, b: a * b,
            "matmul": lambda lib, a, b: a @ b, "maximum": lambda lib, a, b: lib.maximum(a, b),
            "where": lambda lib, a, b: lib.where(b > 0, a, b), "cat": lambda lib, a, b: lib.cat([a, b]),
            "lt": lambda lib, a, b: a < b}[operation]
    with pytest.raises(RuntimeError) as ours:
        call(minidl, minidl.ones(2, 2), minidl.ones(2, 2, device="cpu"))
    assert str(ours.value) == MESSAGE
    if torch.cuda.is_available():  # the same words as PyTorch's, where a GPU lets it say them
        with pytest.raises(RuntimeError) as theirs:
            call(torch, torch.ones(2, 2, device="cuda"), torch.ones(2, 2))
        assert str(theirs.value) == MESSAGE


def test_a_number_or_a_0d_cpu_tensor_mixes_with_a_gpu_tensor_as_in_pytorch(gpu):
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    scale = minidl.tensor(3.0, device="cpu", requires_grad=True)
    out = (x * scale + 1.0) * minidl.tensor(2, device="cpu")
    assert out.device == CUDA and out.tolist() == [8.0, 14.0]
    out.sum().backward()
    assert scale.grad.device == CPU and scale.grad.item() == 6.0 and x.grad.tolist() == [6.0, 6.0]


def test_copy_into_a_tensor_crosses_devices_as_pytorchs_copy_(gpu):
    x = minidl.zeros(3)
    x.copy_(minidl.tensor([1.0, 2.0, 3.0], device="cpu"))
    assert x.device == CUDA and x.tolist() == [1.0, 2.0, 3.0]


# ---- models on either device -------------------------------------------------------------------------
def _model():
    return nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def test_model_to_moves_parameters_buffers_and_gradients_in_place(gpu):
    model = _model()
    weight = model[0].weight
    model(minidl.randn(4, 3)).sum().backward()
    assert model.to("cpu") is model and model[0].weight is weight  # an optimizer's parameters stay the model's
    assert {p.device for p in model.parameters()} == {CPU} and {b.device for b in model.buffers()} == {CPU}
    assert {p.grad.device for p in model.parameters()} == {CPU}
    model.cuda()
    assert {p.device for p in model.parameters()} == {CUDA} and {b.device for b in model.buffers()} == {CUDA}


@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "RMSprop"])
def test_training_on_cpu_tensors_under_a_gpu_default_matches_training_on_the_gpu(optimizer, gpu):
    def train(device, steps=5):
        minidl.manual_seed(3)
        model = _model()
        opt = getattr(minidl.optim, optimizer)(model.parameters(), lr=0.05, **({"momentum": 0.9} if optimizer == "SGD" else {}))
        opt.zero_grad()
        model.to(device)
        inputs = minidl.randn(16, 3).to(device)
        targets = (inputs.sum(1) > 0).long()
        for _ in range(steps):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(inputs), targets)
            loss.backward()
            opt.step()
        assert loss.device.type == device and all(p.device.type == device for p in model.parameters())
        return loss.item(), [minidl.to_numpy(p.detach()) for p in model.parameters()]

    (cpu_loss, cpu_params), (gpu_loss, gpu_params) = train("cpu"), train("cuda")
    assert cpu_loss == pytest.approx(gpu_loss, rel=1e-5)
    for a, b in zip(cpu_params, gpu_params):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_optimizer_state_follows_its_parameter_to_another_device(gpu):
    model = nn.Linear(3, 1)
    opt = minidl.optim.Adam(model.parameters(), lr=0.1)
    for device in ("cuda", "cpu", "cuda"):
        model.to(device)
        opt.zero_grad()
        model(minidl.ones(2, 3, device=device)).sum().backward()
        opt.step()
        assert all(minidl.backend.on_gpu(v) == (device == "cuda")
                   for state in opt.state.values() for v in state.values() if minidl.backend.is_array(v))


# ---- checkpoints -------------------------------------------------------------------------------------
@pytest.mark.parametrize("saved_on, loaded_on", [("cuda", "cpu"), ("cpu", "cuda"), ("cpu", None), ("cuda", None)])
def test_a_checkpoint_saved_on_one_device_loads_on_the_other(saved_on, loaded_on, gpu, tmp_path):
    model = _model().to(saved_on)
    path = tmp_path / "model.npz"
    minidl.save(model.state_dict(), path)
    state = minidl.load(path, map_location=loaded_on)
    assert {t.device.type for t in state.values()} == {loaded_on or minidl.get_default_device().type}
    other = _model().to("cpu" if saved_on == "cuda" else "cuda")
    other.load_state_dict(state)  # copied onto the model's own device, as PyTorch's copy_
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert b.device != a.device
        np.testing.assert_array_equal(minidl.to_numpy(a), minidl.to_numpy(b), err_msg=name)


@pytest.mark.parametrize("make", ["zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "randint_like"])
def test_a_like_factory_makes_its_result_on_the_inputs_device(make, gpu):
    call = {"zeros_like": minidl.zeros_like, "ones_like": minidl.ones_like, "full_like": lambda x: minidl.full_like(x, 2.0),
            "rand_like": minidl.rand_like, "randn_like": minidl.randn_like,
            "randint_like": lambda x: minidl.randint_like(x, 5)}[make]
    assert call(minidl.ones(2, device="cpu")).device == CPU and call(minidl.ones(2)).device == CUDA


def test_a_gradient_on_another_device_cannot_be_assigned(gpu, torch):
    x = minidl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Please ensure that the gradient and the tensor are on the same device"):
        x.grad = minidl.ones(2, device="cpu")
    x.grad = minidl.ones(2)
    assert x.grad.device == CUDA
