"""Every public name of the library has a docstring that names the chapter teaching it.

In the style of Dive into Deep Learning's "Defined in ...": a docstring ends with the line
``Taught in "<Chapter title>" (book/partN/<file>.md).`` (or ``... and "<Title>" (book/...).`` for several),
so a reader of the code finds the chapter. The paths must be chapters of ``_toc.yml`` and the titles their
``# Title`` lines, so renaming or removing a chapter fails here. Names that no chapter uses are listed in
``NOT_TAUGHT`` with a reason.
"""

import ast
import importlib
import inspect
import pkgutil
import re
import types
from pathlib import Path

import pytest

import minidl

ROOT = Path(__file__).resolve().parents[2]

def _modules():
    """Every module of the package, the top-level namespaces first so a name is listed where users meet it."""
    first = ["minidl", "minidl.nn", "minidl.nn.functional", "minidl.data", "minidl.vision", "minidl.optim"]
    every = [info.name for info in pkgutil.walk_packages(minidl.__path__, "minidl.")]
    return first + sorted(set(every) - set(first))


MODULES = _modules()
NAMESPACES = {"minidl", "minidl.nn", "minidl.nn.functional", "minidl.data", "minidl.vision", "minidl.optim"}

# Modules of helpers that the library's own modules share (dtype and shape rules, argument checks, the
# base class of Tensor's parts). Their names are documented but are not API that a chapter teaches.
INTERNAL = {
    "minidl.tensor.base": "the common base of Tensor's parts; readers use Tensor",
    "minidl.tensor.shapes": "shape bookkeeping of the tensor operations (unbroadcast is taught through Tensor's code)",
    "minidl.tensor.promotion": "PyTorch's dtype rules, applied inside every operation",
    "minidl.nn.functional.checks": "argument checks with PyTorch's messages, shared by functions and layers",
    "minidl.tensor.printing": "PyTorch's print layout, used by Tensor.__repr__",
}

