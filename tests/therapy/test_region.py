"""Regions (docs/therapy.md "Regions", D11.2): the EU view shows EU decisions only where a record exists, never an
approval without one; unverified EU records need the opt-in; eligibility is the same in every region."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from her2cds.errors import InvalidInputError
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.knowledge.therapy_schema import RegulatoryDef
from her2cds.model.therapy import TherapyOption
from her2cds.therapy import TherapyKnowledge, match_therapies
from her2cds.therapy.region import apply_region
from tests.therapy.conftest import FactsFactory


def _options_for_every_tumor_set(tk: TherapyKnowledge, make_facts: FactsFactory) -> list[TherapyOption]:
    """Every indication reached at least once: one HER2-positive metastatic case per tumor set's first code."""
    codes = {ts.include[0] for ts in tk.tumor_sets.values() if ts.include} | {"IDC", "STAD", "COAD", "SDCA"}
    options: list[TherapyOption] = []
    for code in sorted(codes):
        facts = make_facts(code, setting="metastatic", her2_status="positive", ihc_score="3+", prior_lines=1)
        options += match_therapies(facts, tk, include_unverified=True)
    return options


def test_every_indication_is_reached_by_the_sweep(tk: TherapyKnowledge, make_facts: FactsFactory) -> None:
    reached = {o.id for o in _options_for_every_tumor_set(tk, make_facts)}
    assert reached == {ind.entry.id for ind in tk.indications}


def test_us_and_no_region_leave_the_options_unchanged(tk: TherapyKnowledge, make_facts: FactsFactory) -> None:
    options = match_therapies(make_facts("IDC", setting="metastatic", her2_status="positive"), tk)
    assert apply_region(options, tk, None) is options
    assert apply_region(options, tk, "us") is options
    assert all(o.region_status is None and {r.agency for r in o.regulatory} == {"FDA"}
               for o in options if o.approval_kind == "fda_approved")


@pytest.mark.parametrize("opt_in", [False, True])
def test_eu_never_shows_an_approval_without_a_shown_eu_record(
    tk: TherapyKnowledge, make_facts: FactsFactory, opt_in: bool
) -> None:
    options = _options_for_every_tumor_set(tk, make_facts)
    eu = apply_region(options, tk, "eu", include_unverified=opt_in)
    assert len(eu) == len(options)
    for before, after in zip(options, eu, strict=True):
        # eligibility never changes with the region
        assert (after.id, after.outcome, after.criteria) == (before.id, before.outcome, before.criteria)
        records = tk.get(after.id).regional["eu"]
        shown = [r for r in records if opt_in or r.verification == "verified"]
        assert after.region_status is not None and after.region_status.startswith("EU: ")
        assert [r for r in after.regulatory if r.agency == "EMA"] == shown
        if not shown:
            assert "no EU marketing authorisation recorded" in after.region_status
            assert "authorisation 1" not in after.region_status and "authorisation 2" not in after.region_status
            assert ("unverified record exists" in after.region_status) == bool(records)
        for record in shown:
            assert record.approval_date is not None
            assert record.approval_date.isoformat() in after.region_status
            assert ("[unverified]" in after.region_status) == any(r.verification != "verified" for r in shown)


def test_every_unverified_eu_record_is_hidden_without_the_opt_in(tk: TherapyKnowledge) -> None:
    unverified = [(ind, r) for ind in tk.indications for r in ind.regional["eu"] if r.verification != "verified"]
    assert unverified, "the knowledge base has unverified EU records; this test must see them"
    for ind, record in unverified:
        option = _option_of(ind.entry.id, tk)
        hidden = apply_region([option], tk, "eu")[0]
        shown = apply_region([option], tk, "eu", include_unverified=True)[0]
        assert record not in hidden.regulatory and record in shown.regulatory


def _option_of(indication_id: str, tk: TherapyKnowledge) -> TherapyOption:
    ind = tk.get(indication_id)
    return TherapyOption.model_validate({
        "id": indication_id, "title": ind.entry.title, "drugs": tuple(ind.entry.drugs), "eligible": False,
        "outcome": "insufficient_data", "criteria": (), "regimen": ind.entry.regimen,
        "approval_kind": ind.entry.approval_kind, "line": ind.entry.line.text, "setting": tuple(ind.entry.setting),
        "tumor_scope": ind.tumors.id, "evidence_level": ind.evidence_level, "regulatory": ind.regulatory,
        "status": ind.entry.status,
    })


def test_verified_eu_records_cite_an_ema_or_commission_source(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    verified = [(ind.entry.id, r) for ind in tk.indications for r in ind.regional["eu"] if r.verification == "verified"]
    assert verified, "at least one EU decision is verified (T-DXd HER2-positive breast, EMA product page)"
    for indication_id, record in verified:
        types = {kb.sources[s].type for s in record.sources}
        assert "ema_epar" in types, (indication_id, types)
        assert all(kb.sources[s].status == "verified" for s in record.sources), indication_id


def test_tdxd_eu_record_is_the_ema_product_pages(tk: TherapyKnowledge) -> None:
    (record,) = tk.get("fda.trastuzumab-deruxtecan.breast-her2-positive-pretreated").regional["eu"]
    assert (record.agency, record.status, record.approval_date) == ("EMA", "conditional", dt.date(2021, 1, 18))
    assert "ema-enhertu-epar" in record.sources


BASE: dict[str, Any] = {"approval_date": "2021-01-18", "label_wording": "x", "sources": [{"id": "s"}],
                        "verification": "verified"}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"agency": "EMA", "status": "accelerated"}, "EMA pathways are 'conditional' and 'standard'"),
        ({"agency": "FDA", "status": "conditional"}, "FDA pathways are 'accelerated' and 'regular'"),
        ({"agency": "EMA", "status": "standard", "initial_status": "conditional"}, "needs its regular_approval_date"),
        ({"agency": "EMA", "status": "conditional", "regular_approval_date": "2023-01-01"}, "no regular (full)"),
    ],
)
def test_regulatory_records_use_their_agencys_pathways(record: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RegulatoryDef.model_validate({**BASE, **record})


def test_an_unknown_region_is_an_input_error(tk: TherapyKnowledge, make_facts: FactsFactory) -> None:
    options = match_therapies(make_facts("IDC", setting="metastatic", her2_status="positive"), tk)
    with pytest.raises(InvalidInputError) as info:
        apply_region(options, tk, "jp")
    assert info.value.field == "region"
