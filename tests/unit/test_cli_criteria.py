"""``her2cds assess --criteria``: the option reaches every case (single, batch), is shown in every output form
(JSON, text, --summary), and never silently replaces a case's own criteria."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.test_cli import run as _run

CASE = {"id": "C1", "tumor": {"oncotree_code": "IDC", "setting": "metastatic"},
        "specimens": [{"id": "S1", "procedure": "resection", "site": "primary", "collected_on": "2010-05-04",
                       "ish": {"her2_per_cell": 4.2, "cep17_per_cell": 2.0}}]}


def test_assess_criteria_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(CASE), encoding="utf-8")
    code, out, _ = _run(["assess", str(path), "--criteria", "by-date"], capsys)
    data = json.loads(out)
    assert code == 0 and data["her2"]["status"] == "positive"  # the current answer is unchanged
    assert data["criteria"]["requested"] == "by-date" and data["criteria"]["status"] == "equivocal"
    assert data["criteria"]["specimens"][0]["criteria"] == "asco-cap-2007"
    code, out, _ = _run(["assess", str(path)], capsys)
    assert json.loads(out)["criteria"] is None  # no option: no re-reading


def test_assess_criteria_text_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(CASE), encoding="utf-8")
    code, out, _ = _run(["assess", str(path), "--criteria", "asco-cap-2007", "--format", "text"], capsys)
    assert code == 0 and "SUPERSEDED CRITERIA (asco-cap-2007): EQUIVOCAL" in out
    code, out, _ = _run(["assess", str(path), "--criteria", "asco-cap-2007", "--summary"], capsys)
    assert json.loads(out)["criteria"] == "equivocal"
    code, out, _ = _run(["assess", str(path), "--summary"], capsys)
    assert "criteria" not in json.loads(out)


def test_assess_criteria_conflict_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps({**CASE, "criteria": "asco-cap-2007"}), encoding="utf-8")
    code, _, err = _run(["assess", str(path), "--criteria", "by-date"], capsys)
    assert code == 2 and "criteria" in err and "asco-cap-2007" in err


def test_assess_batch_criteria_every_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cases.jsonl"
    lines = [CASE, {**CASE, "id": "C2", "criteria": "asco-cap-2013"}, {**CASE, "id": "C3"}]
    path.write_text("\n".join(json.dumps(c) for c in lines) + "\n", encoding="utf-8")
    code, out, _ = _run(["assess", "--batch", str(path), "--criteria", "asco-cap-2007"], capsys)
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(results) == 3  # every line answered; the conflicting one as an error line
    assert results[0]["criteria"]["status"] == "equivocal" and results[2]["criteria"]["requested"] == "asco-cap-2007"
    assert results[1]["error"]["field"] == "criteria"
