"""The engine's two public stages (specimen stage, patient stage) are the whole assessment, and the specimen
stage reads the tumor only through its family and scoring system (cohort mode keys on that, D12.4)."""

from __future__ import annotations

from typing import Any

import pytest

from her2cds.engine import Engine, default_engine


def _case(code: str, **spec: Any) -> dict[str, Any]:
    return {"id": "c1", "assessed_on": "2026-01-15", "tumor": {"oncotree_code": code, "setting": "metastatic"},
            "biomarkers": {"hormone_receptor": "negative"},
            "specimens": [{"id": "s1", "procedure": "resection", **spec}]}


SPECIMENS = [
    {"ihc": {"score": "2+"}, "ish": {"ratio": 2.3, "her2_per_cell": 4.5}},
    {"ihc": {"score": "1+"}},
    {"ish": {"ratio": 1.4, "her2_per_cell": 7.0}},
    {"ihc": {"score": "3+"}, "ish": {"ratio": 1.1, "her2_per_cell": 2.0}},
]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return default_engine()


@pytest.mark.parametrize("spec", SPECIMENS)
def test_stages_make_the_assessment(engine: Engine, spec: dict[str, Any]) -> None:
    case = _case("IDC", **spec)
    staged = engine.patient_stage(engine.specimen_stage(case))
    assert staged.model_dump() == engine.assess(case).model_dump()


@pytest.mark.parametrize("spec", SPECIMENS)
def test_specimen_stage_reads_the_tumor_through_family_and_system(engine: Engine, spec: dict[str, Any]) -> None:
    # IDC and ILC are both breast (same family and scoring system); STAD is gastroesophageal
    idc, ilc, stad = (engine.specimen_stage(_case(code, **spec)) for code in ("IDC", "ILC", "STAD"))
    assert idc.family.id == ilc.family.id and idc.system.id == ilc.system.id
    assert idc.her2.model_dump() == ilc.her2.model_dump()
    assert [f.code for f in idc.col.flags()] == [f.code for f in ilc.col.flags()]
    assert idc.system.id != stad.system.id
