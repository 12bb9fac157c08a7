"""The GitHub workflows are valid and safe before they ever run on GitHub.

Each workflow is checked against GitHub's workflow schema (the copy vendored in check-jsonschema,
so nothing is downloaded) and audited by zizmor in offline mode, which flags unpinned actions,
overly broad permissions, persisted credentials and template injection. Two throwaway workflows
with known defects show that both checks can fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from book_build import BUILD_ARGS, ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
SCHEMA = "vendor.github-workflows"
# owner/repo[/path]@<40 hex digits>  # v<release>
PINNED_USES = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s+v\d[\w.-]*\s*$")

BROKEN_SCHEMA = """\
name: Broken
on: push
jobs:
  test:
    runs_on: ubuntu-latest
    steps:
      - run: echo hello
"""
UNSAFE_WORKFLOW = """\
name: Unsafe
on: pull_request
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""
UNSAFE_FINDINGS = {"artipacked", "excessive-permissions", "template-injection", "unpinned-uses"}


def zizmor() -> str:
    """The ``zizmor`` executable of the environment running the tests."""
    script = Path(sys.executable).parent / "zizmor"
    found = str(script) if script.is_file() else shutil.which("zizmor")
    assert found, "zizmor is not installed: python -m pip install -r requirements.txt"
    return found


def check_schema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", SCHEMA, str(path)],
        capture_output=True, text=True, timeout=120,
    )


def audit(folder: Path) -> list[dict]:
    """zizmor's findings for the workflows in ``folder`` (offline: no GitHub API calls)."""
    result = subprocess.run(
        [zizmor(), "--offline", "--format", "json", str(folder)],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )
    assert result.stdout.strip(), f"zizmor wrote no report (exit code {result.returncode}):\n{result.stderr}"
    return json.loads(result.stdout)


def steps(workflow: Path) -> list[dict]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"].values()
    return [step for job in jobs for step in job.get("steps", [])]


def test_there_are_workflows() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "pages.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(workflow: Path) -> None:
    result = check_schema(workflow)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_misspelled_key(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_SCHEMA)
    result = check_schema(broken)
    assert result.returncode != 0
    assert "runs_on" in result.stdout + result.stderr


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    findings = [f for f in audit(ROOT / ".github" / "workflows") if not f.get("ignored")]
    summary = [
        f"{f['ident']}: {f['desc']} at {[loc['concrete']['feature'] for loc in f['locations']]}"
        for f in findings
    ]
    assert not findings, "\n".join(summary)


def test_zizmor_catches_an_unsafe_workflow(tmp_path: Path) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "unsafe.yml").write_text(UNSAFE_WORKFLOW)
    found = {finding["ident"] for finding in audit(folder)}
    assert UNSAFE_FINDINGS <= found, found


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_commit_named_by_its_release(workflow: Path) -> None:
    lines = [line for line in workflow.read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert lines, f"{workflow.name} uses no action"
    unpinned = [line.strip() for line in lines if not PINNED_USES.match(line)]
    assert not unpinned, f"not `uses: owner/repo@<commit SHA>  # v<release>`: {unpinned}"


def test_pages_builds_the_book_as_the_tests_do() -> None:
    commands = [step.get("run", "") for step in steps(ROOT / ".github" / "workflows" / "pages.yml")]
    assert any(f"jupyter-book {' '.join(BUILD_ARGS)}" in command for command in commands), commands
