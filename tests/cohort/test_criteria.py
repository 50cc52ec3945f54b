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
    # <1.8 negative; 1.8-2.2 equivocal (both ends inside); >2.2 positive; a gastric tumor is not re-read
    assert got == {"P0": "negative", "P1": "equivocal", "P2": "equivocal", "P3": "positive", "G": None}
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


def _case_rows() -> list[dict[str, object]]:
    """Patients whose rows exercise every reading: percentages, reported scores, ratios at the cut-offs, single
    probe, bounds, a reported ratio beside the means, dates in every guideline's time, undated rows, several
    specimens, a gastric tumor, an NGS-only row."""
    base: dict[str, object] = {"oncotree_code": "IDC", "procedure": "resection"}
    specs: list[list[dict[str, object]]] = [
        [{"ihc_pct_strong_complete": 40.0, "collected_on": "2010-01-05"}],
        [{"ihc_pct_strong_complete": 15.0, "collected_on": "2015-01-05"}],
        [{"ihc_pct_strong_complete": 30.0, "ihc_pct_weak_moderate_complete": 20.0, "collected_on": "2011-03-01"}],
        [{"ihc_pct_weak_moderate_complete": 30.0, "collected_on": "2016-03-01"}],
        [{"ihc_pct_faint_incomplete": 50.0, "collected_on": "2017-03-01"}],
        [{"ihc_score": "2+", "ish_her2_per_cell": 3.0, "ish_cep17_per_cell": 2.0, "collected_on": "2009-03-01"}],
        [{"ihc_score": "1+", "ish_her2_per_cell": 3.5, "ish_cep17_per_cell": 1.6, "collected_on": "2015-06-01"}],
        [{"ish_ratio": 2.2, "ish_her2_per_cell": 4.4, "ish_cep17_per_cell": 2.0, "collected_on": "2012-01-01"}],
        [{"ish_ratio": 1.8, "ish_her2_per_cell": 3.6, "collected_on": "2008-01-01"}],
        [{"ish_ratio": 2.21, "collected_on": "2008-01-01"}],
        [{"ish_probe": "single", "ish_her2_per_cell": 6.0, "collected_on": "2012-01-01"}],
        [{"ish_probe": "single", "ish_her2_per_cell": 5.0, "collected_on": "2014-01-01"}],
        [{"ish_ratio_bound": ">=2.0", "ish_her2_per_cell": 5.0, "collected_on": "2014-01-01"}],
        [{"ish_ratio_bound": "<2.0", "ish_her2_per_cell": 3.0, "collected_on": "2010-01-01"}],
        [{"ish_ratio": 2.1, "ish_cep17_per_cell": 2.0, "collected_on": "2010-01-01"}],
        [{"ihc_score": "3+", "collected_on": "2020-01-01"}],
        [{"ihc_score": "0", "collected_on": "2005-01-01"}],
        [{"ihc_score": "2+", "collected_on": "2006-12-20"}],
        [{"ihc_score": "2+"}],
        [{"ihc_score": "2+"}, {"ish_her2_per_cell": 3.0, "ish_cep17_per_cell": 2.0, "collected_on": "2009-03-01"}],
        [{"ngs_erbb2_amplified": True, "collected_on": "2010-01-01"},
         {"ihc_score": "3+", "collected_on": "2013-01-01"}],
        [{"ihc_score": "2+", "collected_on": "2019-01-01"}, {"ihc_score": "3+", "collected_on": "2010-01-01"}],
        [{"oncotree_code": "STAD", "ihc_score": "3+", "collected_on": "2010-01-01"}],
        [{"ihc_result": "positive", "collected_on": "2010-01-01"}],
    ]
    columns = sorted({k for spec in specs for row in spec for k in row} | set(base) | {"patient_id"})
    rows = []
    for i, spec in enumerate(specs):
        for row in spec:
            full = dict.fromkeys(columns) | base | row | {"patient_id": f"P{i:02d}"}
            rows.append(full)
    return rows


@pytest.mark.parametrize("criteria", ["asco-cap-2007", "by-date", "asco-cap-2013+unverified", "by-date+unverified"])
def test_cohort_criteria_equal_the_per_case_engine(tmp_path: Path, criteria: str) -> None:
    """The column-wise reading and the per-case engine's criteria block give the same patient status."""
    from her2cds.cohort.cases import case_from_rows
    from her2cds.engine import default_engine

    rows = _case_rows()
    name, _, opt = criteria.partition("+")
    extra = ["--criteria", name] + (["--include-unverified"] if opt else [])
    code, frame = _run(tmp_path, rows, *extra)
    assert code == 0, frame.filter(pl.col("error").is_not_null()).select("id", "error").to_dicts()
    got = dict(zip(frame["id"], frame["criteria_status"], strict=True))
    engine = default_engine()
    expected: dict[str, str | None] = {}
    for pid in dict.fromkeys(str(r["patient_id"]) for r in rows):
        mine = [{k: v for k, v in r.items() if v is not None} for r in rows if r["patient_id"] == pid]
        case = case_from_rows(mine) | {"criteria": name, "include_unverified": bool(opt)}
        reading = engine.assess(case).criteria
        assert reading is not None
        expected[pid] = None if reading.status == "unknown" else reading.status
    assert got == expected
    decided = {v for v in expected.values() if v is not None}
    assert decided == {"positive", "negative", "equivocal"}  # the rows exercise every outcome


def test_by_date_report_and_include_unverified(tmp_path: Path) -> None:
    rows = [{"patient_id": "A", "oncotree_code": "IDC", "procedure": "resection", "ihc_score": "1+",
             "ish_her2_per_cell": 3.5, "ish_cep17_per_cell": 1.6, "collected_on": "2015-06-01"},
            {"patient_id": "B", "oncotree_code": "IDC", "procedure": "resection", "ihc_score": "2+",
             "ish_her2_per_cell": 4.2, "ish_cep17_per_cell": 2.0, "collected_on": "2010-05-04"},
            {"patient_id": "C", "oncotree_code": "IDC", "procedure": "resection", "ihc_score": "2+",
             "ish_her2_per_cell": 4.2, "ish_cep17_per_cell": 2.0, "collected_on": None}]
    report = tmp_path / "r.html"
    code, frame = _run(tmp_path, rows, "--criteria", "by-date", "--report", str(report))
    assert code == 0
    # A: 2015 is ASCO/CAP 2013's time, unverified -> empty; B: 2007 ratio 2.1 equivocal; C: no date -> empty
    assert dict(zip(frame["id"], frame["criteria_status"], strict=True)) == {"A": None, "B": "equivocal", "C": None}
    assert "Reclassification: current status vs by-date" in report.read_text(encoding="utf-8")
    code, frame = _run(tmp_path, rows, "--criteria", "by-date", "--include-unverified")
    assert dict(zip(frame["id"], frame["criteria_status"], strict=True))["A"] == "positive"  # 2013: ratio >=2.0