# Public names that no chapter uses, and why. Keep it short: prefer naming a chapter that uses a name.
NOT_TAUGHT = {
    "minidl.arange": "PyTorch-compatible factory; the chapters build index ranges with NumPy",
    "minidl.unbind": "used inside the recurrent layers to split a sequence into steps; no chapter calls it",
    "minidl.is_grad_enabled": "PyTorch-compatible query; the chapters use no_grad itself",
    "minidl.load": "checkpointing; no chapter saves a model to disk",
    "minidl.save": "checkpointing; no chapter saves a model to disk",
    "minidl.ones_like": "PyTorch-compatible factory, unused by the chapters",
    "minidl.zeros_like": "PyTorch-compatible factory, unused by the chapters",
    "minidl.rand": "PyTorch-compatible factory; the chapters draw with randn or NumPy",
    "minidl.use_backend": "backend selection for the tests and for running on a GPU; the chapters use the default",
    "minidl.optim.StepLR": "the regularization chapter's schedule is CosineAnnealingLR",
    "minidl.data.make_circles": "toy data set kept for exercises; the chapters use make_moons",
    "minidl.data.make_spirals": "toy data set kept for exercises; the chapters use make_moons",
    "minidl.data.Dataset": "PyTorch-compatible (torch.utils.data); the chapters load arrays with DataLoader((X, y))",
    "minidl.data.TensorDataset": "PyTorch-compatible; DataLoader((X, y)) builds one, no chapter names it",
    "minidl.data.Subset": "PyTorch-compatible; what random_split returns, no chapter uses it yet",
    "minidl.data.ConcatDataset": "PyTorch-compatible (dataset + dataset); no chapter uses it yet",
    "minidl.data.random_split": "PyTorch-compatible; the chapters split with the data sets' own Split",
    "minidl.data.default_collate": "PyTorch-compatible; DataLoader's default collate_fn, no chapter calls it",
    "minidl.data.default_convert": "PyTorch-compatible; DataLoader's collate_fn for batch_size=None",
    "minidl.data.IterableDataset": "PyTorch-compatible (torch.utils.data); no chapter uses it",
    "minidl.data.Sampler": "PyTorch-compatible (torch.utils.data); no chapter uses it",
    "minidl.data.SequentialSampler": "PyTorch-compatible (torch.utils.data); no chapter uses it",
    "minidl.data.RandomSampler": "PyTorch-compatible (torch.utils.data); no chapter uses it",
    "minidl.data.SubsetRandomSampler": "PyTorch-compatible (torch.utils.data); no chapter uses it",
    "minidl.data.WeightedRandomSampler": "PyTorch-compatible (torch.utils.data); no chapter uses it",
    "minidl.data.BatchSampler": "PyTorch-compatible (torch.utils.data); no chapter uses it",
    "minidl.data.dataset.as_generator": "reads the generator argument of DataLoader and random_split",
    "minidl.backend.CupyBackend": "backend machinery, not course material",
    "minidl.backend.DeviceArray": "backend machinery for the simulated GPU used by the tests",
    "minidl.backend.SimulatedGPUBackend": "backend machinery for the tests",
    "minidl.backend.host_generator": "backend machinery (seeded host draws)",
    "minidl.backend.check_generator": "backend machinery (the generator= argument of the draws)",
    "minidl.backend.xp": "backend machinery (the array namespace inside the library)",
    "minidl.backend.of": "backend machinery (the backend owning an operation's arrays)",
    "minidl.backend.host": "backend machinery (the CPU's backend, where Tensor.cpu() copies to)",
    "minidl.backend.gpu": "backend machinery (the GPU's backend, where Tensor.cuda() copies to)",
    "minidl.backend.is_array": "backend machinery (an array of any device)",
    "minidl.backend.on_gpu": "backend machinery (whether an array lives on a GPU)",
    "minidl.device.device_of": "the device of an array, behind Tensor.device; the chapters read Tensor.device",
    "minidl.device.backend_for": "backend machinery (the backend of a device string, behind Tensor.to)",
    "Tensor.size": "PyTorch-compatible spelling of shape",
    "Tensor.unbind": "method form of minidl.unbind, which no chapter calls",
    "Tensor.dim": "PyTorch-compatible spelling of ndim",
    "Tensor.to": "PyTorch-compatible cast; the chapters pick dtypes when creating tensors",
    "Tensor.float": "PyTorch-compatible cast",
    "Tensor.long": "PyTorch-compatible cast",
    "Tensor.clone": "PyTorch-compatible copy",
    "Tensor.zero_": "PyTorch-compatible; Module.zero_grad resets gradients in the chapters",
    "Tensor.add_": "PyTorch-compatible in-place form of +=",
    "Tensor.sub_": "PyTorch-compatible in-place form of -=",
    "Tensor.mul_": "PyTorch-compatible in-place form of *=",
    "Tensor.div_": "PyTorch-compatible in-place form of /=",
    "Tensor.fill_": "PyTorch-compatible in-place fill, unused by the chapters",
    "Tensor.copy_": "PyTorch-compatible in-place copy, unused by the chapters",
    "Tensor.clamp_": "PyTorch-compatible in-place clamp, unused by the chapters",
    "Tensor.retains_grad": "PyTorch-compatible query; the backprop chapter calls retain_grad itself",
    "Tensor.var": "PyTorch-compatible reduction, unused by the chapters",
    "Tensor.min": "PyTorch-compatible reduction, unused by the chapters",
    "Tensor.sqrt": "PyTorch-compatible elementwise op, unused by the chapters",
    "Tensor.clip": "PyTorch-compatible elementwise op (also Tensor.clamp), unused by the chapters",
    "Tensor.clamp": "alias of Tensor.clip",
    "Tensor.clamp_min": "PyTorch-compatible one-sided clamp, unused by the chapters",
    "Tensor.clamp_max": "PyTorch-compatible one-sided clamp, unused by the chapters",
    "Tensor.argmin": "PyTorch-compatible companion of argmax, unused by the chapters",
    "Tensor.gather": "method form of minidl.gather, which no chapter calls",
    "minidl.gather": "PyTorch-compatible indexing; the losses pick class probabilities by advanced indexing",
    "Tensor.floor_divide": "PyTorch-compatible name of //, unused by the chapters",
    "Tensor.remainder": "PyTorch-compatible name of %, unused by the chapters",
    "Tensor.half": "PyTorch-compatible cast",
    "Tensor.int": "PyTorch-compatible cast",
    "Tensor.bool": "PyTorch-compatible cast",
    "Tensor.transpose": "PyTorch-compatible; the chapters use .T and permute",
    "Tensor.expand": "PyTorch-compatible broadcasting, unused by the chapters",
    "Module.register_buffer": "PyTorch-compatible; no chapter's module has a buffer",
    "Module.named_buffers": "PyTorch-compatible; no chapter's module has a buffer",
    "Module.named_children": "PyTorch-compatible traversal; the chapters use parameters() and modules()",
    "Module.children": "PyTorch-compatible traversal; the chapters use parameters() and modules()",
    "Module.named_modules": "PyTorch-compatible traversal; the chapters use modules()",
    "Module.extra_repr": "PyTorch-compatible hook for printing a module; no chapter prints one",
    "Module.modules": "PyTorch-compatible traversal; the library's multiply_adds walks it, no chapter calls it",
    "minidl.backend.Backend": "backend machinery; the chapters run on the default NumPy backend",
    "minidl.nn.Sigmoid": "the layer form of sigmoid; the chapters call the function",
    "minidl.nn.init.kaiming_uniform_": "PyTorch-compatible initializer; Linear and Conv2d start from default_uniform_",
    "minidl.nn.init.ones_": "initializer inside LayerNorm's constructor; the chapters show forward passes",
    "minidl.nn.init.zeros_": "initializer inside the layers' constructors; the chapters show forward passes",
    "minidl.nn.init.uniform_": "initializer inside the recurrent layers' constructors; the chapters show forward passes",
    "minidl.nn.init.xavier_uniform_": "initializer inside MultiheadAttention's constructor; the chapters show forward passes",
    "minidl.nn.functional.layer_norm": "function form of nn.LayerNorm, which the attention chapter uses",
    "minidl.nn.BatchNorm1d": "PyTorch-compatible layer for the generative-models chapters; no chapter uses it yet",
    "minidl.nn.BatchNorm2d": "PyTorch-compatible layer for the generative-models chapters; no chapter uses it yet",
    "minidl.nn.functional.batch_norm": "function form of nn.BatchNorm1d/2d; no chapter calls it",
    "minidl.nn.functional.leaky_relu": "function form of nn.LeakyReLU; no chapter calls it",
    "minidl.nn.ELU": "PyTorch-compatible activation; no chapter uses it yet",
    "minidl.nn.functional.elu": "function form of nn.ELU; no chapter calls it",
    "minidl.nn.SiLU": "PyTorch-compatible activation (swish); no chapter uses it yet",
    "minidl.nn.functional.silu": "function form of nn.SiLU; no chapter calls it",
    "minidl.nn.Unflatten": "PyTorch-compatible inverse of Flatten for decoders; no chapter uses it yet",
    "minidl.nn.Upsample": "PyTorch-compatible layer for the generative-models chapters; no chapter uses it yet",
    "minidl.nn.functional.interpolate": "function behind nn.Upsample; no chapter calls it yet",
    "minidl.nn.module.IncompatibleKeys": "the result of load_state_dict(strict=False), as PyTorch's; no chapter loads weights",
    "minidl.tensor.inplace.InPlace": "one of the parts Tensor is made of; the chapters use Tensor's methods",
    "minidl.tensor.reductions.Reductions": "one of the parts Tensor is made of; the chapters use Tensor's methods",
    "minidl.tensor.shaping.Shaping": "one of the parts Tensor is made of; the chapters use Tensor's methods",
    "minidl.tensor.reductions.ReductionResult": "the (values, indices) pair of max(dim) and min(dim), as torch.return_types",
    "minidl.tensor.reductions.SortResult": "the (values, indices) pair of sort, as torch.return_types.sort",
    "minidl.tensor.reductions.TopKResult": "the (values, indices) pair of topk, as torch.return_types.topk",
    # PyTorch's factories, grad modes, devices and distributions, for code written against torch
    "minidl.empty": "PyTorch-compatible factory (zeros here), unused by the chapters",
    "minidl.eye": "PyTorch-compatible factory, unused by the chapters",
    "minidl.full": "PyTorch-compatible factory, unused by the chapters",
    "minidl.full_like": "PyTorch-compatible factory, unused by the chapters",
    "minidl.linspace": "PyTorch-compatible factory; the chapters space their grids with NumPy",
    "minidl.rand_like": "PyTorch-compatible random factory, unused by the chapters",
    "minidl.randn_like": "PyTorch-compatible random factory, unused by the chapters",
    "minidl.randint": "PyTorch-compatible random factory, unused by the chapters",
    "minidl.randint_like": "PyTorch-compatible random factory, unused by the chapters",
    "minidl.randperm": "PyTorch-compatible random factory; DataLoader shuffles on the host",
    "minidl.multinomial": "PyTorch-compatible sampling; the chapters sample tokens with minidl.sampling.sample",
    "minidl.enable_grad": "PyTorch-compatible grad mode; the chapters use no_grad",
    "minidl.set_grad_enabled": "PyTorch-compatible grad mode; the chapters use no_grad",
    "minidl.inference_mode": "PyTorch-compatible grad mode; the chapters use no_grad",
    "minidl.is_inference_mode_enabled": "PyTorch-compatible query, unused by the chapters",
    "minidl.device": "PyTorch-compatible device object; the chapters run on the default backend",
    "minidl.get_default_device": "PyTorch-compatible query; the chapters run on the default backend",
    "minidl.device.is_available": "minidl.cuda.is_available, for scripts that pick a device; no chapter does",
    "minidl.device.device_count": "minidl.cuda.device_count, for scripts that pick a device; no chapter does",
    "Tensor.device": "PyTorch-compatible query; the chapters run on the default backend",
    "Tensor.is_cuda": "PyTorch-compatible query; the chapters run on the default backend",
    "Tensor.cpu": "PyTorch-compatible device move (a check under one backend), unused by the chapters",
    "Tensor.cuda": "PyTorch-compatible device move (a check under one backend), unused by the chapters",
    "Module.to": "PyTorch-compatible cast and device check; the chapters build models in float32 on one backend",
    "Module.cpu": "PyTorch-compatible device move (a check under one backend), unused by the chapters",
    "Module.cuda": "PyTorch-compatible device move (a check under one backend), unused by the chapters",
    "Module.float": "PyTorch-compatible cast of a model, unused by the chapters",
    "Module.double": "PyTorch-compatible cast of a model, unused by the chapters",
    "Module.half": "PyTorch-compatible cast of a model, unused by the chapters",
    "Module.apply": "PyTorch-compatible traversal; the chapters' layers initialize themselves",
    "Module.buffers": "PyTorch-compatible; no chapter's module has a buffer",
    "minidl.distributions.Distribution": "base of the PyTorch-compatible distributions; no chapter samples from one yet",
    "minidl.distributions.Bernoulli": "PyTorch-compatible distribution; no chapter uses it yet",
    "minidl.distributions.register_kl": "PyTorch-compatible extension point of kl_divergence, unused by the chapters",
}

