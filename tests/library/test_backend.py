"""The backend: switching, seeding, host transfers, and the simulated GPU's refusal to mix arrays."""

import numpy as np
import pytest

import minidl
from minidl import backend as B


def test_unknown_backend_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown backend 'tpu'.*numpy, cupy, gpusim"):
        minidl.use_backend("tpu")


def test_cupy_without_cupy_gives_a_clear_error():
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    with pytest.raises(RuntimeError, match="pip install cupy-cuda12x"):
        minidl.use_backend("cupy")


def test_environment_variable_selects_the_backend(monkeypatch):
    monkeypatch.setattr(B, "_current", None)
    monkeypatch.setenv("MINIDL_BACKEND", "gpusim")
    assert B.current().name == "gpusim"


def test_tensor_data_lives_on_the_backend(backend):
    t = minidl.tensor([1.0, 2.0])
    assert B.current().is_array(t.data)
    assert isinstance(minidl.to_numpy(t), np.ndarray)
    assert type(minidl.to_numpy(t)) is np.ndarray


def test_manual_seed_repeats_every_draw():
    minidl.manual_seed(7)
    first = (minidl.randn(3).cpu().numpy(), minidl.nn.Linear(2, 2).weight.detach().cpu().numpy())
    minidl.manual_seed(7)
    second = (minidl.randn(3).cpu().numpy(), minidl.nn.Linear(2, 2).weight.detach().cpu().numpy())
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_initialization_is_the_same_on_every_backend():
    weights = {}
    for name in ("numpy", "gpusim"):
        minidl.use_backend(name)
        minidl.manual_seed(3)
        weights[name] = minidl.nn.Linear(5, 4).weight.detach().cpu().numpy()
    np.testing.assert_array_equal(weights["numpy"], weights["gpusim"])


def test_simulated_gpu_refuses_host_arrays_in_arithmetic():
    minidl.use_backend("gpusim")
    device = B.xp().ones(3)
    with pytest.raises(TypeError, match="host"):
        device + np.ones(3)
    with pytest.raises(TypeError, match="host"):
        B.xp().concatenate([device, np.ones(3)])
    with pytest.raises(TypeError, match="host"):
        device[...] = np.zeros(3)
    assert float((device + 2.0).sum()) == 9.0  # Python scalars are fine, as in CuPy


def test_simulated_gpu_refuses_host_arrays_inside_tensor_ops():
    minidl.use_backend("gpusim")
    t = minidl.tensor([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="host"):
        t.data * np.ones(3)


def test_host_transfer_round_trip(backend):
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    device = B.current().from_host(host)
    np.testing.assert_array_equal(B.current().to_host(device), host)
