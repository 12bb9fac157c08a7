"""The book builds from scratch without a warning, and the pages it makes are whole and offline.

These tests run the real build once (every chapter is executed, or taken from the notebook
cache), then read the HTML it wrote. Deselect them with ``pytest -m "not book"``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup
from myst_nb.core.read import is_myst_markdown_notebook, read_myst_markdown_notebook

from book_build import ROOT, build, tail, toc_files
from chapter_checks import glued_numbers, typed_glued_numbers

pytestmark = pytest.mark.book

HTML = ROOT / "_build" / "html"
TRACEBACK_TEXT = "Traceback (most recent call last)"
REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.IGNORECASE)
CSS_IMPORT = re.compile(r"""@import\s+(['"])(.*?)\1""", re.IGNORECASE)  # url(...) form: CSS_URL
# <link rel=...> values that only name another page; every other link loads something.
NAVIGATION_RELS = {"canonical", "next", "prev", "index", "search", "alternate", "author",
                   "license", "help", "first", "last", "up", "bookmark"}
# Attributes through which an element loads a resource.
LOADING_ATTRIBUTES = {
    "script": ["src"],
    "img": ["src", "srcset"],
    "source": ["src", "srcset"],
    "iframe": ["src"],
    "frame": ["src"],
    "audio": ["src"],
    "video": ["src", "poster"],
    "track": ["src"],
    "embed": ["src"],
    "object": ["data"],
    "input": ["src"],
    "image": ["href", "xlink:href"],
    "use": ["href", "xlink:href"],
}
BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def html_files(html_dir: Path) -> list[Path]:
    return sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.parts)


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def unexpected_tracebacks(page: BeautifulSoup) -> list[str]:
    """Cell outputs that hold a traceback, outside cells tagged ``raises-exception``."""
    found = []
    for output in page.select(".cell_output"):
        text = output.get_text()
        if output.select_one(".traceback") is None and TRACEBACK_TEXT not in text:
            continue
        cell = output.find_parent(class_="cell")
        if cell is not None and "tag_raises-exception" in cell.get("class", []):
            continue
        found.append(text.strip()[:300])
    return found


def remote_loads_in_html(page: BeautifulSoup) -> list[str]:
    """Resources the page would fetch from the network (plain ``<a href>`` links are allowed)."""
    found = []
    for tag, attributes in LOADING_ATTRIBUTES.items():
        for element in page.find_all(tag):
            for attribute in attributes:
                for value in (element.get(attribute) or "").split(","):
                    if REMOTE.match(value):
                        found.append(f"<{tag} {attribute}={value.strip()!r}>")
    for element in page.find_all("link"):
        rels = {rel.lower() for rel in element.get("rel", [])}
        if rels and rels <= NAVIGATION_RELS:
            continue
        if REMOTE.match(element.get("href") or ""):
            found.append(f"<link rel={sorted(rels)} href={element['href']!r}>")
    styles = [element.get_text() for element in page.find_all("style")]
    styles += [element["style"] for element in page.find_all(style=True)]
    for css in styles:
        found.extend(remote_loads_in_css(css))
    return found


def remote_loads_in_css(css: str) -> list[str]:
    urls = [m.group(2) for m in CSS_URL.finditer(css)] + [m.group(2) for m in CSS_IMPORT.finditer(css)]
    return [f"css url {url!r}" for url in urls if REMOTE.match(url)]


BUILD_LOG: list[str] = []  # the output of the session's build, for the tests that read it


@pytest.fixture(scope="session")
def built_book() -> Path:
    """Build the whole book once, from scratch, as CI does; return the HTML folder."""
    result = build(ROOT)
    BUILD_LOG.append(result.stdout)
    assert result.returncode == 0, (
        f"jupyter-book build failed with exit code {result.returncode}:\n{tail(result.stdout)}"
    )
    assert (HTML / "index.html").is_file()
    return HTML


@pytest.fixture(scope="session")
def pages(built_book: Path) -> dict[Path, BeautifulSoup]:
    return {path: soup(path) for path in html_files(built_book)}


@pytest.fixture(scope="session")
def math_pages(pages: dict[Path, BeautifulSoup]) -> list[Path]:
    """Pages of the book with at least one formula."""
    return [
        path for path, page in pages.items()
        if "book" in path.relative_to(HTML).parts and page.select(".math")
    ]


def test_chapters_run_in_parallel_before_reading_and_reading_finds_them_cached(built_book: Path) -> None:
    """book/_ext/parallel_execution.py stores each chapter as myst-nb would: had a notebook's cache key
    differed, myst-nb would execute it again, one at a time, and the build would only be slower."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the build executes chapters one at a time")
    log = BUILD_LOG[-1]
    assert "Executing notebook using" not in log, tail(log)  # myst-nb's message when it executes a page itself


def test_no_result_is_typed_where_it_could_be_glued(built_book: Path) -> None:
    """A number in a chapter's prose that equals one of its glued values must be the glued value."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    executed = ROOT / "_build" / "jupyter_execute"
    found = {}
    for chapter in (f for f in toc_files(toc) if f.startswith("book/part")):
        record = executed / f"{chapter}.glue.json"
        glued = glued_numbers(json.loads(record.read_text())) if record.is_file() else {}
        typed = typed_glued_numbers((ROOT / f"{chapter}.md").read_text(), glued)
        if typed:
            found[chapter] = typed
    assert not found, found


def test_every_toc_entry_has_a_page(built_book: Path) -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    missing = [f for f in toc_files(toc) if not (built_book / f"{f}.html").is_file()]
    assert not missing, f"no HTML page for: {missing}"


def test_no_cell_output_holds_a_traceback(pages: dict[Path, BeautifulSoup]) -> None:
    problems = {
        str(path.relative_to(HTML)): tracebacks
        for path, page in pages.items()
        if (tracebacks := unexpected_tracebacks(page))
    }
    assert not problems, f"tracebacks outside cells tagged raises-exception: {problems}"


RAW_TABLE = re.compile(r"^\s*\|.*\|\s*$")


def raw_markdown_tables(page: BeautifulSoup) -> list[str]:
    """Lines of a page's visible text (outside code) that look like Markdown table rows: an unrendered table."""
    page = BeautifulSoup(str(page), "html.parser")
    for hidden in page.select("pre, code, script, style"):
        hidden.decompose()
    return [line.strip() for line in page.get_text("\n").splitlines() if RAW_TABLE.match(line)]


def test_no_page_shows_a_raw_markdown_table(pages: dict[Path, BeautifulSoup]) -> None:
    problems = {
        str(path.relative_to(HTML)): rows[:2]
        for path, page in pages.items()
        if (rows := raw_markdown_tables(page))
    }
    assert not problems, f"Markdown tables shown as text: {problems}"


def test_raw_table_detector_finds_unrendered_tables_only() -> None:
    page = BeautifulSoup(
        "<p>| a | b |<br/>|---|---|</p><table><tr><td>a</td></tr></table><pre>| code | stays |</pre>",
        "html.parser",
    )
    assert raw_markdown_tables(page) == ["| a | b |", "|---|---|"]


# TeX that MathJax never saw: dollars or \( left in prose, or a TeX command outside a formula.
RAW_TEX = re.compile(
    r"\$[^$\n]+\$|\\\(|\\\[|\\(?:frac|mathbf|mathcal|sum|prod|left|right|sqrt|alpha|beta|theta|sigma"
    r"|hat|operatorname|begin|log|exp)\b"
)
# An equation's label written out instead of referenced: "Eq. (eq-losses-softmax)".
RAW_LABEL = re.compile(r"\beq-[a-z0-9]+(?:-[a-z0-9]+)+\b")


def raw_tex(page: BeautifulSoup) -> list[str]:
    """Snippets of a page's prose (outside code and typeset formulas) that hold raw TeX."""
    page = BeautifulSoup(str(page), "html.parser")
    for hidden in page.select("pre, code, script, style, .math, .highlight"):
        hidden.decompose()
    text = page.get_text(" ")
    return [text[max(0, m.start() - 30): m.end() + 30].strip() for m in RAW_TEX.finditer(text)]


def raw_labels(page: BeautifulSoup) -> list[str]:
    """Equation labels a reader sees as text, in prose or in code shown on the page."""
    page = BeautifulSoup(str(page), "html.parser")
    for hidden in page.select("script, style"):
        hidden.decompose()
    return RAW_LABEL.findall(page.get_text(" "))


def test_no_page_shows_raw_tex(pages: dict[Path, BeautifulSoup]) -> None:
    problems = {str(path.relative_to(HTML)): found[:3] for path, page in pages.items() if (found := raw_tex(page))}
    assert not problems, f"TeX shown as text, outside a formula: {problems}"


def test_no_page_shows_an_equation_label_as_text(pages: dict[Path, BeautifulSoup]) -> None:
    problems = {str(path.relative_to(HTML)): found[:3] for path, page in pages.items() if (found := raw_labels(page))}
    assert not problems, f"equation labels shown as text (refer to the equation by its number): {problems}"


@pytest.mark.parametrize("html, tex, labels", [
    ("<p>the loss $x^2$ here</p>", True, []),
    ("<p>a ratio \\frac{a}{b} here</p>", True, []),
    ('<p><span class="math notranslate">\\(\\frac{a}{b}\\)</span> typeset</p>', False, []),
    ('<pre>plt.xlabel("$w_1$")</pre>', False, []),
    ("<pre># the mean in Eq. (eq-regularization-dropout)</pre>", False, ["eq-regularization-dropout"]),
    ('<p>see <a href="#equation-eq-losses-softmax">(1)</a></p>', False, []),
])
def test_raw_tex_and_label_detectors(html: str, tex: bool, labels: list[str]) -> None:
    page = BeautifulSoup(html, "html.parser")
    assert bool(raw_tex(page)) is tex
    assert raw_labels(page) == labels


def test_status_page_lists_every_executed_chapter(built_book: Path) -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    status = soup(built_book / "book" / "status.html")
    table = status.find("table")
    assert table is not None, "the status page has no execution table"
    rows = {
        row.find("td").get_text(strip=True): [td.get_text(strip=True) for td in row.find_all("td")]
        for row in table.select("tbody tr")
    }
    executed = [
        f for f in toc_files(toc)
        if (ROOT / f"{f}.ipynb").is_file()
        or (ROOT / f"{f}.md").is_file()
        and is_myst_markdown_notebook((ROOT / f"{f}.md").read_text(encoding="utf-8"))
    ]
    assert sorted(rows) == sorted(executed)
    failed = {doc: row for doc, row in rows.items() if row[-1] != "✅"}
    assert not failed, f"pages that did not execute cleanly: {failed}"


def test_every_chapter_offers_its_notebook_as_ipynb(built_book: Path, pages: dict) -> None:
    """The download menu of each notebook page links an ``.ipynb`` holding the page's code cells."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    sources = {f: (ROOT / f"{f}.md") for f in toc_files(toc) if (ROOT / f"{f}.md").is_file()}
    chapters = {
        f: read_myst_markdown_notebook(text)
        for f, path in sources.items()
        if is_myst_markdown_notebook(text := path.read_text(encoding="utf-8"))
    }
    assert chapters, "no page of the book is a notebook"
    problems = {}
    for chapter, source in chapters.items():
        page_path = built_book / f"{chapter}.html"
        menu = pages[page_path].select_one(".dropdown-download-buttons")
        if menu is None or menu.select_one(".btn-download-source-button") is None:
            problems[chapter] = "no download menu offering the source"
            continue
        links = [a["href"] for a in menu.select("a[href]") if a["href"].endswith(".ipynb")]
        if len(links) != 1:
            problems[chapter] = f"download menu links {links}, not one .ipynb"
            continue
        path = (page_path.parent / links[0]).resolve()
        if built_book.resolve() not in path.parents or not path.is_file():
            problems[chapter] = f"{links[0]} is not a file of the built book"
            continue
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        expected = [(c.source, c.metadata.get("tags", [])) for c in source.cells if c.cell_type == "code"]
        found = [(c.source, c.metadata.get("tags", [])) for c in notebook.cells if c.cell_type == "code"]
        if not expected or found != expected:
            problems[chapter] = f"{len(found)} code cells, not the chapter's {len(expected)}"
        elif notebook.metadata.get("kernelspec") != source.metadata.get("kernelspec"):
            problems[chapter] = f"kernelspec {notebook.metadata.get('kernelspec')}"
    assert not problems, problems


def test_book_has_a_page_with_math(math_pages: list[Path]) -> None:
    assert math_pages, "no page of the book has a formula: the MathJax checks would test nothing"


def test_mathjax_is_served_locally(built_book: Path, pages: dict, math_pages: list[Path]) -> None:
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for path in math_pages:
        sources = [s["src"] for s in pages[path].find_all("script", src=True)]
        mathjax = [src for src in sources if "mathjax" in src.lower()]
        assert mathjax, f"{path.relative_to(HTML)} has math but loads no MathJax"
        for src in mathjax:
            assert not REMOTE.match(src), f"{path.relative_to(HTML)} loads MathJax from {src}"
            local = (path.parent / src.split("?")[0]).resolve()
            assert local.is_file(), f"{path.relative_to(HTML)} loads missing {src}"
            assert (built_book / "_static" / "mathjax") in local.parents


def test_no_page_loads_anything_from_the_network(built_book: Path, pages: dict) -> None:
    problems = {
        str(path.relative_to(built_book)): remote
        for path, page in pages.items()
        if (remote := remote_loads_in_html(page))
    }
    for css in sorted(built_book.rglob("*.css")):
        if remote := remote_loads_in_css(css.read_text(encoding="utf-8", errors="replace")):
            problems[str(css.relative_to(built_book))] = remote
    assert not problems, f"remote resources: {problems}"


def test_traceback_detector_allows_only_cells_tagged_raises_exception() -> None:
    cell = (
        '<div class="cell {tag} docutils container"><div class="cell_output docutils container">'
        '<div class="output {kind} highlight-ipythontb notranslate"><pre>{text}</pre></div>'
        "</div></div>"
    )
    page = BeautifulSoup(
        cell.format(tag="tag_raises-exception", kind="traceback", text="ZeroDivisionError")
        + cell.format(tag="", kind="traceback", text="ValueError: shown")
        + cell.format(tag="", kind="stderr", text=f"{TRACEBACK_TEXT}:\n  KeyError")
        + cell.format(tag="", kind="stream", text="all fine"),
        "html.parser",
    )
    assert len(unexpected_tracebacks(page)) == 2


def test_remote_load_detector_catches_remote_resources() -> None:
    page = BeautifulSoup(
        '<script src="https://cdn.example/x.js"></script>'
        '<link rel="stylesheet" href="//fonts.example/f.css">'
        '<img src="http://example.org/a.png"><a href="https://example.org">fine</a>'
        '<link rel="next" href="https://example.org/next.html">'
        "<style>@import url('https://fonts.example/g.css'); @import '//fonts.example/h.css';"
        " p {background: url(x.png)}</style>"
        '<p style="background: url(https://example.org/b.png)">',
        "html.parser",
    )
    assert len(remote_loads_in_html(page)) == 6


def chromium() -> str | None:
    for name in ("chromium-headless-shell", "chrome-headless-shell"):
        if found := shutil.which(name):
            return found
    return None


def test_equations_are_typeset_in_a_browser(math_pages: list[Path]) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("chromium-headless-shell is not installed (apt-get install chromium-headless-shell)")
    if not math_pages:
        pytest.fail("no page of the book has a formula to render")
    page = math_pages[0]
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, *BROWSER_FLAGS, f"--user-data-dir={profile}",
             "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    dom = BeautifulSoup(result.stdout, "html.parser")
    formulas = dom.select(".math")
    assert formulas, f"no formula in the rendered DOM of {page}"
    raw = [f.get_text()[:80] for f in formulas if f.find("mjx-container") is None]
    assert not raw, f"formulas left as raw TeX in {page.relative_to(HTML)}: {raw}"


# The build command must fail on a broken book: a throwaway book with the real configuration.

TINY_TOC = """\
format: jb-book
root: book/index
parts:
  - caption: Test
    chapters:
      - file: book/chapter
"""
TINY_INDEX = "# Tiny book\n\nSee {ref}`sec-chapter`.\n"
TINY_CHAPTER = """\
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

(sec-chapter)=
# Chapter

```{code-cell} ipython3
:tags: [raises-exception]
1 / 0
```

```{code-cell} ipython3
print(6 * 7)
```
"""
DEFECTS = {
    "failing cell": (
        "```{code-cell} ipython3\nprint(6 * 7)\n```",
        "```{code-cell} ipython3\nraise ValueError('deliberate')\n```",
        "ValueError",
    ),
    "broken cross-reference": (
        "print(6 * 7)\n```\n",
        "print(6 * 7)\n```\n\nSee {ref}`sec-missing-label`.\n",
        "sec-missing-label",
    ),
}


def tiny_book(root: Path, chapter: str) -> Path:
    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    shutil.copytree(ROOT / "book" / "_ext", root / "book" / "_ext",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "_toc.yml").write_text(TINY_TOC)
    (root / "book" / "index.md").write_text(TINY_INDEX)
    (root / "book" / "chapter.md").write_text(textwrap.dedent(chapter))
    return root


def test_tiny_book_builds(tmp_path: Path) -> None:
    result = build(tiny_book(tmp_path, TINY_CHAPTER), timeout=300)
    assert result.returncode == 0, tail(result.stdout)
    chapter = soup(tmp_path / "_build" / "html" / "book" / "chapter.html")
    assert "42" in chapter.get_text()
    assert chapter.select(".tag_raises-exception .traceback"), "the expected traceback is missing"
    assert unexpected_tracebacks(chapter) == []


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_build_fails_on(defect: str, tmp_path: Path) -> None:
    old, new, reason = DEFECTS[defect]
    assert old in TINY_CHAPTER
    result = build(tiny_book(tmp_path, TINY_CHAPTER.replace(old, new)), timeout=300)
    assert result.returncode != 0, f"the build passed despite a {defect}:\n{tail(result.stdout)}"
    assert reason in result.stdout
