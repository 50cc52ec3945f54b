"""Engine calls spread over worker processes give the answers of one process, in input order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from her2cds.adapters.cli import main
from her2cds.cohort.columns import ALL_COLUMNS
from her2cds.cohort.generate import generate
from her2cds.cohort.workers import MIN_PER_PROCESS, EngineCalls
from her2cds.engine import Engine


def test_worker_processes_give_the_same_answers_in_order(engine: Engine) -> None:
    rows = list(generate(engine.kb, 400, seed=41).select(ALL_COLUMNS).iter_rows(named=True))
    assert len(rows) >= 3 * MIN_PER_PROCESS
    alone = EngineCalls(engine, 1)
    shared = EngineCalls(engine, 3)
    try:
        answers = shared.answers([[row] for row in rows])
        signatures = shared.signatures(rows)
        assert shared.started == 2  # two workers and this process
        assert answers == alone.answers([[row] for row in rows])
        assert signatures == alone.signatures(rows)
        assert alone.started == 0
        # distinct answers and rejected specimens among them: the order is checked, not only the multiset
        assert len({str(a) for a in answers}) > 20 and any(a["error"] for a in answers) and None in signatures
        small = rows[: MIN_PER_PROCESS - 1]
        assert shared.answers([[row] for row in small]) == alone.answers([[row] for row in small])
    finally:
        shared.close()
    assert shared.started == 2 and not shared._workers


def test_processes_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cohort", "run", str(tmp_path / "x.csv"), "--format", "table", "--out", str(tmp_path / "o.csv"),
                 "--processes", "0"])
    assert code == 2 and "--processes must be at least 1: 0" in capsys.readouterr().err


def test_workers_started_before_any_call_answer_alike(engine: Engine) -> None:
    rows = list(generate(engine.kb, 300, seed=42).select(ALL_COLUMNS).iter_rows(named=True))
    alone = EngineCalls(engine, 1)
    alone.start()  # one process: nothing to start
    early = EngineCalls(engine, 2)
    try:
        early.start()
        assert early.started == 1 and len(early._workers) == 1
        early.start()  # (already running: no second worker)
        assert early.started == 1
        assert early.answers([[row] for row in rows]) == alone.answers([[row] for row in rows])
        assert early.signatures(rows) == alone.signatures(rows)
        assert early.started == 1 and alone.started == 0
    finally:
        early.close()
    assert not early._workers


def test_a_run_starts_its_worker_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import polars as pl

    from her2cds.cohort import run as cohort_run
    from her2cds.cohort.mapping import TableMapping

    events: list[str] = []
    read = pl.LazyFrame.collect_batches
    start = EngineCalls.start

    def reading(self: pl.LazyFrame, *args: Any, **kwargs: Any) -> Any:
        events.append("read")
        return read(self, *args, **kwargs)

    def starting(self: EngineCalls) -> None:
        events.append("start")
        start(self)

    monkeypatch.setattr(EngineCalls, "start", starting)
    monkeypatch.setattr(pl.LazyFrame, "collect_batches", reading)
    data = tmp_path / "rows.csv"
    generate(Engine().kb, 50, seed=43).drop("row", "source", "read_error").select(
        "patient_id", "oncotree_code", "ihc_score").write_csv(data)
    mapping = TableMapping(columns={"patient_id": "patient_id", "oncotree_code": "oncotree_code",
                                    "ihc_score": "ihc_score"})
    stats = cohort_run.run(cohort_run.Options(inputs=[str(data)], fmt="table", out=tmp_path / "o.parquet",
                                              mapping=mapping, processes=2))
    assert events == ["start", "read"]
    assert stats.rows == 50 and pl.read_parquet(tmp_path / "o.parquet").height == stats.patients
