"""The README's two commands are what CI runs: the test command runs once, from a copy of the repository alone in
an empty directory (.ci/isolated-tests), never in place."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "readme_command.py"


def _command(which: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), which], capture_output=True, text=True, timeout=30,
                          check=False)


def test_readme_holds_the_two_commands() -> None:
    tests, quick = _command("tests"), _command("quickstart")
    assert tests.returncode == 0 and quick.returncode == 0, (tests.stderr, quick.stderr)
    assert tests.stdout.strip().endswith("python -m pytest -q")
    assert "pip install -c constraints.txt" in tests.stdout and "her2cds assess --example" in quick.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = _command("nope")
    assert result.returncode == 2 and "usage:" in result.stderr


def test_ci_runs_the_suite_once_from_an_isolated_copy() -> None:
    checks = (REPO / ".ci" / "checks").read_text(encoding="utf-8")
    isolated = (REPO / ".ci" / "isolated-tests").read_text(encoding="utf-8")
    assert "bash .ci/isolated-tests" in checks
    assert not re.search(r"^\s*python -m pytest", checks, re.MULTILINE), "the suite must not also run in place"
    assert "tools/readme_command.py tests" in isolated and "mktemp -d" in isolated


@pytest.mark.parametrize("text", ["# x\n", "## Quick start\n\n```bash\na\nb\n```\n"])
def test_a_readme_without_one_command_line_is_refused(text: str, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(text, encoding="utf-8")
    script = f"import sys; sys.path.insert(0, {str(TOOL.parent)!r}); import readme_command as r; " \
             f"r.readme_command('quickstart', open({str(readme)!r}).read())"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1 and "ValueError" in result.stderr
