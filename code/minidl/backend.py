"""The array backend: NumPy on the CPU, CuPy on a GPU, and a simulated GPU for tests.

Every array the library computes with comes from here. Library code asks ``xp(*arrays)`` for the
array module of the arrays it computes on (``xp()`` alone: the default device's, for new arrays)
instead of importing NumPy or CuPy, so the same code runs on either, and a CPU tensor computes with
NumPy while a GPU is the default device. The few operations the
two spell differently (scatter-add, sliding windows, random draws) live here, once.

The ``"gpusim"`` backend is NumPy dressed up as a GPU: its arrays refuse to meet plain NumPy arrays,
as CuPy's do, so a test suite run under it catches host/device mix-ups on a machine without a GPU.

The backend chosen with ``use_backend`` (or ``MINIDL_BACKEND``) is the default device, where new
tensors are made, and, when it is a GPU's, what ``"cuda"`` means; the CPU's NumPy backend (``host()``)
is always there too, so a tensor lives on either (see ``minidl.device``).
"""

import os

import numpy

float32 = numpy.float32
float64 = numpy.float64
int64 = numpy.int64
bool_ = numpy.bool_

_BACKEND_NAMES = ("numpy", "cupy", "gpusim")


class Backend:
    """One array library, and how to move arrays to and from the host (the CPU's memory)."""

    name = "numpy"

    def __init__(self):
        self.xp = numpy
        self.host_rng = numpy.random.default_rng(0)
        self.device_rng = self.host_rng

    def seed(self, seed):
        self.host_rng = numpy.random.default_rng(seed)
        self.device_rng = self.host_rng

    def from_host(self, array, dtype=None):
        """A backend array holding a copy of (or, on the CPU, a view of) host data."""
        return numpy.asarray(array, dtype=dtype)

    def to_host(self, array):
        return numpy.asarray(array)

    def is_array(self, obj):
        return isinstance(obj, numpy.ndarray)

    def scatter_add(self, target, indices, values):
        """``target[indices] += values``, adding once per repeated index (unlike ``+=``)."""
        numpy.add.at(target, indices, values)

    def sliding_window_view(self, array, window_shape, axis):
        return numpy.lib.stride_tricks.sliding_window_view(array, window_shape, axis=axis)

    def uniform(self, shape, dtype):
        """Uniform draws in [0, 1) made on the device (dropout masks, sampling)."""
        return self.device_rng.random(shape, dtype=dtype)

    def normal(self, shape, dtype):
        return self.device_rng.standard_normal(shape, dtype=dtype)


class CupyBackend(Backend):
    """CuPy on an NVIDIA GPU; host arrays cross over only through ``from_host``/``to_host``."""

    name = "cupy"

    def __init__(self):
        try:
            import cupy
        except ImportError as error:
            raise RuntimeError(
                "backend 'cupy' needs the CuPy package and an NVIDIA GPU: install it with "
                "`pip install cupy-cuda12x` (or cupy-cuda13x), or use backend 'numpy'"
            ) from error
        try:
            cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # CUDA raises its own error types when no driver or GPU is present
            raise RuntimeError(f"backend 'cupy' found no usable GPU: {error}") from error
        import cupyx

        self.xp = cupy
        self._cupyx = cupyx
        self.seed(0)

    def seed(self, seed):
        self.host_rng = numpy.random.default_rng(seed)
        self.device_rng = self.xp.random.RandomState(seed)

    def from_host(self, array, dtype=None):
        return self.xp.asarray(array, dtype=dtype)

    def to_host(self, array):
        return self.xp.asnumpy(array)

    def is_array(self, obj):
        return isinstance(obj, self.xp.ndarray)

    def scatter_add(self, target, indices, values):
        self._cupyx.scatter_add(target, indices, values)

    def sliding_window_view(self, array, window_shape, axis):
        return self.xp.lib.stride_tricks.sliding_window_view(array, window_shape, axis=axis)

    def uniform(self, shape, dtype):
        return self.device_rng.random_sample(shape, dtype=dtype)

    def normal(self, shape, dtype):
        return self.device_rng.standard_normal(shape, dtype=dtype)


