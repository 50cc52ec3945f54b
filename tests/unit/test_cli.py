"""The CLI contract: outputs, exit codes and one-line errors naming the field and value."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import her2cds
from her2cds import examples
from her2cds.adapters.cli import main
from tests.golden import load_cases

EXAMPLE = examples.load()


def run(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None,
        monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        assert monkeypatch is not None
        import io

        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_assess_file_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(EXAMPLE), encoding="utf-8")
    code, out, _ = run(["assess", str(path)], capsys)
    assert code == 0
    assert json.loads(out) == her2cds.assess(EXAMPLE).model_dump(mode="json")


def test_assess_yaml_and_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    yaml_case = "tumor:\n  oncotree_code: IDC\nspecimens:\n  - {id: S1, procedure: resection, ihc: {score: '3+'}}\n"
    code, out, _ = run(["assess", "-"], capsys, yaml_case, monkeypatch)
    assert code == 0
    assert json.loads(out)["her2"]["status"] == "positive"


def test_assess_text_has_table_and_trace(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["assess", "--example", "--format", "text"], capsys)
    assert code == 0
    assert "PATIENT - NEXT:" in out and "HER2 POSITIVE" in out
    assert "SPECIMENS (date order)" in out
    assert "RULE TRACE" in out and "cap-ascp-asco-2016.gea.ish.positive" in out
    assert "knowledge base" in out


def test_every_example_assesses(capsys: pytest.CaptureFixture[str]) -> None:
    for name in examples.names():
        code, out, _ = run(["assess", "--example", name], capsys)
        assert code == 0, name
        assert json.loads(out)["versions"]["knowledge_base"]


@pytest.mark.parametrize(
    ("case", "field", "value"),
    [
        ({"tumor": {"oncotree_code": "STAD"}, "specimens": [{"id": "S1", "procedure": "biopsy",
          "ihc": {"percent": {"strong_complete": 120}}}]}, "specimens[0].ihc.percent.strong_complete", "120"),
        ({"tumor": {"oncotree_code": "NOPE"}}, "tumor.oncotree_code", "'NOPE'"),
        ({"tumor": {"oncotree_code": "STAD"}, "specimens": [{"id": "S1", "procedure": "biopsy",
          "ish": {"her2_per_cell": -2}}]}, "specimens[0].ish.her2_per_cell", "-2"),
        ({"tumor": {"oncotree_code": "LUAD"}, "specimens": [{"id": "S1", "procedure": "plasma",
          "ngs": {"erbb2_variants": ["p.Y772_A775dup", "not-hgvs"]}}]}, "specimens[0].ngs.erbb2_variants[1]",
         "'not-hgvs'"),
    ],
)
def test_invalid_input_exit_2_names_field_and_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: dict[str, object], field: str, value: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    code, out, err = run(["assess", str(path)], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert field in err and value in err
    assert "Traceback" not in err


def test_malformed_json_names_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "tumor": {"oncotree_code": "STAD"},,\n}', encoding="utf-8")
    code, _, err = run(["assess", str(path)], capsys)
    assert code == 2
    assert "line 2" in err and "column" in err


def test_missing_file_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["assess", "/no/such/file.json"], capsys)
    assert code == 2 and "cannot read" in err


def test_batch_keeps_every_line_in_order(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    good = json.dumps(EXAMPLE)
    lines = [good, "{bad json", json.dumps({"tumor": {"oncotree_code": "XX"}}), "", good]
    code, out, _ = run(["assess", "--batch", "-"], capsys, "\n".join(lines) + "\n", monkeypatch)
    assert code == 1
    records = [json.loads(x) for x in out.splitlines()]
    assert len(records) == len(lines)
    assert records[0] == her2cds.assess(EXAMPLE).model_dump(mode="json")
    assert records[1]["line"] == 2 and "not valid JSON" in records[1]["error"]["message"]
    assert records[2] == {"line": 3, "error": {"field": "tumor.oncotree_code",
                                               "message": records[2]["error"]["message"]}}
    assert "'XX'" in records[2]["error"]["message"]
    assert records[3]["line"] == 4
    assert records[4] == records[0]


def test_batch_agrees_with_python_api_on_golden_cases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = [c.case.input for c in load_cases() if c.case.expect is not None]
    assert len(inputs) >= 10
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in inputs) + "\n", encoding="utf-8")
    code, out, _ = run(["assess", "--batch", str(path)], capsys)
    assert code == 0
    outputs = [json.loads(x) for x in out.splitlines()]
    assert len(outputs) == len(inputs)
    for given, got in zip(inputs, outputs, strict=True):
        assert got == her2cds.assess(given).model_dump(mode="json")


def test_kb_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["kb", "validate"], capsys)
    assert code == 0 and "is valid" in out
    code, out, _ = run(["kb", "list", "--json"], capsys)
    entries = json.loads(out)
    assert code == 0 and all({"id", "kind", "sources", "status"} <= e.keys() for e in entries)
    code, out, _ = run(["kb", "show", "heracles.crc.ihc.3plus-ge50"], capsys)
    assert code == 0 and json.loads(out)["id"] == "heracles.crc.ihc.3plus-ge50"
    code, _, err = run(["kb", "show", "nope"], capsys)
    assert code == 2 and "nope" in err


def test_kb_validate_invalid_directory_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["kb", "validate", "--path", str(tmp_path)], capsys)
    assert code == 1 and "NOT valid" in err


def test_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["schema"], capsys)
    schemas = json.loads(out)
    assert code == 0 and "properties" in schemas["input"] and "her2" in schemas["output"]["properties"]


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["assess", "--format", "pdf"])
    assert info.value.code == 2


def test_console_script_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "her2cds.adapters.cli", "--version"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == f"her2cds {her2cds.__version__}"


def test_assess_fhir_bundle_in_and_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fhir import helpers as h

    bundle = h.bundle(
        h.patient(), h.gastric_condition(),
        h.observation("ihc1", "18474-7", valueCodeableConcept=h.concept(text="3+")),
    )
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    code, out, _ = run(["assess", "--fhir", str(path)], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["tumor"]["family"] == "family.gastroesophageal"
    assert result["her2"]["status"] == "positive"
    code, out, _ = run(["assess", "--fhir", str(path), "--output", "fhir"], capsys)
    assert code == 0
    out_bundle = json.loads(out)
    assert out_bundle["resourceType"] == "Bundle"
    observations = [e["resource"] for e in out_bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    patient_level = [o for o in observations if o["code"]["coding"][0]["code"] == "48676-1"]
    assert patient_level
    assert any(o.get("subject", {}).get("reference") == "Patient/p1" for o in patient_level)
    assert any("Observation/ihc1" in json.dumps(o.get("derivedFrom", [])) for o in patient_level)


def test_batch_error_carries_the_case_id(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad record says which case it was, besides its line number (issue 8)."""
    lines = [json.dumps({"id": "reg-0042", "tumor": {"oncotree_code": "XX"}}),
             json.dumps({"tumor": {"oncotree_code": "XX"}})]
    code, out, _ = run(["assess", "--batch", "-"], capsys, "\n".join(lines) + "\n", monkeypatch)
    assert code == 1
    first, second = (json.loads(x) for x in out.splitlines())
    assert first["line"] == 1 and first["id"] == "reg-0042" and first["error"]["field"] == "tumor.oncotree_code"
    assert second["line"] == 2 and "id" not in second
