"""Checks of a chapter's source that keep the page honest, shared by tests/test_chapters.py and the book tests.

- ``hidden_definitions_used``: a name defined only in a cell the reader cannot see (tagged
  ``remove-cell`` or ``remove-input``) and used by a later cell that the reader sees, so the shown code
  would not run as shown.
- ``typed_glued_numbers``: a number typed into the prose that equals, at the precision typed, a value
  the chapter glues: a result that should come from ``{glue:text}``, not from a keyboard.
"""

from __future__ import annotations

import ast
import math
import re

from myst_nb.core.read import read_myst_markdown_notebook

HIDDEN_TAGS = {"remove-cell", "remove-input"}
MAGIC = re.compile(r"^\s*[%!].*$", re.M)
# Prose that is not the author typing a number: roles (glue, numref...), inline code, math, HTML comments.
NOT_PROSE = [
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"\$\$.*?\$\$", re.S),
    re.compile(r"```\{(?:math|code-cell|literalinclude|code-block)\}.*?```", re.S),
    re.compile(r"^:(?:name|label|width|height|figwidth|class|lines|pyobject|language):.*$", re.M),
    re.compile(r"\{[\w:-]+\}`[^`]*`"),
    re.compile(r"`[^`\n]*`"),
    re.compile(r"(?<![\\\w])\$[^$\n]+\$"),
]
# A decimal number (0.25, 1.5) or a percentage (98%, 98.3%), not part of a word, version or label.
TYPED_NUMBER = re.compile(r"(?<![\w.\-/])(\d+(?:\.\d+)?%|\d+\.\d+)(?![\w.]\d)")


def chapter_notebook(text: str):
    """The chapter (a MyST Markdown notebook) as a notebook, read as myst-nb reads it."""
    return read_myst_markdown_notebook(text)


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell binds at its top level or in its loops, names it reads) of a code cell."""
    tree = ast.parse(MAGIC.sub("pass", source))
    bound, read = set(), set()
    scoped, local_names = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
                             ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            for inner in ast.walk(node):
                if inner is not node and isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                    scoped.add(id(inner))
                    local_names.add(inner.id)
                elif isinstance(inner, ast.arg):
                    local_names.add(inner.arg)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store) and id(node) not in scoped:
                bound.add(node.id)
            elif isinstance(node.ctx, ast.Load):
                read.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
    return bound, read - local_names


def hidden_definitions_used(text: str) -> list[str]:
    """Names that a visible cell reads while only a hidden cell above it defined them."""
    problems = []
    visible_defined: set[str] = set()
    hidden_only: dict[str, int] = {}
    code_cells = [cell for cell in chapter_notebook(text).cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        bound, read = _names(cell.source)
        if _tags(cell) & HIDDEN_TAGS:
            for name in bound - visible_defined:
                hidden_only.setdefault(name, number)
            continue
        for name in sorted((read - bound) & set(hidden_only) - visible_defined):
            problems.append(f"code cell {number} uses {name!r}, defined only in hidden code cell {hidden_only[name]}")
        visible_defined |= bound
    return problems


def prose(text: str) -> str:
    """The chapter's Markdown cells with roles, code and math taken out: what the author typed."""
    cells = [cell.source for cell in chapter_notebook(text).cells if cell.cell_type == "markdown"]
    body = "\n\n".join(cells)
    for pattern in NOT_PROSE:
        body = pattern.sub(" ", body)
    return body


def glued_numbers(glue_record: dict) -> dict[str, float]:
    """The numbers a chapter glued, from myst-nb's ``<chapter>.glue.json`` (key -> value)."""
    numbers = {}
    for key, output in glue_record.items():
        text = output.get("data", {}).get("text/plain")
        if text is None:
            continue
        try:
            value = float(text)
        except ValueError:
            continue
        if math.isfinite(value):
            numbers[key] = value
    return numbers


def typed_glued_numbers(text: str, glued: dict[str, float]) -> list[str]:
    """Numbers typed in the prose of ``text`` that equal a glued value at the precision they are typed.

    A typed "0.150" matches a glued 0.1503 (three decimals), "98.3%" a glued 0.9831; a typed number
    with one significant figure (0.5, 2%) is a setting far more often than a result, so it is not
    compared.
    """
    found = []
    for match in TYPED_NUMBER.finditer(prose(text)):
        typed = match.group(1)
        percent = typed.endswith("%")
        digits = typed.rstrip("%")
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        value = float(digits)
        if len(digits.replace(".", "").lstrip("0")) < 2:
            continue
        for key, glued_value in glued.items():
            candidates = [glued_value * 100, glued_value] if percent else [glued_value]
            if any(round(candidate, decimals) == value for candidate in candidates):
                found.append(f"{typed!r} is typed in the prose; it is the glued value {key} = {glued_value!r}")
                break
    return found