class DeviceArray(numpy.ndarray):
    """A NumPy array that behaves like a CuPy array: it refuses to be mixed with host arrays."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        _refuse_host_arrays(inputs, f"numpy.{ufunc.__name__}")
        if out is not None:
            _refuse_host_arrays(out, f"numpy.{ufunc.__name__}(out=...)")
            kwargs["out"] = tuple(_plain(o) for o in out)
        result = getattr(ufunc, method)(*(_plain(i) for i in inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _to_device(result)

    def __array_function__(self, func, types, args, kwargs):
        _refuse_host_arrays((args, kwargs), f"numpy.{func.__name__}")
        return _to_device(func(*_plain(args), **_plain(kwargs)))

    def __setitem__(self, index, value):
        _refuse_host_arrays((value,), "item assignment")
        super().__setitem__(_plain(index), _plain(value))

    def __getitem__(self, index):
        _refuse_host_arrays((index,), "indexing")
        return _to_device(super().__getitem__(_plain(index)))


ARRAY_TYPES = frozenset((numpy.ndarray, DeviceArray))  # the CPU's and the simulated GPU's array types (CuPy loads lazily)


def _is_host_array(obj):
    return isinstance(obj, numpy.ndarray) and not isinstance(obj, DeviceArray)


def _refuse_host_arrays(objects, where):
    for obj in objects:
        if isinstance(obj, (tuple, list)):
            _refuse_host_arrays(obj, where)
        elif isinstance(obj, dict):
            _refuse_host_arrays(tuple(obj.values()), where)
        elif _is_host_array(obj):
            raise TypeError(
                f"{where}: a host (NumPy) array met a device array; copy one to the other's device first "
                "(Tensor.to(device), or a backend's from_host/to_host for arrays), as CuPy requires"
            )


def _plain(obj):
    """Strip the DeviceArray class so NumPy computes as usual underneath."""
    if isinstance(obj, DeviceArray):
        return obj.view(numpy.ndarray)
    if isinstance(obj, tuple):
        return tuple(_plain(o) for o in obj)
    if isinstance(obj, list):
        return [_plain(o) for o in obj]
    if isinstance(obj, dict):
        return {key: _plain(value) for key, value in obj.items()}
    return obj


def _to_device(result):
    if isinstance(result, numpy.ndarray):
        return result.view(DeviceArray)
    if isinstance(result, numpy.generic):  # CuPy keeps a reduction's result a 0-d array on the device
        return numpy.asarray(result).view(DeviceArray)
    if isinstance(result, tuple):
        return tuple(_to_device(r) for r in result)
    if isinstance(result, list):
        return [_to_device(r) for r in result]
    return result


class _SimulatedDeviceModule:
    """NumPy's namespace, but every array it hands out is a DeviceArray (like ``cupy``)."""

    ndarray = DeviceArray

    def __getattr__(self, name):
        attribute = getattr(numpy, name)
        if isinstance(attribute, (type, numpy.ufunc)) or not callable(attribute):
            return attribute  # dtypes, constants; ufuncs dispatch through DeviceArray itself
        if name in ("asarray", "array", "ascontiguousarray"):
            return lambda *args, **kwargs: _to_device(attribute(*_plain(args), **_plain(kwargs)))

        def on_device(*args, **kwargs):
            _refuse_host_arrays((args, kwargs), f"numpy.{name}")
            return _to_device(attribute(*_plain(args), **_plain(kwargs)))

        return on_device

    @staticmethod
    def asnumpy(array):
        return numpy.array(_plain(array))


MODULE_TYPES = (type(numpy), _SimulatedDeviceModule)  # what ``xp()`` returns: array modules, never arrays


class SimulatedGPUBackend(Backend):
    """NumPy computing, CuPy manners: used by the tests to catch host/device leaks without a GPU."""

    name = "gpusim"

    def __init__(self):
        super().__init__()
        self.xp = _SimulatedDeviceModule()

    def from_host(self, array, dtype=None):
        if isinstance(array, DeviceArray):
            raise TypeError("from_host: the array is already on the device")
        return numpy.array(array, dtype=dtype).view(DeviceArray)

    def to_host(self, array):
        if _is_host_array(array):
            raise TypeError("to_host: the array is already on the host")
        return numpy.array(_plain(array))

    def is_array(self, obj):
        return isinstance(obj, DeviceArray)

    def scatter_add(self, target, indices, values):
        _refuse_host_arrays((indices, values), "scatter_add")
        numpy.add.at(_plain(target), _plain(indices), _plain(values))

    def sliding_window_view(self, array, window_shape, axis):
        view = numpy.lib.stride_tricks.sliding_window_view(_plain(array), window_shape, axis=axis)
        return view.view(DeviceArray)

    def uniform(self, shape, dtype):
        return super().uniform(shape, dtype).view(DeviceArray)

    def normal(self, shape, dtype):
        return super().normal(shape, dtype).view(DeviceArray)


_FACTORIES = {"numpy": Backend, "cupy": CupyBackend, "gpusim": SimulatedGPUBackend}
_current = None  # the default device's backend: where new tensors are made
_host = None  # the CPU's backend (NumPy), always there
_gpus = {}  # the GPU backends made so far, by name: arrays already on a GPU keep finding theirs


