"""Every library test runs once per backend: NumPy, the GPU-like simulated backend, and CuPy on a GPU.

The simulated backend refuses to mix host (NumPy) arrays with its own, as CuPy does, so a host/device
leak anywhere in the library fails the suite on a machine without a GPU. Under a GPU backend the CPU is
still there: ``x.cpu()`` is a NumPy tensor (``test_devices.py`` checks both devices and moves between them).
"""

import numpy as np
import pytest

import minidl


def _backends():
    names = ["numpy", "gpusim"]
    try:
        minidl.use_backend("cupy")
        names.append("cupy")
    except RuntimeError:
        pass
    return names


BACKENDS = _backends()


@pytest.fixture(params=BACKENDS, autouse=True)
def backend(request):
    """Select the backend for one test and seed it; restore NumPy afterwards."""
    minidl.use_backend(request.param)
    minidl.manual_seed(0)
    yield request.param
    minidl.use_backend("numpy")


@pytest.fixture
def torch():
    """PyTorch as the reference implementation; the test is skipped where it isn't installed."""
    return pytest.importorskip("torch", reason="PyTorch is not installed; parity tests need it")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def leaf(array, requires_grad=True):
    """A leaf tensor on the current backend from a host array (float64 stays float64)."""
    return minidl.tensor(np.asarray(array), requires_grad=requires_grad)


def error_of(call):
    """The exception ``call()`` raises, or None: for comparing minidl's error with PyTorch's."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the tests compare whatever was raised
        return error
    return None
