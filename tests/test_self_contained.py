"""The repository is self-contained: tests read fixtures from tests/fixtures (each folder with a SOURCE.md naming
origin, version and licence), and nothing in the repository reads a ``shared`` folder beside the checkout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
# the folder's name, spelled in two parts so that repository-wide greps for the path do not flag this detector
_S = "sh" + "ared"
# ../<folder>, ..\\<folder>, Path(...).parent / "<folder>", parents[2] / "<folder>"
SHARED_READ = re.compile(r"\.\.[/\\]shared\b|(?:parent|parents\[\d+\])\s*/\s*[\"']shared[\"']")


def _tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=30)
        names = [n for n in out.stdout.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):  # a copy without .git (an sdist, a plain copy): walk it
        names = [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file()
                 and not any(part in (".git", "node_modules", "__pycache__") or part.startswith((".venv", ".mypy",
                                                                                                  ".ruff", ".pytest"))
                             for part in p.relative_to(REPO).parts)]
    keep = (".py", ".md", ".toml", ".yaml", ".yml", ".txt", ".cfg", ".ini", ".json", ".sh", "")
    return [REPO / n for n in names if Path(n).suffix in keep and (REPO / n).is_file()
            and not n.startswith("tests/fixtures/")]


def test_nothing_reads_a_shared_folder_beside_the_repository() -> None:
    here = Path(__file__).resolve()
    offenders = []
    for path in _tracked_text_files():
        if path.resolve() == here:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{path.relative_to(REPO)}:{n}" for n, line in enumerate(text.splitlines(), 1)
                      if SHARED_READ.search(line)]
    assert not offenders, offenders


def test_the_pattern_catches_the_old_ways_of_reading_shared() -> None:
    for line in (f'FIXTURES = REPO.parent / "{_S}" / "fixtures"', f"../{_S}/fixtures/fhir",
                 f"Path(__file__).parents[2] / '{_S}'"):
        assert SHARED_READ.search(line), line
    assert not SHARED_READ.search("identical options are shared between assessments")


@pytest.mark.parametrize("folder", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_every_fixture_folder_names_origin_version_and_licence(folder: str) -> None:
    source = FIXTURES / folder / "SOURCE.md"
    assert source.is_file(), f"tests/fixtures/{folder} has no SOURCE.md"
    text = source.read_text(encoding="utf-8")
    assert "https://" in text, f"{source}: no origin"
    assert re.search(r"commit [0-9a-f]{7,40}", text), f"{source}: no version (commit)"
    assert re.search(r"licen[cs]e", text, re.IGNORECASE), f"{source}: no licence"
    if "Apache-2.0" in text:
        assert (FIXTURES / folder / "LICENSE-Apache-2.0.txt").is_file(), f"{folder}: Apache-2.0 needs its text"


def test_fixture_folders_exist() -> None:
    assert {"cds-hooks", "fhir", "oncotree"} <= {p.name for p in FIXTURES.iterdir() if p.is_dir()}
