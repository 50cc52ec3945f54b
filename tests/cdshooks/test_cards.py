"""Card builders: every golden case and example gives a conformant card; indicator, summary, suggestions,
sources and override reasons follow the rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

import her2cds
from her2cds import examples
from her2cds.adapters.cdshooks import markdown as md
from her2cds.adapters.cdshooks.cards import (
    FLAG_INDICATOR,
    NON_ADHERENCE,
    RECOMMENDATION_ACTIONS,
    TESTING_OVERRIDE_REASONS,
    THERAPY_OVERRIDE_REASONS,
    assessment_card,
    indicator_for,
    source_url,
)
from her2cds.knowledge.loader import KnowledgeBase
from tests.cdshooks.options import option
from tests.cdshooks.spec import card_problems, load
from tests.golden import load_cases

GASTRIC_3PLUS = {
    "tumor": {"oncotree_code": "STAD", "setting": "metastatic"},
    "specimens": [{"id": "S1", "procedure": "biopsy", "ihc": {"score": "3+"}}],
}
BREAST_1PLUS = {
    "tumor": {"oncotree_code": "IDC", "setting": "metastatic"},
    "specimens": [{"id": "S1", "procedure": "resection", "ihc": {"score": "1+"}}],
}

VALID_INPUTS = [(g.case.id, g.case.input) for g in load_cases() if g.case.expect_error is None]
VALID_INPUTS += [(f"example-{name}", examples.load(name)) for name in examples.names()]


def _card(case: dict[str, Any], kb: KnowledgeBase) -> dict[str, Any]:
    return assessment_card(her2cds.assess(case), kb, patient_id="p1").wire()


def test_there_are_cases_to_check() -> None:
    assert len(VALID_INPUTS) > 10


@pytest.mark.parametrize(("name", "case"), VALID_INPUTS, ids=[name for name, _ in VALID_INPUTS])
def test_every_case_gives_a_conformant_card(name: str, case: dict[str, Any], kb: KnowledgeBase) -> None:
    assessment = her2cds.assess(case)
    card = assessment_card(assessment, kb, patient_id="p1").wire()
    assert card_problems(card) == []
    assert len(card["summary"]) < 140
    assert card["source"]["label"].startswith("her2cds")
    assert card["source"]["topic"]["code"] == "48676-1"
    expected_warning = any(FLAG_INDICATOR.get(f.code) == "warning" for f in assessment.flags) or any(
        RECOMMENDATION_ACTIONS[r.code].indicator == "warning" for r in assessment.recommendations
    )
    assert card["indicator"] == ("warning" if expected_warning else "info")
    assert ("overrideReasons" in card) == expected_warning
    assert assessment.versions.knowledge_base in card["detail"]
    assert assessment.disclaimer.split(".")[0] in card["detail"]


def test_every_knowledge_base_code_is_classified(kb: KnowledgeBase) -> None:
    """A new flag or recommendation code must get a card indicator here (and stale entries are caught)."""
    flags = {c.code for c in kb.codes.values() if c.kind == "flag_code"}
    recommendations = {c.code for c in kb.codes.values() if c.kind == "recommendation_code"}
    assert flags and recommendations
    assert set(FLAG_INDICATOR) == flags
    assert set(RECOMMENDATION_ACTIONS) == recommendations


def test_override_reasons_are_hl7_codes_with_their_displays() -> None:
    vocabulary = load("spec-3.0-ballot/vocabulary/CodeSystem-non-adherence-reason-codes.json")
    assert vocabulary["url"] == NON_ADHERENCE
    displays = {c["code"]: c["display"] for group in vocabulary["concept"] for c in group.get("concept", [])}
    for reason in (*TESTING_OVERRIDE_REASONS, *THERAPY_OVERRIDE_REASONS):
        assert reason.system == NON_ADHERENCE
        assert displays[reason.code] == reason.display


def test_equivocal_breast_without_ish_warns_and_suggests_reflex_ish(kb: KnowledgeBase) -> None:
    case = {
        "tumor": {"oncotree_code": "IDC"},
        "specimens": [{"id": "S1", "procedure": "biopsy", "ihc": {"score": "2+"}}],
    }
    card = _card(case, kb)
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("HER2 equivocal (IHC 2+)")
    assert "in situ hybridization recommended" in card["summary"]
    assert card["selectionBehavior"] in {"any", "at-most-one"}
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "create"
    order = action["resource"]
    assert order["resourceType"] == "ServiceRequest" and order["status"] == "draft"
    assert order["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "31150-6",
        "display": "ERBB2 gene duplication [Presence] in Tissue by FISH",
    }
    assert order["subject"] == {"reference": "Patient/p1"}
    assert "S1" in suggestion["label"]
    assert card["source"]["url"] == source_url(kb, "asco-cap-2018")


def test_positive_gastric_is_info_without_suggestions(kb: KnowledgeBase) -> None:
    card = _card(GASTRIC_3PLUS, kb)
    assert card["summary"].startswith("HER2-positive (IHC 3+)")
    assert card["indicator"] == "info"
    assert "suggestions" not in card and "overrideReasons" not in card
    assert card["source"]["url"] == source_url(kb, "bartley-2016")
    assert card["links"][0]["url"] == source_url(kb, "bartley-2016")


def test_her2_low_breast_names_the_category(kb: KnowledgeBase) -> None:
    card = _card(BREAST_1PLUS, kb)
    assert card["summary"].startswith("HER2-low (IHC 1+)")


def test_discordant_specimens_warn(kb: KnowledgeBase) -> None:
    case = {
        "tumor": {"oncotree_code": "STAD", "setting": "metastatic"},
        "specimens": [
            {
                "id": "B1",
                "procedure": "biopsy",
                "site": "primary",
                "collected_on": "2025-01-01",
                "ihc": {"score": "3+"},
            },
            {
                "id": "M1",
                "procedure": "biopsy",
                "site": "metastasis",
                "collected_on": "2025-02-01",
                "ihc": {"score": "0"},
            },
        ],
    }
    assessment = her2cds.assess(case)
    codes = {flag.code for flag in assessment.flags}
    assert codes & {"discordant_specimens", "temporal_change"}, codes
    card = assessment_card(assessment, kb, patient_id=None).wire()
    assert card["indicator"] == "warning"
    assert "review" in card["summary"]
    assert "⚠" in card["detail"]
    assert card_problems(card) == []


def test_indicator_ignores_info_only_flags(kb: KnowledgeBase) -> None:
    assessment = her2cds.assess(examples.load("thymic-rare"))
    assert all(FLAG_INDICATOR[f.code] == "info" for f in assessment.flags)
    assert all(RECOMMENDATION_ACTIONS[r.code].indicator == "info" for r in assessment.recommendations)
    assert indicator_for(assessment) == "info"


def test_values_from_the_ehr_are_escaped_in_markdown(kb: KnowledgeBase) -> None:
    case = {
        "tumor": {"oncotree_code": "STAD"},
        "specimens": [{"id": "S|1*x", "procedure": "biopsy", "ihc": {"score": "3+"}}],
    }
    detail = _card(case, kb)["detail"]
    assert "| S\\|1\\*x |" in detail
    assert md.esc("[click](javascript:alert(1))") == "\\[click\\](javascript:alert(1))"


def test_summary_is_clipped_below_140() -> None:
    assert md.clip("word " * 100, 140).endswith("…")
    assert len(md.clip("word " * 100, 140)) < 140
    assert md.clip("short", 140) == "short"


def test_therapy_summary_counts_approved_options(kb: KnowledgeBase) -> None:
    base = her2cds.assess(GASTRIC_3PLUS)
    options = [
        option("a", ["trastuzumab"], "eligible"),
        option("b", ["trastuzumab deruxtecan"], "eligible"),
        option("c", ["zanidatamab"], "eligible", approval="guideline_supported_not_approved"),
        option("d", ["tucatinib"], "not_eligible", criteria=[("colorectal cancer", "not_met", "gastric")]),
    ]
    assessment = base.model_copy(update={"therapies": options})
    card = assessment_card(assessment, kb, patient_id=None).wire()
    assert card["summary"] == "HER2-positive (IHC 3+) — 2 approved options, 1 other eligible option"
    assert "not met: colorectal cancer" in card["detail"]
    assert card_problems(card) == []


def test_card_json_is_serialisable(kb: KnowledgeBase) -> None:
    card = _card(examples.load(examples.DEFAULT), kb)
    assert json.loads(json.dumps(card)) == card
