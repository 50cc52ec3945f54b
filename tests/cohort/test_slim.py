"""The slim answer read from the engine's evaluation (cohort mode's call) equals the one read from the whole
assessment (the per-case engine), on generated cases of every kind, errors included."""

from __future__ import annotations

from typing import Any

from her2cds.cohort.cases import patient_key
from her2cds.cohort.columns import ALL_COLUMNS
from her2cds.cohort.generate import generate, generate_registry
from her2cds.cohort.percase import answer_rows, assess_rows
from her2cds.engine import Engine


def test_evaluation_slim_equals_assessment_slim(engine: Engine) -> None:
    patients: dict[str, list[dict[str, Any]]] = {}
    for make, seed in ((generate, 31), (generate_registry, 32)):
        for row in make(engine.kb, 1_500, seed=seed).select(ALL_COLUMNS).iter_rows(named=True):
            patients.setdefault(patient_key(row), []).append(row)
    answers = [(assess_rows(engine, rows), answer_rows(engine, rows)) for rows in patients.values()]
    assert [pair for pair in answers if pair[0] != pair[1]][:5] == []
    # the comparison covers eligible therapies, needs, flags, several specimens and errors
    slim = [a for a, _ in answers]
    assert sum(bool(a["eligible_therapies"]) for a in slim) > 50
    assert sum(bool(a["needs"]) for a in slim) > 50 and sum(bool(a["flags"]) for a in slim) > 50
    assert sum(a["error"] is not None for a in slim) > 10
    assert sum(len(rows) > 1 for rows in patients.values()) > 10
