"""Execute the chapters that need it on every core before Sphinx reads them, one chapter per core.

myst-nb executes a notebook when Sphinx reads its page, so a book of 30 chapters runs them one after
another and a 2-core machine leaves a core idle. Before the pages are read, this extension finds
the chapters whose executed copy is not in myst-nb's cache, executes them in a pool of processes
(as many as ``book_execution_workers``, default: the machine's cores), and stores each result in
the cache exactly as myst-nb does (same notebook reader, same working folder, same timeout). Reading
then finds every chapter cached. A chapter that fails here is not stored, so myst-nb executes it
again while reading and reports the error as it always does: the build's outcome never depends on
this extension, only its time does.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress
from pathlib import Path

from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.executors.utils import single_nb_execution
from myst_nb.core.read import create_nb_reader
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)


def _execute(path: str, notebook, timeout, allow_errors):
    """Run in a worker process: execute ``notebook`` in its chapter's folder, as myst-nb would."""
    result = single_nb_execution(
        notebook, cwd=str(Path(path).parent), allow_errors=allow_errors, timeout=timeout,
        meta_override=True,
    )
    error = None if result.err is None else f"{type(result.err).__name__}: {result.err}"
    return notebook, error, result.time


def _pending(env, docnames, cache):
    """(path, notebook, read format) of each page that is a notebook with no cached execution."""
    jobs = []
    for docname in docnames:
        path = Path(env.doc2path(docname))
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf8")
        reader = create_nb_reader(str(path), env.myst_config, env.mystnb_config, text)
        if reader is None:
            continue
        notebook = reader.read(text)
        if not any(cell.cell_type == "code" for cell in notebook.cells):
            continue
        with suppress(KeyError):
            if cache.match_cache_notebook(notebook) is not None:
                continue
        jobs.append((str(path), notebook, reader.read_fmt))
    # Longest source first, so that a long chapter does not start last and leave a core idle.
    return sorted(jobs, key=lambda job: -Path(job[0]).stat().st_size)


def _execute_in_parallel(app, env, docnames):
    config = env.mystnb_config
    workers = int(app.config.book_execution_workers or os.cpu_count() or 1)
    if config.execution_mode != "cache" or workers < 2:
        return
    cache = get_cache(config.execution_cache_path)
    jobs = _pending(env, docnames, cache)
    if len(jobs) < 2:
        return
    workers = min(workers, len(jobs))
    LOGGER.info(f"Executing {len(jobs)} notebooks in {workers} processes before reading them")
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            (path, read_fmt, pool.submit(_execute, path, notebook, config.execution_timeout,
                                         config.execution_allow_errors))
            for path, notebook, read_fmt in jobs
        ]
        for path, read_fmt, future in futures:
            name = os.path.relpath(path, app.srcdir)
            try:
                notebook, error, seconds = future.result()
            except Exception as exc:  # the worker itself failed: leave the page to myst-nb
                error, seconds = f"{type(exc).__name__}: {exc}", 0.0
            if error is not None:
                LOGGER.info(f"{name}: failed in a worker ({error}); it is executed again while reading")
                continue
            record = cache.add_nb_to_project(path, read_data=read_fmt)
            cache.cache_notebook_bundle(
                CacheBundleIn(notebook, record.uri, data={"execution_seconds": seconds}),
                check_validity=False, overwrite=True,
            )
            LOGGER.info(f"{name}: executed in {seconds:.2f} seconds")
    LOGGER.info(f"Executed {len(jobs)} notebooks in {time.perf_counter() - start:.1f} seconds of wall time")


def setup(app):
    # 0 means "one process per core"; 1 turns the pool off (myst-nb alone executes the pages).
    app.add_config_value("book_execution_workers", 0, "", [int])
    # After myst-nb made its configuration (builder-inited) and before the first page is read.
    app.connect("env-before-read-docs", _execute_in_parallel)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
