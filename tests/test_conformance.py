"""PyTorch programs written the way a beginner writes them, run once on PyTorch and once on minidl
(``python -m minidl.as_torch program.py``): each must print the same shapes, values and losses.

The programs live in ``tests/conformance/``. The torch names they use, at module level (methods of
tensors and modules are checked by running them):

`torch.abs`, `torch.add`, `torch.arange`, `torch.argmax`, `torch.backends`, `torch.backends.cudnn`,
`torch.cat`, `torch.clamp`, `torch.cos`, `torch.cuda`, `torch.cuda.is_available`, `torch.device`,
`torch.distributions.Bernoulli`, `torch.distributions.Categorical`, `torch.distributions.Normal`,
`torch.distributions.kl_divergence`, `torch.exp`, `torch.float32`, `torch.from_numpy`, `torch.full`,
`torch.int64`, `torch.linspace`, `torch.matmul`, `torch.max`, `torch.mean`, `torch.mul`,
`torch.multinomial`, `torch.nn.BatchNorm1d`, `torch.nn.Conv2d`, `torch.nn.CrossEntropyLoss`,
`torch.nn.Dropout`, `torch.nn.Embedding`, `torch.nn.Flatten`, `torch.nn.LSTM`, `torch.nn.Linear`,
`torch.nn.MaxPool2d`, `torch.nn.Module`, `torch.nn.ReLU`, `torch.nn.Sequential`, `torch.nn.Tanh`,
`torch.nn.functional`, `torch.nn.functional.binary_cross_entropy_with_logits`,
`torch.nn.functional.relu`, `torch.no_grad`, `torch.optim`, `torch.optim.Adam`, `torch.optim.SGD`,
`torch.randn_like`, `torch.sigmoid`, `torch.sin`, `torch.softmax`, `torch.stack`, `torch.sum`,
`torch.tensor`, `torch.transpose`, `torch.unsqueeze`, `torch.utils.data.DataLoader`,
`torch.utils.data.TensorDataset`, `torch.where`, `torch.zeros`, `torch.zeros_like`

Of these, minidl lacks: none (``test_minidl_has_every_name_the_programs_use`` keeps it so).
"""

import ast
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import minidl.as_torch

HERE = Path(__file__).resolve().parent
PROGRAMS = sorted((HERE / "conformance").glob("*.py"))
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def names_used():
    """Dotted torch names the programs use: ``torch.X``, ``nn.X``, ``F.X`` and ``from torch... import X``."""
    aliases = {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional"}
    found = set()
    for program in PROGRAMS:
        tree = ast.parse(program.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("torch"):
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                found.add(f"{aliases[node.value.id]}.{node.attr}")
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                  and isinstance(node.value.value, ast.Name) and node.value.value.id == "torch"):
                found.add(f"torch.{node.value.attr}.{node.attr}")
    return sorted(found)


def _resolve(dotted):
    """The object a dotted torch name stands for on minidl, or None."""
    mapping = minidl.as_torch.modules()
    module_name, _, attribute = dotted.rpartition(".")
    module = mapping.get(module_name)
    if module is None:
        parent, _, child = module_name.rpartition(".")
        module = getattr(mapping.get(parent), child, None)
    return getattr(module, attribute, None) if module is not None else None


def test_the_docstring_lists_the_names_the_programs_use():
    listed = re.findall(r"`(torch[\w.]*)`", __doc__.split("at module level")[1].split("Of these")[0])
    assert listed == names_used()


def test_minidl_has_every_name_the_programs_use():
    assert [name for name in names_used() if _resolve(name) is None] == []


def _run(arguments, folder):
    environment = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True, timeout=300,
                          cwd=folder, env=environment)


def _same(reference, ours):
    """Lines equal token by token; numbers equal to four significant digits (float32 sums differ in the last)."""
    for expected, got in zip(reference.splitlines(), ours.splitlines(), strict=True):
        expected_tokens = re.findall(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?|[^\s\d.+-]+|\S", expected)
        got_tokens = re.findall(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?|[^\s\d.+-]+|\S", got)
        assert len(expected_tokens) == len(got_tokens), (expected, got)
        for a, b in zip(expected_tokens, got_tokens):
            if NUMBER.match(a) and NUMBER.match(b):
                assert math.isclose(float(a), float(b), rel_tol=2e-3, abs_tol=2e-4), (expected, got)
            else:
                assert a == b, (expected, got)


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_a_pytorch_program_prints_the_same_on_minidl(program, tmp_path):
    pytest.importorskip("torch", reason="PyTorch is the reference; the parity tests need it")
    reference = _run([str(program)], tmp_path)
    assert reference.returncode == 0, reference.stderr
    ours = _run(["-m", "minidl.as_torch", str(program)], tmp_path)
    assert ours.returncode == 0, ours.stderr
    _same(reference.stdout, ours.stdout)
