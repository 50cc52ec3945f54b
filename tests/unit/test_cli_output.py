"""CLI output a person can use at scale: --summary (<= 300 bytes a line on --batch), --fields, --no-trace, the
default order (id and HER2 first), the progress bar (on a terminal only), and options that are never ignored."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

import her2cds
from her2cds import examples
from her2cds.adapters.cli import main
from her2cds.adapters.cli_output import SUMMARY_LIMIT, summary, summary_line
from her2cds.errors import InvalidInputError
from tests.golden import load_cases

CLI = [sys.executable, "-c", "import sys; from her2cds.adapters.cli import main; sys.exit(main())"]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _distinct_cases() -> list[dict[str, object]]:
    cases = [loaded.case.input for loaded in load_cases() if isinstance(loaded.case.input, dict)]
    cases += [examples.load(name) for name in examples.names()]
    return cases


# -- --summary ----------------------------------------------------------------------------------------------
def test_summary_lines_fit_the_limit_and_say_what_they_left_out() -> None:
    cases = _distinct_cases()
    assert len(cases) > 100
    for case in cases:
        try:
            assessment = her2cds.assess(case)
        except InvalidInputError:
            continue
        line = summary_line(assessment)
        assert len(line.encode()) <= SUMMARY_LIMIT, line
        data, full = json.loads(line), summary(assessment)
        omitted = data.get("omitted", {})
        for name in ("flags", "recommendations", "eligible", "needs"):
            assert data[name] == full[name][: len(data[name])]  # a prefix, never reordered or invented
            assert len(data[name]) + omitted.get(name, 0) == len(full[name]), (name, line)
        assert data["status"] == assessment.her2.status.value
        assert data["versions"].split("/") == [assessment.versions.engine, assessment.versions.knowledge_base,
                                               assessment.versions.as_of.isoformat()]


def test_summary_with_a_long_id_still_fits() -> None:
    case = {**examples.load("breast-her2-low"), "id": "x" * 128}
    line = summary_line(her2cds.assess(case))
    assert len(line.encode()) <= SUMMARY_LIMIT
    assert json.loads(line)["status"] == her2cds.assess(case).her2.status.value


def test_batch_summary_one_short_line_per_input_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = _distinct_cases()[:60]
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases) + "not json\n", encoding="utf-8")
    code, out, err = run(["assess", "--batch", str(path), "--summary"], capsys)
    lines = out.splitlines()
    assert len(lines) == len(cases) + 1
    assert code == 1 and err == ""  # not a terminal: no progress bar
    assert all(len(line.encode()) <= SUMMARY_LIMIT for line in lines)
    assert json.loads(lines[-1])["line"] == len(cases) + 1
    first = json.loads(lines[0])
    assert first["status"] == her2cds.assess(cases[0]).her2.status.value


def test_single_case_summary_is_the_full_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["assess", "--example", "gastric-her2-positive", "--summary"], capsys)
    assessment = her2cds.assess(examples.load("gastric-her2-positive"))
    assert code == 0 and json.loads(out) == summary(assessment)
    assert json.loads(out)["eligible"] == [t.id for t in assessment.therapies if t.eligible]


# -- --fields, --no-trace, order ------------------------------------------------------------------------------
def test_fields_selects_dotted_paths_and_keeps_versions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["assess", "--example", "--fields", "id,her2.status,specimens.status"], capsys)
    data = json.loads(out)
    full = her2cds.assess(examples.load()).model_dump(mode="json")
    assert code == 0
    assert list(data) == ["id", "her2.status", "specimens.status", "versions"]
    assert data["specimens.status"] == [s["status"] for s in full["specimens"]]
    assert data["versions"] == full["versions"]


def test_fields_give_compact_fields_left_out_when_empty_as_empty(capsys: pytest.CaptureFixture[str]) -> None:
    """The compact document leaves empty `needs` and null `specimen` out (D14.5); --fields still answers them.
    The ruled-out options are in `ruled_out` (D14.9), the others in `therapies`."""
    code, out, _ = run(["assess", "--example", "nsclc-erbb2-mutant", "--fields",
                        "therapies.needs,therapies.criteria,trace.specimen,ruled_out"], capsys)
    data = json.loads(out)
    full = her2cds.assess(examples.load("nsclc-erbb2-mutant")).expanded()
    considered = [o for o in full.therapies if o.outcome != "not_eligible"]
    assert code == 0
    assert data["therapies.needs"] == [list(o.needs) for o in considered]
    assert [] in data["therapies.needs"] and any(data["therapies.needs"])
    assert data["therapies.criteria"] == [{c.id: c.result for c in o.criteria} for o in considered]
    assert data["trace.specimen"] == [e.specimen for e in full.trace] and None in data["trace.specimen"]
    assert data["ruled_out"] == {o.id: [c.id for c in o.criteria if c.result == "not_met"]
                                 for o in full.therapies if o.outcome == "not_eligible"}


@pytest.mark.parametrize("fields", ["therapies.history_used", "trace.sources"])
def test_expanded_only_fields_need_expand(fields: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["assess", "--example", "--fields", fields], capsys)
    assert code == 2 and out == "" and "--expand" in err
    code, out, _ = run(["assess", "--example", "--expand", "--fields", fields], capsys)
    assert code == 0 and json.loads(out)[fields]


@pytest.mark.parametrize("fields", ["nope", "her2.nope", "id.x", ","])
def test_unknown_fields_are_a_usage_error(fields: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["assess", "--example", "--fields", fields], capsys)
    assert code == 2 and out == "" and "--fields" in err


def test_no_trace_applies_to_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["assess", "--example", "--no-trace"], capsys)
    data = json.loads(out)
    assert code == 0 and "trace" not in data and data["her2"]["status"]
    _, out, _ = run(["assess", "--example"], capsys)
    assert json.loads(out)["trace"]


def test_default_output_leads_with_id_and_her2(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["assess", "--example"], capsys)
    data = json.loads(out)
    assert list(data)[:3] == ["id", "her2", "tumor"]
    assert list(data["her2"])[:3] == ["status", "ihc_score", "category"]


# -- options never ignored -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "says"), [
    (["assess", "--batch", "--format", "text", "-"], "--format text"),
    (["assess", "--batch", "--output", "fhir", "-"], "--output fhir"),
    (["assess", "--batch", "--example"], "--example"),
    (["assess", "--batch", "--example", "thymic-rare"], "--example"),
    (["assess", "--example", "--summary", "--fields", "id"], "either --summary or --fields"),
    (["assess", "--example", "--summary", "--format", "text"], "--format text"),
    (["assess", "--example", "--fields", "id", "--output", "fhir"], "--output fhir"),
    (["assess", "--example", "--no-trace", "--output", "fhir"], "--no-trace"),
    (["kb", "list", "--kind", "UNKNOWN"], "threshold"),
])
def test_options_that_cannot_apply_are_usage_errors(argv: list[str], says: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2, err
    assert out == "" and says in err and "Traceback" not in err


def test_batch_example_does_not_read_stdin() -> None:
    # stdin is a pipe that never closes: reading it would hang (the old behaviour)
    read_fd, write_fd = os.pipe()
    try:
        result = subprocess.run([*CLI, "assess", "--batch", "--example"], stdin=read_fd, capture_output=True,
                                text=True, timeout=60, check=False)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert result.returncode == 2 and "--example" in result.stderr


def test_json_array_suggests_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([examples.load(), examples.load()]), encoding="utf-8")
    code, out, err = run(["assess", str(path)], capsys)
    assert code == 2 and out == ""
    assert "JSON array of 2" in err and "--batch" in err


def test_kb_list_known_kind_still_lists(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["kb", "list", "--kind", "threshold"], capsys)
    rows = out.splitlines()
    assert code == 0 and rows and all(r.split("\t")[1] == "threshold" for r in rows)


@pytest.mark.parametrize(("yaml_text", "check"), [
    ("id: 1\ntumor: {oncotree_code: BRCA}\nspecimens:\n  - id: 2\n    procedure: biopsy\n    ihc: {score: 0}\n",
     lambda d: d["id"] == "1" and d["specimens"][0]["id"] == "2" and d["her2"]["ihc_score"] == "0"),
    ("tumor: {oncotree_code: BRCA}\nspecimens:\n  - id: S1\n    procedure: biopsy\n    ihc: {score: 3}\n",
     lambda d: d["her2"]["ihc_score"] == "3+" and d["her2"]["status"] == "positive"),
])
def test_unquoted_yaml_numbers_mean_what_a_person_typed(yaml_text: str, check: object, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    code, out, err = run(["assess", str(path)], capsys)
    assert code == 0, err
    assert callable(check) and check(json.loads(out))


@pytest.mark.parametrize("score", ["4", "true", "1.5"])
def test_other_unquoted_scores_stay_invalid(score: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(f"tumor: {{oncotree_code: BRCA}}\nspecimens:\n  - id: S1\n    procedure: biopsy\n"
                    f"    ihc: {{score: {score}}}\n", encoding="utf-8")
    code, _, err = run(["assess", str(path)], capsys)
    assert code == 2 and "score" in err


# -- progress bar ----------------------------------------------------------------------------------------------
def _batch_file(tmp_path: Path, count: int) -> Path:
    cases = _distinct_cases()
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(cases[i % len(cases)]) + "\n" for i in range(count)), encoding="utf-8")
    return path


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    path = _batch_file(tmp_path, 40)
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([*CLI, "assess", "--batch", str(path), "--summary"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        chunks: list[bytes] = []
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        os.close(master)
    err = b"".join(chunks).decode()
    assert proc.returncode in (0, 1)
    assert len(stdout.decode().splitlines()) == 40  # the bar never goes to stdout
    assert "40/40" in err and "[" in err and "/s" in err
    assert not any(ch in err for ch in "{}")  # counts only: nothing of the cases


def test_no_progress_bar_in_a_pipe(tmp_path: Path) -> None:
    path = _batch_file(tmp_path, 10)
    result = subprocess.run([*CLI, "assess", "--batch", str(path), "--summary"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode in (0, 1) and result.stderr == ""
    assert len(result.stdout.splitlines()) == 10
