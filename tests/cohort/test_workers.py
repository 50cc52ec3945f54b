"""Engine calls spread over worker processes give the answers of one process, in input order."""

from __future__ import annotations

from pathlib import Path

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