# PyTorch-compatible names that no chapter uses yet: the function forms of Tensor's methods (minidl.exp(x),
# made from one table), and the methods PyTorch has that the chapters write as operators or do without.
NOT_TAUGHT.update({f"minidl.{name}": f"function form of Tensor.{method} (torch.{name}); the chapters call methods"
                   for name, method in importlib.import_module("minidl.tensor.torch_functions").FUNCTIONS.items()})
NOT_TAUGHT.update({f"Tensor.{name}": "PyTorch-compatible method; no chapter uses it yet" for name in (
    "add sub subtract mul multiply div divide true_divide pow neg negative mm eq ne lt le gt ge greater "
    "greater_equal less less_equal not_equal sin cos log2 log10 log1p expm1 rsqrt reciprocal square floor ceil "
    "trunc round sign maximum minimum all any cumsum t prod logsumexp norm amax sort argsort topk repeat split "
    "chunk flip tril triu masked_fill").split()})
NOT_TAUGHT.update({
    "minidl.as_tensor": "PyTorch-compatible conversion that shares memory; the chapters copy with minidl.tensor",
    "minidl.from_numpy": "PyTorch-compatible conversion that shares memory; the chapters copy with minidl.tensor",
})

TAUGHT_LINE = re.compile(r'Taught in "[^"]+" \(book/[^)]+\.md\)((, | and )"[^"]+" \(book/[^)]+\.md\))*\.')
CHAPTER = re.compile(r'"([^"]+)" \((book/[^)]+\.md)\)')
PATH = re.compile(r"book/[\w/.-]+?\.md")


