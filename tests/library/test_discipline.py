"""Library modules take their array module from the backend; only the backend and host-side helpers
(data loading, saving) may import NumPy or CuPy."""

import ast
import collections
import fnmatch
import pathlib
import re

import minidl

PACKAGE = pathlib.Path(minidl.__file__).parent
HOST_SIDE = ("backend.py", "serialization.py", "data/")  # data/ loads and generates data sets on the host
IMPORT = re.compile(r"^\s*(import (numpy|cupy)|from (numpy|cupy)[ .])", re.MULTILINE)


def test_only_the_backend_and_host_helpers_import_numpy_or_cupy():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if not str(path.relative_to(PACKAGE)).startswith(HOST_SIDE) and IMPORT.search(path.read_text())
    ]
    assert offenders == []


def test_no_test_module_defines_a_function_twice():
    """A second definition silently replaces the first, which then never runs."""
    tests = pathlib.Path(__file__).resolve().parents[1]
    repeated = []
    for path in sorted(tests.rglob("*.py")):
        names = collections.Counter(
            node.name for node in ast.parse(path.read_text()).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        )
        repeated += [f"{path.relative_to(tests)}: {name}" for name, count in names.items() if count > 1]
    assert repeated == []


# ---- layering --------------------------------------------------------------------------------------
# The package's layers, lowest first (the package docstring and CONTRIBUTING.md say the same in words).
# A module may import modules of its own layer or of layers below it, never above; imports form no cycle.
LAYERS = [
    ["backend"],
    ["device"],  # minidl.device, minidl.cuda, minidl.backends: the current backend's device
    ["autograd"],
    ["tensor.base"],
    ["tensor.shapes", "tensor.promotion", "tensor.printing"],
    ["tensor.arithmetic", "tensor.reductions", "tensor.elementwise", "tensor.shaping", "tensor.inplace"],
    ["tensor.core"],
    ["tensor.functions", "tensor.torch_functions"],
    ["tensor"],
    ["creation", "gradcheck", "serialization", "sampling", "distributions", "data", "data.*", "utils", "utils.*",
     "vision", "vision.*"],
    ["nn.functional.checks"],
    ["nn.functional.*"],
    ["nn.functional"],
    ["nn.init", "nn.module", "nn.utils"],
    ["nn.activation", "nn.linear", "nn.dropout", "nn.normalization", "nn.embedding", "nn.loss", "nn.conv",
     "nn.pooling", "nn.recurrent", "nn.attention", "nn.upsampling"],
    ["nn.transformer", "nn.container", "nn.lora"],
    ["nn"],
    ["models", "models.*"],  # whole models built from nn's layers (the GPT of Part 6)
    ["optim"],
    ["train", "counting"],
    ["metrics", "metrics.*", "uncertainty", "diffusion", "rl", "rl.*"],  # methods of Parts 4-6 on trained models
    [""],  # minidl itself
    ["as_torch"],  # runs PyTorch code on minidl: above everything
]


def _module_names():
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


MODULES = _module_names()


def _layer(name):
    for rank, patterns in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
            return rank
    raise AssertionError(f"minidl.{name} is in no layer of LAYERS: add it where it belongs")


def _imports(name):
    """(imported module, line, at module level?) for every import of a minidl module in ``name``."""
    found = []
    tree = ast.parse(MODULES[name].read_text())
    top_level = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from minidl.nn import functional" imports the module minidl.nn.functional
            targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}"[7:] in MODULES else node.module
                       for a in node.names]
        else:
            continue
        for target in targets:
            if target == "minidl" or target.startswith("minidl."):
                found.append((target[7:], node.lineno, id(node) in top_level))
    return found


def test_every_module_has_a_layer_and_imports_only_downward():
    upward = [
        f"minidl.{name}:{line} imports minidl.{target}"
        for name in MODULES for target, line, _ in _imports(name)
        if _layer(target) > _layer(name)
    ]
    assert upward == []


def test_the_library_imports_no_module_of_its_own_inside_a_function():
    late = [f"minidl.{name}:{line} imports minidl.{target}" for name in MODULES
            for target, line, top in _imports(name) if not top]
    assert late == []


def test_imports_form_no_cycle():
    graph = {name: {target for target, _, _ in _imports(name) if target != name} for name in MODULES}
    visiting, done, cycles = set(), set(), []

    def visit(name, path):
        if name in done:
            return
        if name in visiting:
            cycles.append(" -> ".join(path[path.index(name):] + [name]))
            return
        visiting.add(name)
        for target in sorted(graph.get(name, ())):
            visit(target, path + [name])
        visiting.discard(name)
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert cycles == []


def test_every_module_is_of_a_readable_size_and_says_its_job():
    too_long = [f"minidl.{name}: {len(path.read_text().splitlines())} lines" for name, path in MODULES.items()
                if len(path.read_text().splitlines()) > 600]
    undocumented = [f"minidl.{name}" for name, path in MODULES.items() if not ast.get_docstring(ast.parse(path.read_text()))]
    assert too_long == [] and undocumented == []
