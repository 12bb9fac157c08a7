"""Each chapter's shown code runs as shown, and its results are glued, not typed (static checks of the sources).

The checks themselves are in ``chapter_checks.py``; the tests at the end show, on a throwaway chapter,
that they catch what they are meant to catch. ``tests/test_book.py`` runs the typed-number check on
the built book, where the glued values are known.
"""

from __future__ import annotations

import textwrap

import pytest
import yaml

from book_build import ROOT, toc_files
from chapter_checks import glued_numbers, hidden_definitions_used, typed_glued_numbers

CHAPTERS = [f for f in toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text())) if f.startswith("book/part")]

THROWAWAY = textwrap.dedent('''\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---

    # A throwaway chapter

    ```{code-cell} ipython3
    :tags: [remove-cell]
    steps = 100
    ```

    ```{code-cell} ipython3
    accuracy = train(steps)
    glue("throwaway-accuracy", accuracy, display=False)
    ```

    The model reaches 93.4% after {glue:text}`throwaway-steps` steps, $0.934$ in math is fine, and
    `0.934` in code is fine; so is {glue:text}`throwaway-accuracy:.1%` and a setting such as 0.5.
    ''')


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_shown_code_uses_no_name_defined_only_in_a_hidden_cell(chapter):
    """A reader who runs the visible cells in order (a page's code or its .ipynb) reproduces the page."""
    assert hidden_definitions_used((ROOT / f"{chapter}.md").read_text()) == []


def test_the_hidden_definition_check_catches_a_name_only_a_removed_cell_defines():
    assert hidden_definitions_used(THROWAWAY) == ["code cell 2 uses 'steps', defined only in hidden code cell 1"]
    assert hidden_definitions_used(THROWAWAY.replace("remove-cell", "hide-input")) == []


def test_the_typed_number_check_catches_a_result_typed_instead_of_glued():
    glued = glued_numbers({"throwaway-accuracy": {"data": {"text/plain": "0.93412"}},
                           "fig-throwaway": {"data": {"image/png": "..."}}})
    assert glued == {"throwaway-accuracy": 0.93412}
    found = typed_glued_numbers(THROWAWAY, glued)
    assert len(found) == 1 and "'93.4%'" in found[0] and "throwaway-accuracy" in found[0]
    assert typed_glued_numbers(THROWAWAY.replace("93.4%", "{glue:text}`throwaway-accuracy:.1%`"), glued) == []
