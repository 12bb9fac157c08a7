"""Key the notebook execution cache on the source of the ``minidl`` package.

jupyter-cache recognises an executed notebook by its code cells alone, so a change to the
library the chapters import would not re-execute them. This extension hashes every file of the
library (sorted relative path and content) when the configuration is read and points myst-nb's
cache at ``_build/.jupyter_cache/pkg-<hash>``. After a library change the next plain
``jupyter-book build .`` re-reads and re-executes every page into a fresh cache; after a revert
the old cache matches again and nothing runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

# Files that change without the source changing (bytecode, editor and tool droppings).
_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info")


def project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding ``_config.yml`` (as jupyter-book finds it)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "_config.yml").is_file():
            return folder
    return start


def _skipped(relative: Path) -> bool:
    return any(
        part.startswith(".") or part in _SKIP_DIRS or part.endswith(_SKIP_SUFFIXES)
        for part in relative.parts
    )


def source_hash(root: Path, sources: list[str]) -> str:
    """Hash of every file under the ``sources`` folders of ``root``: paths and contents."""
    digest = hashlib.sha256()
    for source in sorted(sources):
        base = root / source
        digest.update(f"source {source}\n".encode())
        if not base.is_dir():
            continue
        files = sorted(
            (p for p in base.rglob("*") if p.is_file() and not _skipped(p.relative_to(base))),
            key=lambda p: p.relative_to(base).as_posix(),
        )
        for path in files:
            data = path.read_bytes()
            digest.update(f"file {path.relative_to(base).as_posix()} {len(data)}\n".encode())
            digest.update(data)
    return digest.hexdigest()[:16]


def _build_dir(outdir: Path) -> Path:
    """The ``_build`` folder holding ``outdir`` (shared by book and single-page builds)."""
    for folder in outdir.resolve().parents:
        if folder.name == "_build":
            return folder
    return outdir.resolve().parent


def _set_cache_path(app: Sphinx, config: Config) -> None:
    root = project_root(Path(app.srcdir))
    key = source_hash(root, list(config.minidl_cache_sources))
    base = config.nb_execution_cache_path
    base = Path(base) if base else _build_dir(Path(app.outdir)) / ".jupyter_cache"
    if not base.is_absolute():
        base = root / base
    # A pkg-<hash> folder given explicitly (a re-run inside one process) is replaced, not nested.
    if base.name.startswith("pkg-"):
        base = base.parent
    config.minidl_cache_hash = key
    config.nb_execution_cache_path = str(base / f"pkg-{key}")
    LOGGER.info(f"minidl source hash {key}: notebook cache {config.nb_execution_cache_path}")


def _outdated(
    app: Sphinx, env: BuildEnvironment, added: set, changed: set, removed: set
) -> list[str]:
    """Re-read every page when the library changed since the environment was saved."""
    key = app.config.minidl_cache_hash
    if getattr(env, "minidl_cache_hash", None) == key:
        return []
    env.minidl_cache_hash = key
    return sorted(env.found_docs)


def setup(app: Sphinx) -> dict:
    app.add_config_value("minidl_cache_sources", ["code/minidl"], "env", [list])
    # Recomputed on every build; a different value marks the configuration as changed, so
    # Sphinx re-reads (and myst-nb re-executes) every page.
    app.add_config_value("minidl_cache_hash", "", "env", [str])
    # Before myst-nb reads its configuration (builder-inited).
    app.connect("config-inited", _set_cache_path, priority=100)
    app.connect("env-get-outdated", _outdated)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
