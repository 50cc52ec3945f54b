"""facts_from(case, her2, lineage): the bridge from the engine's HER2 summary to therapy facts, and the seed
scenarios end to end (case → engine HER2 summary → therapy options)."""

from __future__ import annotations

from typing import Any

import pytest

import her2cds
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model.assessment import Her2Summary
from her2cds.model.case import Case
from her2cds.model.enums import Category, IhcScore, Status
from her2cds.therapy import TherapyFacts, TherapyKnowledge, facts_from, match_therapies, unrecognised_agents


def _summary(**values: Any) -> Her2Summary:
    base: dict[str, Any] = {"status": Status.POSITIVE, "ihc_score": IhcScore.THREE, "category": None, "basis": "test"}
    base.update(values)
    return Her2Summary(**base)


def test_facts_from_copies_typed_values(kb: KnowledgeBase) -> None:
    case = Case.model_validate(
        {
            "tumor": {"oncotree_code": "IDC", "setting": "metastatic", "histology": "ductal"},
            "specimens": [
                {"id": "S1", "procedure": "biopsy", "ihc": {"score": "1+"}},
                {"id": "S2", "procedure": "biopsy", "ngs": {"erbb2_variants": ["p.L755S"]}},
            ],
            "biomarkers": {"pd_l1_cps": 3, "kras": "wild_type", "nras": "mutant", "hormone_receptor": "positive"},
            "history": {"prior_lines": 2, "prior_agents": ["letrozole", "palbociclib"]},
        }
    )
    her2 = _summary(status=Status.NEGATIVE, ihc_score=IhcScore.ONE, category=Category.LOW, ish_amplified=False)
    facts = facts_from(case, her2, kb.lineage("IDC"))
    assert facts == TherapyFacts(
        tumor_code="IDC",
        lineage=("IDC", "BRCA", "BREAST"),
        setting="metastatic",
        histology="ductal",
        her2_status="negative",
        ihc_score="1+",
        category="HER2-low",
        ish_amplified=False,
        reported_variants=("p.L755S",),
        mutation_testing="tissue",
        pd_l1_cps=3,
        kras="wild_type",
        nras="mutant",
        hormone_receptor="positive",
        prior_lines=2,
        prior_agents=("letrozole", "palbociclib"),
    )
    hash(facts)  # hashable: usable as a memo key


def test_plasma_only_ngs_is_marked(kb: KnowledgeBase) -> None:
    case = Case.model_validate(
        {
            "tumor": {"oncotree_code": "LUAD"},
            "specimens": [{"id": "P1", "procedure": "plasma", "ngs": {"erbb2_variants": []}}],
        }
    )
    facts = facts_from(case, _summary(status=Status.INDETERMINATE, ihc_score=None), kb.lineage("LUAD"))
    assert facts.mutation_testing == "plasma_only"
    assert facts.setting is None
    assert facts.prior_lines is None


def test_no_ngs_is_marked(kb: KnowledgeBase) -> None:
    case = Case.model_validate({"tumor": {"oncotree_code": "STAD"}, "specimens": []})
    assert facts_from(case, _summary(), kb.lineage("STAD")).mutation_testing == "none"


def test_lineage_always_starts_with_the_code(kb: KnowledgeBase) -> None:
    case = Case.model_validate({"tumor": {"oncotree_code": "STAD"}})
    assert facts_from(case, _summary(), ("EGC", "STOMACH")).lineage == ("STAD", "EGC", "STOMACH")
    assert facts_from(case, _summary(), ()).lineage == ("STAD",)
    with pytest.raises(ValueError, match="lineage must start"):
        TherapyFacts(tumor_code="STAD", lineage=("EGC",))


def test_unrecognised_agents_are_reported_for_input_warnings(tk: TherapyKnowledge, make_facts: Any) -> None:
    facts = make_facts("STAD", prior_agents=("FOLFOX", "zolbetuximab", "trial drug ABC"))
    assert unrecognised_agents(facts, tk) == ("zolbetuximab", "trial drug ABC")


