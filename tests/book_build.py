"""The one command that builds the book, shared by every test that builds it.

CI builds from scratch (``--all``: an incremental build would not re-read, and so would not
re-check, pages that warned before), with every warning an error (``-W``), every broken
cross-reference a warning (``-n``), and all problems reported before failing (``--keep-going``).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_ARGS = ("build", ".", "--all", "-W", "-n", "--keep-going")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def jupyter_book() -> list[str]:
    """The ``jupyter-book`` command of the environment running the tests."""
    script = Path(sys.executable).parent / "jupyter-book"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]


def build(root: Path = ROOT, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Build the book whose ``_config.yml`` and ``_toc.yml`` are in ``root``.

    Output goes to ``root / "_build" / "html"``; stdout and stderr are captured together.
    """
    return subprocess.run(
        [*jupyter_book(), *BUILD_ARGS],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def toc_files(toc: dict) -> list[str]:
    """Every ``file:`` entry of a parsed ``_toc.yml`` (sphinx-external-toc), root first."""
    files = [toc["root"]] if "root" in toc else []
    for key in ("parts", "chapters", "sections"):
        for entry in toc.get(key, []):
            if "file" in entry:
                files.append(entry["file"])
            files.extend(toc_files(entry))
    return files


def tail(text: str, lines: int = 80) -> str:
    """The last ``lines`` lines of a build log, to show when a build fails."""
    return "\n".join(ANSI_ESCAPE.sub("", text).splitlines()[-lines:])
