"""The text report (issue 8): next step first, ids only in the trace, readable ISH, wrapped to the terminal."""

from __future__ import annotations

import her2cds
from her2cds.render.text import render_text

CASE = {
    "id": "t1",
    "tumor": {"oncotree_code": "IDC", "setting": "metastatic"},
    "specimens": [{"id": "S1", "procedure": "resection", "site": "primary", "ihc": {"score": "2+"},
                   "ish": {"ratio": 2.95, "her2_per_cell": 6.2, "cep17_per_cell": 2.1}}],
}


def test_next_step_comes_first_and_ids_stay_in_the_trace() -> None:
    pending = her2cds.assess({**CASE, "specimens": [{"id": "S1", "procedure": "resection", "ihc": {"score": "2+"}}]})
    text = render_text(pending, width=None)
    body, trace = text.split("RULE TRACE", 1)
    lines = body.splitlines()
    patient = next(i for i, line in enumerate(lines) if line.startswith("PATIENT"))
    assert lines[patient].startswith("PATIENT - NEXT: ") and "ISH" in lines[patient]
    assert "HER2 EQUIVOCAL" in lines[patient + 1]
    assert "asco-cap-2018.breast" not in body  # rule and scoring-system ids only in the trace
    assert "asco-cap-2018.breast.ihc.2plus" in trace and "scoring system asco-cap-2018.breast" in trace


def test_ish_reads_as_ratio_and_copies() -> None:
    text = render_text(her2cds.assess(CASE), width=None)
    assert "ratio 2.95, HER2 6.2/cell, group 1, positive" in text


def test_lines_wrap_to_the_width_except_tables() -> None:
    text = render_text(her2cds.assess(CASE), width=60)
    lines = text.splitlines()
    table = {i for i, line in enumerate(lines) if line.startswith(("id  ", "--  ", "S1  "))}
    assert table, "the specimen table is kept"
    assert all(len(line) <= 60 for i, line in enumerate(lines) if i not in table), [
        line for line in lines if len(line) > 60][:3]
