"""Matching policy: tumor pre-filter, ordering, memo consistency, output shape and knowledge entries."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from pydantic import ValidationError

from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model.therapy import TherapyOption
from her2cds.therapy import TherapyFacts, TherapyKnowledge, load_therapy_knowledge, match_therapies

RANK = {"eligible": 0, "insufficient_data": 1, "not_eligible": 2}


CODES = ["IDC", "STAD", "ESCA", "COAD", "IHCH", "LUAD", "LUSC", "USC", "SDCA", "EGC"]
HER2: list[dict[str, Any]] = [
    {"her2_status": "positive", "ihc_score": "3+", "category": "HER2-positive"},
    {"her2_status": "positive", "ihc_score": "2+", "ish_amplified": True},
    {"her2_status": "negative", "ihc_score": "1+", "category": "HER2-low"},
    {"her2_status": "equivocal", "ihc_score": "2+"},
    {"activating_mutations": ("S310F",), "mutation_testing": "tissue"},
    {},
]
SETTINGS = ["metastatic", "early", None]
HISTORIES: list[dict[str, Any]] = [
    {"prior_lines": 0},
    {"prior_lines": 1, "prior_agents": ("FOLFOX", "trastuzumab")},
    {"prior_lines": 2, "prior_agents": ("THP", "T-DM1")},
    {"prior_agents": ("mystery drug",)},
    {},
]


def _grid(kb: KnowledgeBase) -> list[TherapyFacts]:
    """A spread of cases over tumors, HER2 findings, biomarkers and histories."""
    out = []
    for code, her2, setting, history in itertools.product(CODES, HER2, SETTINGS, HISTORIES):
        values: dict[str, Any] = {
            "setting": setting,
            "pd_l1_cps": 5,
            "kras": "wild_type",
            "nras": "wild_type",
            "hormone_receptor": "positive",
            **her2,
            **history,
        }
        out.append(TherapyFacts(tumor_code=code, lineage=kb.lineage(code), **values))
    return out


def test_options_are_ordered_eligible_first(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    checked = 0
    for facts in _grid(kb):
        options = match_therapies(facts, tk)
        ranks = [RANK[o.outcome] for o in options]
        assert ranks == sorted(ranks), facts
        for o in options:
            assert o.eligible == (o.outcome == "eligible")
            results = {c.result for c in o.criteria}
            assert (o.outcome == "eligible") == (results == {"met"})
            assert (o.outcome == "not_eligible") == ("not_met" in results)
            if o.outcome == "insufficient_data":
                assert o.needs, o.id  # an undecided option always says what is missing
            if o.outcome == "eligible":
                assert not o.needs, o.id
            checked += 1
    assert checked > 1000


def test_tumor_specific_options_come_before_tumor_agnostic(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    facts = TherapyFacts(
        tumor_code="STAD",
        lineage=kb.lineage("STAD"),
        setting="metastatic",
        her2_status="positive",
        ihc_score="3+",
        prior_lines=1,
        prior_agents=("trastuzumab",),
    )
    eligible = [o.id for o in match_therapies(facts, tk) if o.eligible]
    assert eligible == [
        "fda.trastuzumab-deruxtecan.gastric-pretreated",
        "fda.trastuzumab-deruxtecan.tumor-agnostic-ihc3",
    ]


def test_within_a_line_newer_approval_of_equal_evidence_comes_first(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    facts = TherapyFacts(
        tumor_code="IDC",
        lineage=kb.lineage("IDC"),
        setting="metastatic",
        her2_status="positive",
        ihc_score="3+",
        category="HER2-positive",
        prior_lines=0,
    )
    eligible = [o.id for o in match_therapies(facts, tk) if o.eligible]
    assert eligible[:4] == [
        "fda.trastuzumab-deruxtecan-pertuzumab.breast-first-line",
        "fda.pertuzumab-trastuzumab-hyaluronidase.breast-metastatic-first-line",
        "fda.pertuzumab.breast-metastatic-first-line",
        "fda.trastuzumab.breast-metastatic-first-line",
    ]


def test_guideline_only_option_is_never_presented_as_approved(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    facts = TherapyFacts(
        tumor_code="USC", lineage=kb.lineage("USC"), setting="metastatic", ihc_score="3+", prior_lines=0
    )
    option = next(o for o in match_therapies(facts, tk, include_unverified=True) if o.id.startswith("guideline."))
    assert option.approval_kind == "guideline_supported_not_approved"
    assert option.regulatory == ()
    assert any("no FDA indication" in c for c in option.conditions_to_confirm)


def test_memoised_results_equal_fresh_results(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    fresh = load_therapy_knowledge(kb.root, kb.sources, kb.tumor_types)
    fresh.memo_limit = 0  # nothing is cached: every option is evaluated from scratch
    grid = _grid(kb)
    for facts in grid:  # warm the shared memo, then compare
        match_therapies(facts, tk)
    for facts in grid:
        cached = [o.model_dump(mode="json") for o in match_therapies(facts, tk)]
        computed = [o.model_dump(mode="json") for o in match_therapies(facts, fresh)]
        assert cached == computed
    assert not fresh.plans and not fresh.criterion_memo


def test_options_are_immutable(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    facts = TherapyFacts(tumor_code="STAD", lineage=kb.lineage("STAD"), setting="metastatic", her2_status="positive")
    options = match_therapies(facts, tk)
    with pytest.raises(ValidationError):
        options[0].eligible = True  # type: ignore[misc]
    assert isinstance(options[0].criteria, tuple)
    options.clear()  # the returned list is the caller's; the memo is unaffected
    assert match_therapies(facts, tk)


def test_option_json_round_trips(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    facts = TherapyFacts(
        tumor_code="IHCH", lineage=kb.lineage("IHCH"), setting="metastatic", ihc_score="3+", prior_lines=1
    )
    for option in match_therapies(facts, tk):
        data = json.loads(option.model_dump_json())
        assert TherapyOption.model_validate(data) == option
        assert set(data) >= {
            "id",
            "drugs",
            "eligible",
            "criteria",
            "needs",
            "conditions_to_confirm",
            "regulatory",
            "evidence",
            "sources",
            "line",
            "setting",
            "approval_kind",
        }


def test_every_figure_names_its_analysis(tk: TherapyKnowledge) -> None:
    figures = [f for ind in tk.indications for e in ind.evidence for f in e.figures]
    assert len(figures) > 40
    for fig in figures:
        assert fig.analysis and fig.population and fig.sources


def test_dg01_label_and_journal_response_rates_are_both_recorded(tk: TherapyKnowledge) -> None:
    ev = next(
        e for e in tk.get("fda.trastuzumab-deruxtecan.gastric-pretreated").evidence if e.name == "DESTINY-Gastric01"
    )
    by_basis: dict[str, list[str]] = {}
    for fig in ev.figures:
        if fig.endpoint == "ORR":
            by_basis.setdefault(fig.basis, []).append(fig.value)
    assert by_basis == {"fda_label": ["40.5% vs 11.3% (confirmed)"], "publication": ["51% vs 14%"]}


def test_every_indication_cites_an_fda_or_guideline_source(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    for ind in tk.indications:
        types = {kb.sources[s].type for s in ind.sources}
        if ind.entry.approval_kind == "fda_approved":
            assert types & {"fda_notice", "fda_label", "paper"}, ind.entry.id
            assert ind.regulatory and ind.regulatory[0].sources, ind.entry.id
        else:
            assert "guideline" in types, ind.entry.id


def test_entries_are_json_ready_and_unique(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    entries = list(tk.data.entries())
    kinds = {e["kind"] for e in entries}
    assert kinds == {"drug_class", "drug", "regimen", "tumor_set", "trial", "indication"}
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids))
    for entry in entries:
        assert entry["sources"] and entry["status"] in ("verified", "unverified"), entry["id"]
        json.dumps(entry)
    all_ids = [e["id"] for e in kb.entries()]  # the knowledge base lists the therapy entries once each
    assert len(all_ids) == len(set(all_ids))
    assert set(ids) <= set(all_ids)


def test_every_knowledge_status_is_reported(tk: TherapyKnowledge) -> None:
    statuses: dict[str, Any] = {e["id"]: e["status"] for e in tk.data.entries() if e["kind"] == "indication"}
    assert statuses["guideline.trastuzumab-carboplatin-paclitaxel.uterine-serous"] == "unverified"
    assert statuses["fda.zanidatamab.biliary-tract"] == "verified"
