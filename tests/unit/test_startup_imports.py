"""Start-up of ``her2cds assess`` (issue 14 item 5, D14.4): the command imports only what assessing one case
needs. The optional stacks (service, store, cohort, FHIR, app, PDF) are imported by their own commands only,
and with the precompiled knowledge base no YAML parser either. Checked on the modules a real process loaded,
not on time (timing is bench/startup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# a fresh interpreter runs the CLI in-process, then reports what it imported (stdout carries the assessment)
_PROBE = (
    "import json, sys\n"
    "from her2cds.adapters.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "sys.stderr.write('\\nMODULES ' + json.dumps(sorted(sys.modules)) + '\\n')\n"
    "raise SystemExit(code)\n"
)

# top-level packages (and her2cds subpackages) that `assess` must never pull in
HEAVY = (
    "fastapi", "starlette", "uvicorn", "httpx", "httpcore", "anyio", "asyncio", "sqlalchemy", "alembic",
    "psycopg", "polars", "pyarrow", "pyspark", "jinja2", "weasyprint", "jsonschema", "fhir", "joserfc",
    "cryptography", "argon2", "playwright", "multipart", "pydantic_settings",
    "her2cds.adapters.api", "her2cds.adapters.cdshooks", "her2cds.adapters.fhir", "her2cds.store",
    "her2cds.cohort", "her2cds.app", "her2cds.render",
)


def _imported(args: list[str], cache: Path) -> tuple[set[str], dict[str, Any]]:
    env = {**os.environ, "HER2CDS_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES "))), json.loads(proc.stdout)


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.slow
def test_assess_example_imports_no_optional_stack_and_no_yaml_once_precompiled(tmp_path: Path) -> None:
    cold, document = _imported(["assess", "--example"], tmp_path)  # first run: parses the YAML, writes the entries
    assert document["her2"]["status"] and document["versions"]["engine"]  # it really assessed the case
    assert "yaml" in cold  # the probe sees a real import (the check below could otherwise never fail)
    assert _heavy(cold) == []
    warm, _ = _imported(["assess", "--example"], tmp_path)
    assert _heavy(warm) == []
    assert "yaml" not in warm
    assert {"her2cds.engine", "her2cds.model.case", "her2cds.knowledge.loader"} <= warm


def test_the_probe_would_catch_a_heavy_import(tmp_path: Path) -> None:
    """The same probe on a command that does use an optional stack reports it (the list is not vacuous)."""
    modules, bundle = _imported(["assess", "--example", "--output", "fhir"], tmp_path)
    assert bundle["resourceType"] == "Bundle"
    assert "her2cds.adapters.fhir" in modules
    assert "her2cds.adapters.fhir" in _heavy(modules)


@pytest.mark.slow
def test_batch_of_json_lines_imports_no_yaml_once_precompiled(tmp_path: Path) -> None:
    """``--batch`` reads JSON only: the YAML reader (reading_yaml, PyYAML) is imported on first use, not by the
    strict JSON reader (D14i.1)."""
    lines = tmp_path / "cases.jsonl"
    lines.write_text(json.dumps({"id": "p1", "tumor": {"oncotree_code": "STAD"},
                                 "specimens": [{"id": "s1", "procedure": "biopsy", "ihc": {"score": "3+"}}]}) + "\n")
    _imported(["assess", "--example"], tmp_path)  # writes the precompiled entries
    warm, answer = _imported(["assess", "--batch", str(lines)], tmp_path)
    assert answer["id"] == "p1" and answer["her2"]["status"]  # the line was assessed
    assert "her2cds.reading" in warm and "her2cds.engine" in warm
    assert "yaml" not in warm and "her2cds.reading_yaml" not in warm