def _public_names():
    """(name, docstring) for every public function and class of MODULES, and the public members of
    Tensor and Module (methods and properties; attributes are described in the class docstring). Each object once, under its first exported name."""
    names, seen = {}, set()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in dir(module):
            obj = getattr(module, name)
            if name.startswith("_") or isinstance(obj, types.ModuleType):
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue  # constants such as SHAPE_CLASSES and dtypes have no docstrings of their own
            if not getattr(obj, "__module__", "").startswith("minidl") or id(obj) in seen:
                continue
            if module_name not in NAMESPACES and obj.__module__ != module_name:
                continue  # a submodule's own names only; what it imports is listed where it is defined
            seen.add(id(obj))
            names[f"{module_name}.{name}"] = obj.__doc__
    for cls in (minidl.Tensor, minidl.nn.Module):
        members = {}
        for part in reversed(cls.__mro__):  # Tensor is put together from one class per family of operations
            if part.__module__.startswith("minidl"):
                members.update(vars(part))
        for name, member in members.items():
            if name.startswith("_"):
                continue
            if isinstance(member, property):
                doc = member.fget.__doc__
            elif isinstance(member, (staticmethod, classmethod)):
                doc = member.__func__.__doc__
            elif callable(member) and not inspect.isclass(member):
                doc = member.__doc__
            else:
                continue
            names[f"{cls.__name__}.{name}"] = doc
    return names


