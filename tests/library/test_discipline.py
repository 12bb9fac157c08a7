"""Library modules take their array module from the backend; only the backend and host-side helpers
(data loading, saving) may import NumPy or CuPy."""

import ast
import collections
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
