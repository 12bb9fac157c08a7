"""The book's configuration, table of contents, requirements and CI script say what they should.

Fast checks that read files only; the build itself is tested in test_book.py.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shlex
import sys
from pathlib import Path

import pytest
import yaml

from book_build import BUILD_ARGS, ROOT, toc_files

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
README = (ROOT / "README.md").read_text()
CI_RUN = ROOT / ".ci" / "run"

BUILD_COMMAND = "python -m pip install -r requirements.txt && jupyter-book build ."
TEST_COMMAND = "python -m pip install -r requirements.txt && pytest"


def source_of(entry: str) -> Path | None:
    for suffix in ("", ".md", ".ipynb"):
        if (path := ROOT / f"{entry}{suffix}").is_file():
            return path
    return None


def chapter_sources() -> list[Path]:
    """Pages under book/; files and folders starting with ``_`` or ``.`` are not pages."""
    return sorted(
        path for path in (ROOT / "book").rglob("*")
        if path.suffix in (".md", ".ipynb")
        and not any(part.startswith(("_", ".")) for part in path.relative_to(ROOT / "book").parts)
    )


# Table of contents


def test_toc_is_a_book() -> None:
    assert TOC["format"] == "jb-book"
    assert TOC["root"] == "book/index"


def test_toc_lists_only_files_that_exist() -> None:
    missing = [entry for entry in toc_files(TOC) if source_of(entry) is None]
    assert not missing, f"_toc.yml lists missing pages: {missing}"


def test_toc_lists_each_page_once() -> None:
    files = toc_files(TOC)
    assert len(files) == len(set(files))


def test_every_page_under_book_is_in_the_toc() -> None:
    listed = {source_of(entry) for entry in toc_files(TOC)}
    unlisted = [str(p.relative_to(ROOT)) for p in chapter_sources() if p not in listed]
    assert not unlisted, f"pages missing from _toc.yml (they would not be built): {unlisted}"


def test_every_part_has_a_caption_and_chapters() -> None:
    for part in TOC["parts"]:
        assert part.get("caption"), part
        assert part.get("chapters"), part


def test_status_page_holds_the_execution_table() -> None:
    assert "{nb-exec-table}" in (ROOT / "book" / "status.md").read_text()


# Configuration


def test_title() -> None:
    assert CONFIG["title"] == "Deep Learning, Executed"


def test_execution_is_cached_and_strict() -> None:
    execute = CONFIG["execute"]
    assert execute["execute_notebooks"] == "cache"
    assert execute["raise_on_error"] is True
    assert execute.get("allow_errors", False) is False
    assert isinstance(execute["timeout"], int) and execute["timeout"] > 0


def test_only_toc_files_are_built() -> None:
    assert CONFIG["only_build_toc_files"] is True


@pytest.mark.parametrize(
    "pattern",
    [".*", "**/.*", "code", "tests", "README.md", "_build", "**/_build", ".ci", ".github",
     "benchmarks", "**.ipynb_checkpoints"],
)
def test_excluded_from_the_build(pattern: str) -> None:
    assert pattern in CONFIG["exclude_patterns"]


@pytest.mark.parametrize(
    "extension",
    ["amsmath", "dollarmath", "colon_fence", "deflist", "html_image", "substitution",
     "smartquotes", "replacements"],
)
def test_myst_extension_enabled(extension: str) -> None:
    assert extension in CONFIG["parse"]["myst_enable_extensions"]


def test_linkify_only_with_its_package() -> None:
    if "linkify" in CONFIG["parse"]["myst_enable_extensions"]:
        assert importlib.util.find_spec("linkify_it") is not None


def test_figures_and_equations_are_numbered() -> None:
    sphinx = CONFIG["sphinx"]["config"]
    assert sphinx["numfig"] is True
    assert sphinx["math_numfig"] is True


def test_mathjax_is_served_offline() -> None:
    assert "sphinx-mathjax-offline" in CONFIG["sphinx"]["extra_extensions"]
    assert importlib.util.find_spec("sphinx-mathjax-offline") is not None


def test_notebook_cache_is_keyed_on_the_library() -> None:
    assert CONFIG["sphinx"]["local_extensions"]["minidl_cache"] == "book/_ext"
    assert (ROOT / "book" / "_ext" / "minidl_cache.py").is_file()
    assert CONFIG["sphinx"]["config"]["minidl_cache_sources"] == ["code/minidl"]


def test_chapters_run_blas_on_one_thread_unless_told_otherwise() -> None:
    assert CONFIG["sphinx"]["local_extensions"]["blas_threads"] == "book/_ext"
    assert (ROOT / "book" / "_ext" / "blas_threads.py").is_file()


def test_no_remote_services() -> None:
    launch = CONFIG["launch_buttons"]
    assert launch["thebe"] is False
    assert not any(launch.get(key) for key in ("binderhub_url", "jupyterhub_url", "colab_url",
                                               "deepnote_url"))
    html = CONFIG["html"]
    assert not any(html["analytics"].values())
    assert not any(html["comments"].values())
    assert CONFIG["sphinx"]["config"]["nb_ipywidgets_js"] == {}


def test_code_folder_is_not_a_package() -> None:
    assert not (ROOT / "code" / "__init__.py").exists(), (
        "code/__init__.py would shadow the standard library's `code` module"
    )


# The cache extension (loaded from its file, as Sphinx loads it)


@pytest.fixture(scope="module")
def minidl_cache():
    spec = importlib.util.spec_from_file_location(
        "minidl_cache_under_test", ROOT / "book" / "_ext" / "minidl_cache.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def package(tmp_path: Path) -> Path:
    (tmp_path / "_config.yml").write_text("title: x\n")
    source = tmp_path / "code" / "minidl"
    (source / "nn").mkdir(parents=True)
    (source / "__init__.py").write_text("from .tensor import Tensor\n")
    (source / "tensor.py").write_text("class Tensor: ...\n")
    (source / "nn" / "linear.py").write_text("class Linear: ...\n")
    return tmp_path


def key(module, root: Path) -> str:
    return module.source_hash(root, ["code/minidl"])


def test_cache_key_is_stable(minidl_cache, package: Path) -> None:
    assert key(minidl_cache, package) == key(minidl_cache, package)


def test_cache_key_changes_with_a_source_edit_and_comes_back_on_revert(minidl_cache, package):
    before = key(minidl_cache, package)
    linear = package / "code" / "minidl" / "nn" / "linear.py"
    linear.write_text("class Linear:\n    bias = True\n")
    assert key(minidl_cache, package) != before
    linear.write_text("class Linear: ...\n")
    assert key(minidl_cache, package) == before


def test_cache_key_changes_with_a_new_or_renamed_file(minidl_cache, package: Path) -> None:
    before = key(minidl_cache, package)
    source = package / "code" / "minidl"
    (source / "optim.py").write_text("")
    added = key(minidl_cache, package)
    assert added != before
    (source / "optim.py").rename(source / "optimizers.py")
    assert key(minidl_cache, package) not in (before, added)


def test_cache_key_ignores_bytecode_and_hidden_files(minidl_cache, package: Path) -> None:
    before = key(minidl_cache, package)
    source = package / "code" / "minidl"
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "tensor.cpython-311.pyc").write_bytes(b"\x00")
    (source / ".ipynb_checkpoints").mkdir()
    (source / ".ipynb_checkpoints" / "tensor-checkpoint.py").write_text("x")
    (source / "nn" / "linear.pyc").write_bytes(b"\x00")
    assert key(minidl_cache, package) == before


def test_cache_root_is_the_folder_of_the_config(minidl_cache, package: Path) -> None:
    chapter_folder = package / "book" / "part1"
    chapter_folder.mkdir(parents=True)
    assert minidl_cache.project_root(chapter_folder) == package.resolve()


# Requirements, README and CI


def requirement_lines() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_requirements_end_with_the_package_itself() -> None:
    assert requirement_lines()[-1] == "-e ."


def test_requirements_are_ranges_not_pins() -> None:
    pinned = [line for line in requirement_lines() if re.search(r"===?|~=", line)]
    assert not pinned, pinned


def requirement_names() -> set[str]:
    return {
        re.split(r"[<>=!~\[; ]", line)[0].lower().replace("_", "-")
        for line in requirement_lines() if not line.startswith("-")
    }


@pytest.mark.parametrize(
    "name",
    ["jupyter-book", "myst-nb", "sphinx-mathjax-offline", "numpy", "matplotlib", "ipykernel",
     "jupytext", "pytest", "hypothesis", "tqdm", "scikit-learn", "scikit-image", "mlxtend",
     "gymnasium"],
)
def test_requirement_listed(name: str) -> None:
    assert name in requirement_names()


def test_jupyter_book_stays_on_version_1() -> None:
    assert "jupyter-book>=1.0.4,<2" in requirement_lines()


@pytest.mark.parametrize("name", ["torch", "cupy", "cupy-cuda12x"])
def test_optional_backends_are_not_requirements(name: str) -> None:
    assert name not in requirement_names()


# Every third-party module that a chapter's code cells or the book's Sphinx extensions import is named
# in requirements.txt itself, not only brought along by another package.

# Import names whose distribution (the name pip installs) differs from the import name.
DISTRIBUTION_OF = {
    "sklearn": "scikit-learn", "skimage": "scikit-image", "IPython": "ipython", "myst_nb": "myst-nb",
    "yaml": "pyyaml", "PIL": "pillow", "bs4": "beautifulsoup4",
}
PROJECT_MODULES = {"minidl"}  # the project itself, the requirement "-e ."
CODE_CELL = re.compile(r"^(`{3,}|~{3,}|:{3,})\{code-cell\}[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)


def cell_python(cell: str) -> str:
    """A MyST code cell's Python: its option lines (``:tags: ...`` or a ``---`` block) and IPython
    magics (``%xmode``, ``!ls``) blanked, so line numbers stay those of the cell."""
    lines = cell.splitlines()
    if lines and lines[0].strip() == "---":
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), 0)
        lines[: end + 1] = [""] * (end + 1)
    head = 0
    while head < len(lines) and lines[head].startswith(":"):
        lines[head] = ""
        head += 1
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def book_code() -> dict[str, str]:
    """'path:cell n' -> Python source, for every code cell of the book's pages and every book/_ext module."""
    sources = {}
    for page in chapter_sources():
        name = str(page.relative_to(ROOT))
        if page.suffix == ".ipynb":
            cells = ["".join(c["source"]) for c in json.loads(page.read_text())["cells"] if c["cell_type"] == "code"]
        else:
            cells = [match.group(2) for match in CODE_CELL.finditer(page.read_text())]
        sources.update({f"{name}: cell {i}": cell_python(cell) for i, cell in enumerate(cells, 1)})
    for module in sorted((ROOT / "book" / "_ext").glob("*.py")):
        sources[str(module.relative_to(ROOT))] = module.read_text()
    return sources