SEED: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    (
        "gastric-first-line",
        {
            "tumor": {"oncotree_code": "STAD", "setting": "metastatic"},
            "specimens": [{"id": "S1", "procedure": "biopsy", "site": "primary", "ihc": {"score": "3+"}}],
            "biomarkers": {"pd_l1_cps": 5},
            "history": {"prior_lines": 0},
        },
        {
            "fda.pembrolizumab.gastric-first-line": "eligible",
            "fda.trastuzumab.gastric-first-line": "eligible",
            "fda.trastuzumab-deruxtecan.gastric-pretreated": "not_eligible",
        },
    ),
    (
        "gastric-after-trastuzumab",
        {
            "tumor": {"oncotree_code": "GEJ", "setting": "metastatic"},
            "specimens": [
                {
                    "id": "S1",
                    "procedure": "biopsy",
                    "site": "primary",
                    "ihc": {"score": "2+"},
                    "ish": {"probe": "dual", "her2_per_cell": 6.2, "cep17_per_cell": 2.1},
                }
            ],
            "biomarkers": {"pd_l1_cps": 5},
            "history": {"prior_lines": 1, "prior_agents": ["CAPOX", "trastuzumab"]},
        },
        {
            "fda.trastuzumab-deruxtecan.gastric-pretreated": "eligible",
            "fda.pembrolizumab.gastric-first-line": "not_eligible",
            "fda.trastuzumab-deruxtecan.tumor-agnostic-ihc3": "not_eligible",
        },
    ),
    (
        "biliary-ihc3",
        {
            "tumor": {"oncotree_code": "IHCH", "setting": "metastatic"},
            "specimens": [{"id": "S1", "procedure": "biopsy", "ihc": {"score": "3+"}}],
            "history": {"prior_lines": 1, "prior_agents": ["gemcitabine", "cisplatin"]},
        },
        {"fda.zanidatamab.biliary-tract": "eligible", "fda.trastuzumab-deruxtecan.tumor-agnostic-ihc3": "eligible"},
    ),
    (
        "biliary-ihc2-amplified",
        {
            "tumor": {"oncotree_code": "IHCH", "setting": "metastatic"},
            "specimens": [
                {
                    "id": "S1",
                    "procedure": "biopsy",
                    "ihc": {"score": "2+"},
                    "ish": {"probe": "dual", "her2_per_cell": 8.0, "cep17_per_cell": 2.0},
                }
            ],
            "history": {"prior_lines": 1, "prior_agents": ["gemcitabine", "cisplatin"]},
        },
        {
            "fda.zanidatamab.biliary-tract": "not_eligible",
            "fda.trastuzumab-deruxtecan.tumor-agnostic-ihc3": "not_eligible",
        },
    ),
    (
        "tumor-agnostic-salivary",
        {
            "tumor": {"oncotree_code": "SDCA", "setting": "metastatic"},
            "specimens": [{"id": "S1", "procedure": "resection", "ihc": {"score": "3+"}}],
            "history": {"prior_lines": 1, "prior_agents": ["carboplatin", "paclitaxel"]},
        },
        {"fda.trastuzumab-deruxtecan.tumor-agnostic-ihc3": "eligible"},
    ),
    (
        "nsclc-yvma-three-letter",
        {
            "tumor": {"oncotree_code": "LUAD", "setting": "metastatic"},
            "specimens": [{"id": "S1", "procedure": "biopsy", "ngs": {"erbb2_variants": ["p.Tyr772_Ala775dup"]}}],
            "history": {"prior_lines": 1, "prior_agents": ["carboplatin", "pemetrexed"]},
        },
        {
            "fda.trastuzumab-deruxtecan.nsclc-her2-mutant": "eligible",
            "fda.zongertinib.nsclc": "eligible",
            "fda.sevabertinib.nsclc": "eligible",
        },
    ),
]


@pytest.mark.parametrize(("raw", "expected"), [pytest.param(r, e, id=i) for i, r, e in SEED])
def test_seed_scenarios_end_to_end(
    kb: KnowledgeBase, tk: TherapyKnowledge, raw: dict[str, Any], expected: dict[str, str]
) -> None:
    case = Case.model_validate(raw)
    assessment = her2cds.assess(case)
    facts = facts_from(case, assessment.her2, kb.lineage(case.tumor.oncotree_code))
    outcomes = {o.id: o.outcome for o in match_therapies(facts, tk)}
    assert {k: outcomes.get(k) for k in expected} == expected
