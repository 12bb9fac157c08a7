"""Offer each chapter as a Jupyter notebook (``.ipynb``) in the page's download menu.

The chapters are MyST Markdown notebooks. sphinx-book-theme lists ``.md`` and ``.pdf`` in its
download menu, and adds ``.ipynb`` only when the page context names one (``ipynb_source``), which
it sets itself only when a launch button (Binder, Colab, ...) is configured; this book has none.
So, as each notebook page is written, this extension converts its source with jupytext into
``_sources/<page>.ipynb`` beside the ``.md`` copy Sphinx makes, and names it in the context: the
theme's menu then offers it. The notebook is the source as a runnable notebook, without outputs,
headed by a cell that says where it comes from and what it needs.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
from myst_nb.core.read import is_myst_markdown_notebook
from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

# A cell with this tag fails on purpose; nbclient (jupyter nbconvert --execute) runs on past it.
RAISES = "raises-exception"


def header(title: str, book: str, source: str, raises: bool) -> str:
    """The first cell of the notebook: what it is and what running it needs."""
    text = (
        f"**{title}**, from *{book}*: this notebook is `{source}` converted with jupytext. "
        "Its code imports the book's library `minidl`; install it, with everything else the "
        "chapters use, by running `python -m pip install -r requirements.txt` in the book's "
        "repository."
    )
    if raises:
        text += (
            f"\n\nCells tagged `{RAISES}` fail on purpose, to show an error message: after one, "
            "run on from the next cell (`jupyter nbconvert --execute` does so by itself)."
        )
    return text


def notebook(text: str, title: str, book: str, relative: str) -> nbformat.NotebookNode:
    """The MyST Markdown notebook ``text`` (from file ``relative``) as nbformat 4, with a header cell."""
    nb = jupytext.reads(text, fmt="md:myst")
    nb.metadata.pop("jupytext", None)  # a plain notebook, not one paired with a text file
    raises = any(RAISES in cell.metadata.get("tags", []) for cell in nb.cells)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(header(title, book, relative, raises)))
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"  # stable ids: the same source gives the same file
    nbformat.validate(nb)
    return nb


def _add_notebook(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if doctree is None or pagename not in app.env.all_docs or not app.config.html_copy_source:
        return
    source = Path(app.env.doc2path(pagename))
    if source.suffix != ".md":
        return  # an .ipynb source is already offered as the page's source file
    text = source.read_text(encoding="utf-8")
    if not is_myst_markdown_notebook(text):
        return
    title = app.env.titles[pagename].astext() if pagename in app.env.titles else pagename
    relative = source.resolve().relative_to(Path(app.srcdir).resolve()).as_posix()
    book = app.config.html_title or app.config.project  # Jupyter Book's `title` is html_title
    nb = notebook(text, title, book, relative)
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(nbformat.writes(nb), encoding="utf-8")
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app: Sphinx) -> dict:
    # Before sphinx-book-theme builds its header buttons (priority 501).
    app.connect("html-page-context", _add_notebook, priority=400)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
