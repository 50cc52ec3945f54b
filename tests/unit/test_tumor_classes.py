"""The tumor code's decision classes (Engine.tumor_classes, docs/decisions.md D12.7): codes in one class get the same
decisions from the engine, the code itself and texts naming it apart; a knowledge-base entry naming a code splits
that code out."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Hashable
from typing import Any

import pytest

from her2cds.engine import THERAPY_ONLY_FIELDS, Engine, default_engine
from her2cds.errors import InvalidInputError

_SPECIMENS: list[list[dict[str, Any]]] = [
    [],
    [{"id": "S1", "procedure": "resection", "ihc": {"score": "3+"}}],
    [{"id": "S1", "procedure": "biopsy", "ihc": {"score": "2+"}, "ish": {"ratio": 2.4, "her2_per_cell": 5.1}}],
    [{"id": "S1", "procedure": "resection", "ihc": {"score": "1+"}}],
    [{"id": "S1", "procedure": "biopsy", "ihc": {"score": "0"}}],
    [{"id": "S1", "procedure": "resection",
      "ngs": {"erbb2_variants": ["p.Tyr772_Ala775dup"], "erbb2_amplified": True}}],
]
_SETTINGS: list[str | None] = [None, "early", "metastatic"]
_PATIENT: list[dict[str, Any]] = [
    {},
    {"biomarkers": {"hormone_receptor": "positive", "kras": "wild_type", "nras": "wild_type", "pd_l1_cps": 5},
     "history": {"prior_lines": 1, "prior_agents": ["trastuzumab", "paclitaxel"]}, "histology": "squamous"},
]


def _cases(code: str) -> list[dict[str, Any]]:
    """Generated cases over specimens x setting x patient facts (every therapy and testing path the KB has)."""
    out = []
    for specimens, setting, patient in itertools.product(_SPECIMENS, _SETTINGS, _PATIENT):
        tumor: dict[str, Any] = {"oncotree_code": code}
        if setting is not None:
            tumor["setting"] = setting
        if "histology" in patient:
            tumor["histology"] = patient["histology"]
        case: dict[str, Any] = {"tumor": tumor, "specimens": specimens, "assessed_on": "2026-06-01"}
        case.update({k: v for k, v in patient.items() if k != "histology"})
        out.append(case)
    return out


def decisions(engine: Engine, case: dict[str, Any]) -> Hashable:
    """Everything the engine decides on a case, without the tumor code and texts (trace details, criteria reasons,
    warnings: the plausibility warnings read the tumor's name): HER2 summary and findings, flags, recommendations,
    every therapy option with its outcome, criteria results, needs, line and alternatives, the rules that fired."""
    try:
        ev = engine.evaluate(case)
    except InvalidInputError as exc:
        return ("error", tuple((p.field, p.message) for p in exc.problems))
    col = ev.collector
    return (
        ev.tumor.family, ev.tumor.scoring_system, ev.tumor.scoring_fallback,
        ev.her2.model_dump_json(), tuple(s.model_dump_json() for s in ev.specimens),
        tuple((f.code, tuple(f.specimens)) for f in col.flags()),
        tuple((r.code, r.specimen) for r in col.recommendations()),
        tuple((o.id, o.outcome, o.results, o.needs, o.line_of_therapy, o.alternatives) for o in ev.options),
        tuple(entry.rule for entry in col.trace),
    )


def test_every_code_decides_as_its_class_representative() -> None:
    engine = default_engine()
    classes = engine.tumor_classes()
    assert set(classes) == set(engine.kb.tumor_types)
    assert len(set(classes.values())) < len(classes)  # the tree's codes do fall into fewer classes
    expected: dict[str, list[Hashable]] = {}
    compared = 0
    for code, rep in classes.items():
        assert classes[rep] == rep
        if rep not in expected:
            expected[rep] = [decisions(engine, case) for case in _cases(rep)]
        if code != rep:
            got = [decisions(engine, case) for case in _cases(code)]
            for case, want, have in zip(_cases(code), expected[rep], got, strict=True):
                assert have == want, (code, rep, case)
            compared += 1
    assert compared > 300


def test_the_cases_tell_apart_codes_the_classes_keep_apart() -> None:
    """The generated cases are able to fail the test above: codes of different classes of one organ (an unclear NOS
    code and its descendant, a subtree the KB names) get different decisions on some of them."""
    engine = default_engine()
    classes = engine.tumor_classes()
    for one, other in (("BREAST", "IDC"), ("EGC", "STAD"), ("BOWEL", "COAD"), ("NSCLC", "LUAD")):
        assert classes[one] != classes[other]
        assert [decisions(engine, c) for c in _cases(one)] != [decisions(engine, c) for c in _cases(other)]


def _engine_with(**changes: Any) -> Engine:
    return Engine(dataclasses.replace(default_engine().kb, **changes))


def _breast_mates(engine: Engine) -> list[str]:
    classes = engine.tumor_classes()
    mates = [code for code in ("IDC", "ILC", "MDLC", "IMMC") if classes[code] == classes["IDC"]]
    assert len(mates) == 4  # the bundled KB names none of them: one class
    return mates


def test_an_indication_naming_a_code_splits_it_out() -> None:
    """A tumor set that names ILC as related (outside the label) makes ILC its own class, and the engine does
    answer ILC differently from IDC then."""
    base = default_engine()
    _breast_mates(base)
    therapy = base.kb.therapy
    assert therapy is not None
    name, tumor_set = next((n, ts) for n, ts in therapy.tumor_sets.items() if "BRCA" in ts.include)
    changed = tumor_set.model_copy(update={"related": [*tumor_set.related, "ILC"]})
    engine = _engine_with(therapy=dataclasses.replace(therapy, tumor_sets={**therapy.tumor_sets, name: changed}))
    classes = engine.tumor_classes()
    assert classes["ILC"] == "ILC"
    assert classes["IDC"] == classes["MDLC"] == classes["IMMC"] != "ILC"
    assert [decisions(engine, c) for c in _cases("ILC")] != [decisions(engine, c) for c in _cases("IDC")]


def test_an_unclear_code_is_its_own_class_but_not_its_descendants() -> None:
    base = default_engine()
    therapy = base.kb.therapy
    assert therapy is not None
    name, tumor_set = next((n, ts) for n, ts in therapy.tumor_sets.items() if "BRCA" in ts.include)
    changed = tumor_set.model_copy(update={"include": [c for c in tumor_set.include if c != "BRCA"] + ["IDC"],
                                           "unclear": [*tumor_set.unclear, "BRCA"]})
    engine = _engine_with(therapy=dataclasses.replace(therapy, tumor_sets={**therapy.tumor_sets, name: changed}))
    classes = engine.tumor_classes()
    assert classes["BRCA"] == "BRCA"
    assert classes["ILC"] == classes["MDLC"] != "BRCA"
    assert classes["IDC"] not in (classes["ILC"], "BRCA")
    assert [decisions(engine, c) for c in _cases("BRCA")] != [decisions(engine, c) for c in _cases("ILC")]


def test_a_testing_indication_or_histology_naming_a_code_splits_it_out() -> None:
    base = default_engine()
    _breast_mates(base)
    breast = next(ind for ind in base.kb.testing if any(f.endswith("breast") for f in ind.families))
    engine = _engine_with(testing=(*base.kb.testing, breast.model_copy(update={"id": f"{breast.id}-immc",
                                                                              "roots": ["IMMC"]})))
    classes = engine.tumor_classes()
    assert classes["IMMC"] == "IMMC" and classes["IDC"] == classes["ILC"] == classes["MDLC"]
    therapy = base.kb.therapy
    assert therapy is not None
    histology = therapy.histology.model_copy(update={"squamous_codes": [*therapy.histology.squamous_codes, "MDLC"]})
    engine = _engine_with(therapy=dataclasses.replace(therapy, histology=histology))
    classes = engine.tumor_classes()
    assert classes["MDLC"] == "MDLC" and classes["IDC"] == classes["ILC"] == classes["IMMC"]


@pytest.mark.parametrize("code", ["IDC", "STAD", "COAD", "LUAD", "BLCA"])
def test_a_family_root_splits_a_code_out(code: str) -> None:
    base = default_engine()
    family = base.kb.families[0]
    engine = _engine_with(families=(family.model_copy(update={"roots": [*family.roots, code]}), *base.kb.families[1:]))
    assert engine.tumor_classes()[code] == code


_VALUES: dict[str, list[Any]] = {
    "biomarkers.hormone_receptor": ["positive", "negative"], "biomarkers.kras": ["wild_type", "mutant"],
    "biomarkers.nras": ["wild_type", "mutant"], "biomarkers.pd_l1_cps": [0, 1, 5, 10, 100],
}


def _with(case: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    group, name = field.split(".")
    return {**case, group: {**case.get(group, {}), name: value}}


def test_fields_no_reachable_criterion_reads_never_change_a_decision() -> None:
    """For every decision class and every therapy-only field its indications do not read (D12.8), each value the
    model accepts gives the decisions of the case without it; the fields read are the same within a class."""
    engine = default_engine()
    assert set(_VALUES) == set(THERAPY_ONLY_FIELDS)
    classes = engine.tumor_classes()
    for code, rep in classes.items():
        assert engine.therapy_fields_read(code) == engine.therapy_fields_read(rep), code
    skipped = 0
    for rep in sorted(set(classes.values())):
        unread = sorted(set(THERAPY_ONLY_FIELDS) - engine.therapy_fields_read(rep))
        for case in _cases(rep)[len(_PATIENT) - 1::len(_PATIENT)]:  # the cases with patient facts
            bare = {**case, "biomarkers": {}}
            want = decisions(engine, bare)
            for field in unread:
                for value in _VALUES[field]:
                    assert decisions(engine, _with(bare, field, value)) == want, (rep, field, value, case)
                    skipped += 1
    assert skipped > 1000
    # and where they are read, some value does change a decision (the cases can tell)
    for code, field in (("IDC", "biomarkers.hormone_receptor"), ("COAD", "biomarkers.kras"),
                        ("STAD", "biomarkers.pd_l1_cps")):
        assert field in engine.therapy_fields_read(code)
        cases = [{**case, "biomarkers": {}} for case in _cases(code)]
        assert any(len({decisions(engine, _with(c, field, v)) for v in _VALUES[field]}) > 1 for c in cases), code


def test_an_indication_reaching_a_tumor_makes_its_criteria_fields_read() -> None:
    """STAD reaches no breast indication, so hormone-receptor status is not read for it; a breast tumor set that
    also includes STAD makes it read, and it then changes a decision."""
    base = default_engine()
    assert "biomarkers.hormone_receptor" not in base.therapy_fields_read("STAD")
    therapy = base.kb.therapy
    assert therapy is not None
    changed = {name: ts.model_copy(update={"include": [*ts.include, "STAD"]}) if "BRCA" in ts.include else ts
               for name, ts in therapy.tumor_sets.items()}
    engine = _engine_with(therapy=dataclasses.replace(therapy, tumor_sets=changed))
    assert "biomarkers.hormone_receptor" in engine.therapy_fields_read("STAD")
    field = "biomarkers.hormone_receptor"
    bare = [{**case, "biomarkers": {}} for case in _cases("STAD")]
    assert any(len({decisions(engine, _with(c, field, v)) for v in _VALUES[field]}) > 1 for c in bare)


def _stage(engine: Engine, code: str, specimens: list[dict[str, Any]]) -> Hashable:
    """What the specimen stage decides (the cohort's signature reads these), the family's trace text apart."""
    try:
        stage = engine.specimen_stage({"tumor": {"oncotree_code": code}, "specimens": specimens})
    except InvalidInputError as exc:
        return ("error", tuple((p.field, p.message) for p in exc.problems))
    col = stage.col
    return (stage.family.guideline_specific, stage.system.id, stage.her2.model_dump_json(),
            tuple(f.result.model_dump_json() for f in stage.findings),
            tuple((f.code, tuple(f.specimens)) for f in col.flags()),
            tuple((r.code, r.specimen) for r in col.recommendations()), tuple(entry.rule for entry in col.trace))


_STAGE_SPECIMENS = [
    *_SPECIMENS,
    [{"id": "S1", "procedure": "biopsy", "ihc": {"percent": {"strong_complete": 20}}}],
    [{"id": "S1", "procedure": "resection", "ihc": {"percent": {"faint_incomplete": 5}}}],
    [{"id": "S1", "procedure": "resection", "ish": {"ratio": 1.8, "her2_per_cell": 6.5}}],
    [{"id": "S1", "procedure": "resection", "ihc": {"score": "3+"}},
     {"id": "S2", "procedure": "biopsy", "ihc": {"score": "0"}, "ish": {"ratio": 1.2, "her2_per_cell": 2.5}}],
]


def test_codes_with_one_specimen_key_get_one_specimen_stage() -> None:
    """D12.9: the specimen stage reads of the tumor only whether its family has guideline-specific criteria and
    its default scoring system; codes of different families with one such key get the same stage."""
    engine = default_engine()
    first: dict[str | None, str] = {}
    families: dict[str | None, set[str]] = {}
    for code in engine.kb.tumor_types:
        key = engine.specimen_tumor_key(code)
        rep = first.setdefault(key, code)
        family = engine.kb.family_for(code)
        families.setdefault(key, set()).add(family.id if family else "")
        if code != rep:
            for specimens in _STAGE_SPECIMENS:
                assert _stage(engine, code, specimens) == _stage(engine, rep, specimens), (code, rep, specimens)
    assert any(len(ids) > 1 for ids in families.values())  # several families share a key
    # keys told apart are decided apart on these specimens
    reps = [rep for key, rep in first.items() if key is not None]
    for one, other in itertools.combinations(reps, 2):
        assert any(_stage(engine, one, s) != _stage(engine, other, s) for s in _STAGE_SPECIMENS), (one, other)