# The tests' own modules import each other by name; torch is the parity reference, which .ci/run
# installs (its CPU build) and README.md explains, and cupy the optional GPU backend (pyproject's
# extra "cuda"): neither is a requirement on purpose.
TEST_MODULES = {path.stem for path in (ROOT / "tests").rglob("*.py")}
NOT_REQUIRED = {"torch", "cupy"}


def test_code() -> dict[str, str]:
    """Module path -> source, for every test module."""
    return {str(path.relative_to(ROOT)): path.read_text() for path in sorted((ROOT / "tests").rglob("*.py"))}


def imported_modules(source: str) -> set[str]:
    """Top-level names of the modules that Python source imports (absolute imports only)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def third_party_imports() -> dict[str, set[str]]:
    """Distribution name -> where it is imported, for each third-party module the book or the tests import."""
    found: dict[str, set[str]] = {}
    for where, source in {**book_code(), **test_code()}.items():
        ignored = set(sys.stdlib_module_names) | PROJECT_MODULES | TEST_MODULES | NOT_REQUIRED
        for module in imported_modules(source) - ignored:
            distribution = DISTRIBUTION_OF.get(module, module).lower().replace("_", "-")
            found.setdefault(distribution, set()).add(where)
    return found


def test_the_import_scan_finds_the_book_imports() -> None:
    found = third_party_imports()
    assert {"numpy", "matplotlib", "pandas", "ipython", "myst-nb", "scikit-image", "sphinx", "beautifulsoup4"} <= set(found)
    assert imported_modules("import a.b, c as d\nfrom e.f import g\nfrom . import h\n") == {"a", "c", "e"}
    assert cell_python(":tags: [remove-cell]\n%xmode Minimal\nimport x\n") == "\n\nimport x"


def test_every_module_the_book_imports_is_a_requirement() -> None:
    missing = {name: sorted(where)[:3] for name, where in third_party_imports().items()
               if name not in requirement_names()}
    assert not missing, f"imported by the book but not named in requirements.txt: {missing}"


def code_lines(markdown: str) -> list[str]:
    """Lines inside fenced code blocks of a Markdown text."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines()]


