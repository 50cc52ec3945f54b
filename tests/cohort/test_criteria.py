"""``--criteria``: superseded ASCO/CAP criteria compiled from the knowledge base's legacy rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl
import pytest

from her2cds.adapters.cli import main
from her2cds.cohort.report import read_slim
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.rules.compiled import compile_knowledge


def _run(tmp_path: Path, rows: Sequence[Mapping[str, object]], *extra: str) -> tuple[int, pl.DataFrame]:
    data = tmp_path / "in.csv"
    pl.DataFrame(rows).write_csv(data)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("columns: {" + ", ".join(f"{c}: {c}" for c in rows[0]) + "}\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    code = main(["cohort", "run", str(data), "--format", "table", "--mapping", str(mapping), "--out", str(out),
                 *extra])
    return code, read_slim(out)


def _threshold(kb: KnowledgeBase, rule_prefix: str) -> list[float]:
    ck = compile_knowledge(kb)
    return sorted({c.value for r in ck.legacy if r.id.startswith(rule_prefix) for c in r.conditions
                   if c.measure == "ish.ratio"})


def test_asco_cap_2007_reads_ratios_by_the_kb_cut_offs(tmp_path: Path, kb: KnowledgeBase) -> None:
    low, high = _threshold(kb, "asco-cap-2007.")  # 1.8 (>=, equivocal) and 2.2 (> positive) from the data
    ratios = [low - 0.01, low, high, high + 0.01]
    rows = [{"patient_id": f"P{i}", "oncotree_code": "IDC", "procedure": "resection", "ihc_score": "2+",
             "ish_ratio": r, "ish_her2_per_cell": 3.0} for i, r in enumerate(ratios)]
    rows.append({"patient_id": "G", "oncotree_code": "STAD", "procedure": "resection", "ihc_score": "2+",
                 "ish_ratio": low, "ish_her2_per_cell": 3.0})
    code, frame = _run(tmp_path, rows, "--criteria", "asco-cap-2007", "--report", str(tmp_path / "r.html"))
    assert code == 0
    got = dict(zip(frame["id"], frame["criteria_status"], strict=True))
    # <1.8 negative; 1.8-2.2 equivocal (both ends inside); >2.2: the KB has no 2007 rule -> empty, not a guess
    assert got == {"P0": "negative", "P1": "equivocal", "P2": "equivocal", "P3": None, "G": None}
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Reclassification: current status vs asco-cap-2007" in page


def test_default_output_has_the_fixed_columns_only(tmp_path: Path) -> None:
    rows = [{"patient_id": "P", "oncotree_code": "IDC", "procedure": "resection", "ihc_score": "1+"}]
    _, frame = _run(tmp_path, rows)
    assert "criteria_status" not in frame.columns


def test_unverified_criteria_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"patient_id": "P", "oncotree_code": "IDC", "procedure": "resection", "ihc_score": "1+"}]
    data = tmp_path / "in.csv"
    pl.DataFrame(rows).write_csv(data)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("columns: {patient_id: patient_id}\n", encoding="utf-8")
    code = main(["cohort", "run", str(data), "--format", "table", "--mapping", str(mapping),
                 "--out", str(tmp_path / "o.csv"), "--criteria", "asco-cap-2013"])
    err = capsys.readouterr().err
    assert code == 2 and "unverified" in err and "asco-cap-2013.breast.ish" in err