def use_backend(name):
    """Make backend ``name`` the default device: where every new tensor is made from now on.

    ``"numpy"`` (the default: new tensors on ``cpu``), ``"cupy"`` (an NVIDIA GPU: new tensors on
    ``cuda:0``) or ``"gpusim"`` (NumPy behaving like a GPU, which plays ``cuda:0`` in the tests). A GPU
    backend also becomes what ``"cuda"`` means for ``Tensor.to``; the CPU (NumPy) is always there.
    Tensors made before the switch stay where they are. Seeds every random draw with 0 again.
    """
    global _current, _host
    if name not in _FACTORIES:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(_BACKEND_NAMES)}")
    _current = _FACTORIES[name]()
    if name == "numpy":
        _host = _current
    else:
        _host = Backend()
        _gpus[name] = _current
    return _current


def current():
    """The backend of the default device, created on first use from ``MINIDL_BACKEND`` (default ``numpy``).

    Taught in "Vanishing and exploding gradients" (book/part2/vanishing_gradients.md) and "Long short-term memory" (book/part2/lstm.md).
    """
    if _current is None:
        use_backend(os.environ.get("MINIDL_BACKEND", "numpy"))
    return _current


def host():
    """The CPU's backend (NumPy): where ``Tensor.cpu()`` puts a tensor, whatever the default device."""
    if _host is None:
        current()
    return _host


def gpu():
    """The GPU's backend, the default device's when that is a GPU (CuPy or the simulated one), else None."""
    backend = current()
    return None if backend is _host else backend


def of(*arrays):
    """The backend that owns ``arrays``: a GPU's if any of them lives on one, else the CPU's.

    Host NumPy arrays, NumPy scalars and Python numbers belong to the CPU; CuPy arrays to CuPy;
    the simulated GPU's arrays to it. Operations take their array module from here, so a tensor
    computes on its own device whatever the default device is. Every operation asks, so the answer
    for each type is worked out once and remembered (``_DEVICE_OF_TYPE``): a host array costs one
    dictionary look-up.
    """
    for array in arrays:
        gpu_name = _gpu_name_of(type(array))
        if gpu_name is not None:
            return _gpu_named(gpu_name)
    return _host if _host is not None else host()


_DEVICE_OF_TYPE = {}  # type of an array (or number) -> name of the GPU backend that owns it, None for the CPU


def _gpu_name_of(kind):
    """``"gpusim"`` for the simulated GPU's arrays, ``"cupy"`` for CuPy's, None for anything on the host."""
    try:
        return _DEVICE_OF_TYPE[kind]
    except KeyError:
        pass
    if issubclass(kind, DeviceArray):
        name = "gpusim"
    elif kind.__module__.startswith("cupy"):
        name = "cupy"
    else:
        name = None
    _DEVICE_OF_TYPE[kind] = name
    return name


def _gpu_named(name):
    if name not in _gpus:
        _gpus[name] = _FACTORIES[name]()
    return _gpus[name]


def is_array(obj):
    """True for an array of any device (a host NumPy array, a CuPy array, a simulated GPU array)."""
    return isinstance(obj, numpy.ndarray) or type(obj).__module__.startswith("cupy")


def on_gpu(array):
    """True when ``array`` lives on a GPU (CuPy, or the simulated GPU of the tests)."""
    return _gpu_name_of(type(array)) is not None


def xp(*arrays):
    """The array module to compute with: that of ``arrays`` (see ``of``), or with none given the
    default device's (``numpy``, ``cupy`` or the simulated GPU), for making new arrays."""
    if arrays:
        return of(*arrays).xp
    return (_current if _current is not None else current()).xp


def check_generator(generator, caller):
    """``generator`` if it is None or a NumPy ``Generator`` (seeded draws on the host), else TypeError naming ``caller``."""
    if generator is not None and not isinstance(generator, numpy.random.Generator):
        raise TypeError(
            f"{caller}: generator must be a NumPy Generator such as numpy.random.default_rng(0), "
            f"got {type(generator).__name__} {generator!r}"
        )
    return generator


def host_generator(seed):
    """A private NumPy generator, for draws that must not disturb the library's seeded stream."""
    return numpy.random.default_rng(seed)


def manual_seed(seed):
    """Seed every random draw the library makes (initialization, dropout, shuffling).

    Every device's generator is seeded: the default device's, the CPU's and any GPU's.

    Taught in "The perceptron" (book/part1/perceptron.md).
    """
    current().seed(seed)
    for backend in (_host, *_gpus.values()):
        if backend is not _current:
            backend.seed(seed)