def test_readme_gives_exactly_the_two_setup_commands() -> None:
    assert code_lines(README) == [BUILD_COMMAND, TEST_COMMAND]


@pytest.mark.parametrize("command", [BUILD_COMMAND, TEST_COMMAND])
def test_landing_page_gives_the_setup_command(command: str) -> None:
    assert command in code_lines((ROOT / "book" / "index.md").read_text())


def test_ci_runs_the_readme_test_command() -> None:
    match = re.search(r"^test_command=(.+)$", CI_RUN.read_text(), flags=re.MULTILINE)
    assert match, ".ci/run must set test_command"
    assert shlex.split(match.group(1)) == [TEST_COMMAND]


def test_ci_script_is_strict_and_executable() -> None:
    text = CI_RUN.read_text()
    assert text.startswith("#!/usr/bin/env bash")
    assert "set -euo pipefail" in text
    assert CI_RUN.stat().st_mode & 0o111
    assert "torch==2.13.0" in text


def ci_debian_packages() -> list[str]:
    match = re.search(r'^debian_packages="([^"]+)"$', CI_RUN.read_text(), flags=re.MULTILINE)
    assert match, ".ci/run must name its Debian packages in debian_packages"
    return match.group(1).split()


def test_ci_installs_every_debian_package_the_tests_use_without_recommends() -> None:
    """Recommends are not installed, so timidity's soundfont (its config sources fluidr3_gm.cfg) is named."""
    assert {"chromium-headless-shell", "abcmidi", "timidity", "fluid-soundfont-gm"} <= set(ci_debian_packages())
    install = re.search(r"apt-get install (.+)$", CI_RUN.read_text(), flags=re.MULTILINE)
    assert install and "--no-install-recommends" in install.group(1) and "$debian_packages" in install.group(1)


