"""``her2cds assess --region`` (docs/therapy.md "Regions"): one case, batch, text output; the case's own region wins."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

import her2cds
from her2cds.adapters.cli import main

# second-line HER2-positive metastatic breast cancer: T-DXd has a verified EU record (EMA product page)
CASE = {
    "tumor": {"oncotree_code": "IDC", "setting": "metastatic"},
    "specimens": [{"id": "S1", "procedure": "resection", "ihc": {"score": "3+"}}],
    "history": {"regimens": [{"agents": ["THP"], "setting": "metastatic", "line": 1, "progressed": True}]},
}
TDXD = "fda.trastuzumab-deruxtecan.breast-her2-positive-pretreated"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().out


def _status(therapies: list[dict[str, object]], option_id: str) -> object:
    return next(t for t in therapies if t["id"] == option_id)["region_status"]


def test_region_eu_shows_the_eu_status_compact_and_expanded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(CASE), encoding="utf-8")
    code, out = _run(["assess", str(path), "--region", "eu"], capsys)
    assert code == 0
    compact = json.loads(out)["therapies"]
    assert _status(compact, TDXD) == "EU: conditional marketing authorisation 2021-01-18 (EMA)"
    assert all(str(t["region_status"]).startswith("EU: ") for t in compact)
    code, out = _run(["assess", str(path), "--region", "eu", "--expand"], capsys)
    full = next(t for t in json.loads(out)["therapies"] if t["id"] == TDXD)
    assert [r["agency"] for r in full["regulatory"]] == ["FDA", "EMA"]
    code, out = _run(["assess", str(path)], capsys)
    assert all("region_status" not in t for t in json.loads(out)["therapies"])
    default = json.loads(out)
    assert default == her2cds.assess(CASE).model_dump(mode="json") | {"assessed_on": default["assessed_on"]}


def test_region_eu_text_output_names_the_eu_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(CASE), encoding="utf-8")
    code, out = _run(["assess", str(path), "--region", "eu", "--format", "text"], capsys)
    assert code == 0
    assert "EU: conditional marketing authorisation 2021-01-18 (EMA); US: FDA regular approval" in out
    assert "EU: no EU marketing authorisation recorded" in out


def test_batch_region_applies_to_every_line_and_the_cases_own_region_wins(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [json.dumps(CASE), json.dumps({**CASE, "region": "us"}), "{bad"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out = _run(["assess", "--batch", "-", "--region", "eu"], capsys)
    first, second, third = (json.loads(x) for x in out.splitlines())
    assert code == 1 and "error" in third
    assert _status(first["therapies"], TDXD) == "EU: conditional marketing authorisation 2021-01-18 (EMA)"
    assert all("region_status" not in t for t in second["therapies"])


def test_unknown_region_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["assess", "--example", "--region", "jp"])
    assert info.value.code == 2
    assert "--region" in capsys.readouterr().err


def test_a_bad_region_in_the_case_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps({**CASE, "region": "mars"}), encoding="utf-8")
    code = main(["assess", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "region" in err and "mars" in err
