"""``her2cds cases|users|audit`` on both databases."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from her2cds import examples
from her2cds.adapters.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_list_show_export_roundtrip(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = examples.load(examples.DEFAULT)
    bad = {"tumor": {"oncotree_code": "STAD"}, "specimens": [{"id": "B1", "procedure": "scalpel"}]}
    source = tmp_path / "cases.jsonl"
    breast = examples.load("breast-her2-low")
    source.write_text("\n".join([json.dumps(good), "{not json", json.dumps(bad), json.dumps(breast)]) + "\n")
    code, out, _ = _run(capsys, "cases", "import", str(source), "--db", db_url, "--actor", "importer")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1  # some lines failed; every line still has its answer, in order
    assert [line["line"] for line in lines] == [1, 2, 3, 4]
    assert [line["ok"] for line in lines] == [True, False, False, True]
    assert lines[2]["error"]["field"] == "specimens[0].procedure"
    gastric = lines[0]["id"]

    code, out, _ = _run(capsys, "cases", "list", "--db", db_url, "--json")
    assert code == 0
    listed = json.loads(out)
    assert {c["id"] for c in listed} == {gastric, lines[3]["id"]}
    code, out, _ = _run(capsys, "cases", "list", "--db", db_url, "--status", "positive")
    assert gastric in out and lines[3]["id"] not in out

    code, out, _ = _run(capsys, "cases", "show", gastric, "--db", db_url)
    assert code == 0
    assert "HER2 positive" in out and "knowledge base" in out

    export = tmp_path / "export.jsonl"
    code, _, _ = _run(capsys, "cases", "export", "--db", db_url, "--out", str(export))
    records = [json.loads(line) for line in export.read_text().splitlines()]
    assert code == 0 and len(records) == 2
    record = next(r for r in records if r["id"] == gastric)
    assert record["revisions"][0]["document"] == good
    assert record["revisions"][0]["assessments"][0]["kb_version"]

    code, out, _ = _run(capsys, "cases", "import", str(export), "--db", db_url)
    assert code == 0 and all(json.loads(line)["ok"] for line in out.splitlines())
    code, out, _ = _run(capsys, "audit", "--db", db_url, "--json", "--action", "export")
    assert code == 0 and {e["case_id"] for e in json.loads(out)} == {gastric, lines[3]["id"]}
    code, out, _ = _run(capsys, "audit", "--db", db_url, "--case", gastric)
    assert "importer" in out and "create" in out and "view" in out


def test_show_unknown_case_is_a_clear_error(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "cases", "show", "nope", "--db", db_url)
    assert code == 2 and out == ""
    assert "no case with id 'nope'" in err and "Traceback" not in err


def test_users_add_list_disable(db_url: str, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    code, out, _ = _run(capsys, "users", "add", "dr.lee", "--role", "clinician", "--password-stdin", "--db", db_url)
    assert code == 0 and "added dr.lee (clinician)" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = _run(capsys, "users", "add", "dr.kim", "--password-stdin", "--db", db_url)
    assert code == 2 and "password" in err and "at least 10" in err
    code, out, _ = _run(capsys, "users", "list", "--db", db_url, "--json")
    assert json.loads(out)[0] | {"created_at": None} == {
        "username": "dr.lee", "role": "clinician", "disabled": False, "created_at": None,
    }
    code, out, _ = _run(capsys, "users", "disable", "dr.lee", "--db", db_url)
    assert code == 0
    code, out, _ = _run(capsys, "users", "list", "--db", db_url)
    assert "disabled" in out
    code, out, _ = _run(capsys, "audit", "--db", db_url, "--json")
    assert [e["action"] for e in json.loads(out)] == ["user_add", "user_disable"]
    assert "correct horse" not in out


def test_bad_database_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "cases", "list", "--db", "mysql://x/y")
    assert code == 2 and "only sqlite and postgresql" in err