def test_readme_names_the_debian_packages_of_the_ci_script() -> None:
    unnamed = [package for package in ci_debian_packages() if f"`{package}`" not in README]
    assert not unnamed, f"README.md does not say that .ci/run installs {unnamed}"


def test_workflow_apt_lines_install_the_audio_packages_of_the_ci_script() -> None:
    for workflow in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        steps = [step for job in yaml.safe_load(workflow.read_text())["jobs"].values() for step in job["steps"]]
        for run in (step.get("run", "") for step in steps):
            for install in re.findall(r"apt-get install ([^&;\n]+)", run):
                words = install.split()
                assert "--no-install-recommends" in words, f"{workflow.name}: {install}"
                packages = {word for word in words if not word.startswith("-")}
                assert packages <= set(ci_debian_packages()), f"{workflow.name} installs what .ci/run does not"
                if {"abcmidi", "timidity"} & packages:
                    assert {"abcmidi", "timidity", "fluid-soundfont-gm"} <= packages, workflow.name


def test_tests_build_the_book_as_the_readme_does() -> None:
    assert BUILD_COMMAND.endswith("jupyter-book " + " ".join(BUILD_ARGS[:2]))
    assert {"--all", "-W", "-n", "--keep-going"} <= set(BUILD_ARGS)


def test_book_marker_is_registered() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^\s*"book:', pyproject, flags=re.MULTILINE)


def test_ci_workflow_runs_the_ci_script() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(step.get("run") == "bash .ci/run" for step in steps)


def test_pages_workflow_publishes_the_html() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    uses = {step.get("uses", "").split("@")[0]: step for step in steps}
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "_build/html"
    assert "actions/deploy-pages" in uses