NAMES = _public_names()


def _toc_chapters():
    """Chapter files of _toc.yml (as book/...md) and their titles."""
    listed = re.findall(r"^\s*-\s*file:\s*(\S+)\s*$", (ROOT / "_toc.yml").read_text(), re.M)
    chapters = {}
    for entry in listed:
        path = entry if entry.endswith(".md") else entry + ".md"
        source = ROOT / path
        if source.exists():
            title = next((line[2:].strip() for line in source.read_text().splitlines() if line.startswith("# ")), None)
            chapters[path] = title
    return chapters


CHAPTERS = _toc_chapters()


@pytest.fixture
def backend():
    """Docstrings do not depend on the backend: run once, not once per backend."""
    return "numpy"


def test_collects_the_library():
    assert len(NAMES) > 150 and "minidl.nn.Linear" in NAMES and "Tensor.backward" in NAMES


def test_exceptions_are_current():
    """Every exception is still a public name, and still names no chapter (else it should leave the list)."""
    for name in NOT_TAUGHT:
        assert name in NAMES, f"{name} is in NOT_TAUGHT but is not a public name any more"
        assert "Taught in" not in (NAMES[name] or ""), f"{name} names a chapter; remove it from NOT_TAUGHT"


@pytest.mark.parametrize("name", sorted(NAMES))
def test_docstring_names_its_chapter(name):
    doc = NAMES[name]
    assert doc and doc.strip(), f"{name} has no docstring"
    for path in PATH.findall(doc):
        assert (ROOT / path).exists(), f"{name}: {path} does not exist"
        assert path in CHAPTERS, f"{name}: {path} is not a chapter of _toc.yml"
    if name in NOT_TAUGHT or name.rsplit(".", 1)[0] in INTERNAL:
        return
    last = doc.strip().splitlines()[-1].strip()
    assert TAUGHT_LINE.fullmatch(last), f'{name}: the docstring should end with Taught in "<title>" (book/...md).'
    for title, path in CHAPTER.findall(last):
        assert CHAPTERS.get(path) == title, f"{name}: the chapter {path} is titled {CHAPTERS.get(path)!r}, not {title!r}"


FENCE = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
INCLUDE = re.compile(r"^```\{literalinclude\}\s+(\S+)\n((?::[\w-]+:.*\n)*)", re.M)


def _included(chapter, target, options):
    """The library code a literalinclude shows: the whole file, or the named object's source."""
    source = (ROOT / chapter).parent.joinpath(target).resolve()
    text = source.read_text()
    pyobject = re.search(r":pyobject:\s*(\S+)", options)
    if not pyobject:
        return text
    node = ast.parse(text)
    for part in pyobject.group(1).split("."):
        node = next(n for n in ast.iter_child_nodes(node) if getattr(n, "name", None) == part)
    return ast.get_source_segment(text, node)


def _code_of(chapter):
    """Where a chapter uses a name: its code cells, its inline code, and the library code it includes."""
    text = (ROOT / chapter).read_text()
    parts = FENCE.findall(text) + INLINE.findall(text)
    parts += [_included(chapter, target, options) + options for target, options in INCLUDE.findall(text)]
    return "\n".join(parts)


CODE = {path: _code_of(path) for path in CHAPTERS}


@pytest.mark.parametrize("name", sorted(n for n in NAMES if n not in NOT_TAUGHT and n.rsplit(".", 1)[0] not in INTERNAL))
def test_the_named_chapter_uses_the_name(name):
    """A "Taught in" link holds: the chapter's code, inline code or included library code uses the name."""
    doc = (NAMES[name] or "").strip()
    short = name.rsplit(".", 1)[-1]
    chapters = [path for _, path in CHAPTER.findall(doc.splitlines()[-1])] if doc else []
    assert any(re.search(rf"(?<![\w]){re.escape(short)}(?![\w])", CODE.get(path, "")) for path in chapters), (
        f"{name}: none of {chapters} uses `{short}` in its code, inline code or included code"
    )
