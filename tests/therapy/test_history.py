"""Treatment history as input: validation, derivation of prior lines/agents, warnings, assessed_on, and the
property that removing a history fact never turns ``insufficient_data`` into ``eligible``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import her2cds
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model.case import Case
from her2cds.therapy import TherapyKnowledge, match_therapies
from her2cds.therapy.facts import history_fields, history_notes
from her2cds.therapy.history import add_months
from tests.therapy.conftest import build_facts

IHC3 = {"id": "S1", "procedure": "biopsy", "ihc": {"score": "3+"}}


def _case(history: dict[str, Any], **extra: Any) -> Case:
    tumor = {"oncotree_code": "IDC", "setting": "metastatic", **extra.pop("tumor", {})}
    return Case.model_validate({"tumor": tumor, "history": history, **extra})


@pytest.mark.parametrize(
    ("regimen", "message"),
    [
        ({"agents": ["THP"], "setting": "adjuvant", "line": 1}, "line is given for a regimen in the adjuvant setting"),
        ({"agents": ["THP"], "start": "2025-02-01", "end": "2025-01-01"}, "end 2025-01-01 is before start"),
        ({"agents": ["THP"], "progressed": False, "progression_date": "2025-01-01"}, "progressed is false"),
        ({"agents": ["THP"], "progressed": False, "stopped_for": "progression"}, "progressed is false"),
        ({"agents": []}, "at least 1 item"),
        ({"agents": ["THP"], "setting": "palliative"}, "neoadjuvant"),
    ],
)
def test_inconsistent_regimens_are_rejected(regimen: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        _case({"regimens": [regimen]})
    assert message in str(info.value)


def test_dates_after_an_explicit_assessment_date_are_rejected_with_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        _case({"regimens": [{"agents": ["THP"], "end": "2026-03-01"}]}, assessed_on="2026-01-01")
    assert "history.regimens[0].end 2026-03-01 is after assessed_on 2026-01-01" in str(info.value)
    with pytest.raises(ValidationError) as info:
        _case({}, tumor={"recurrence_date": "2026-02-01"}, assessed_on="2026-01-01")
    assert "tumor.recurrence_date" in str(info.value)


def test_prior_lines_and_agents_are_derived_from_regimens() -> None:
    case = _case({"regimens": [
        {"agents": ["TCHP"], "setting": "neoadjuvant"},
        {"agents": ["THP"], "setting": "metastatic", "line": 1},
        {"agents": ["trastuzumab", "pertuzumab"], "setting": "maintenance", "line": 1},
        {"agents": ["T-DXd"], "setting": "metastatic"},
    ]})
    fields = history_fields(case)
    assert fields["prior_lines"] == 2  # maintenance continues line 1
    assert fields["prior_agents"] == ("TCHP", "THP", "trastuzumab", "pertuzumab", "T-DXd")
    assert history_notes(case) == []


def test_a_regimen_without_setting_leaves_the_line_count_unknown() -> None:
    case = _case({"regimens": [{"agents": ["THP"], "setting": "metastatic"}, {"agents": ["capecitabine"]}]})
    assert history_fields(case)["prior_lines"] is None


def test_reported_values_are_kept_and_disagreements_warned() -> None:
    case = _case({"prior_lines": 3, "prior_agents": ["THP", "lapatinib"],
                  "regimens": [{"agents": ["THP"], "setting": "metastatic", "line": 1}]})
    fields = history_fields(case)
    assert fields["prior_lines"] == 3  # the clinician's count is never replaced
    assert fields["prior_agents"] == ("THP", "lapatinib")
    notes = history_notes(case)
    assert [(code, field) for code, field, _ in notes] == [
        ("history_disagreement", "history.prior_lines"),
        ("history_disagreement", "history.prior_agents"),
    ]
    assert "'lapatinib'" in notes[1][2]


def test_pathologic_response_without_neoadjuvant_therapy_is_accepted_with_a_warning() -> None:
    case = _case({"surgery": {"pathologic_response": "pcr"}, "regimens": [{"agents": ["AC-T"], "setting": "adjuvant"}]})
    assert [n[0] for n in history_notes(case)] == ["pathologic_response_without_neoadjuvant"]


def test_assessed_on_is_reported_and_defaults_to_today() -> None:
    base = {"tumor": {"oncotree_code": "IDC", "setting": "metastatic"}, "specimens": [IHC3]}
    explicit = her2cds.assess({**base, "assessed_on": "2025-07-01"})
    assert explicit.assessed_on == dt.date(2025, 7, 1)
    assert her2cds.assess(base).assessed_on == dt.date.today()


def test_history_warnings_reach_the_assessment() -> None:
    result = her2cds.assess({
        "tumor": {"oncotree_code": "IDC", "setting": "metastatic"}, "specimens": [IHC3],
        "history": {"prior_lines": 2, "regimens": [{"agents": ["THP"], "setting": "metastatic", "line": 1}]},
    })
    assert [(w.code, w.field) for w in result.warnings] == [("history_disagreement", "history.prior_lines")]


def test_a_future_date_without_explicit_assessment_date_is_a_warning() -> None:
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    result = her2cds.assess({
        "tumor": {"oncotree_code": "IDC", "setting": "metastatic", "recurrence_date": future}, "specimens": [IHC3],
    })
    assert [(w.code, w.field) for w in result.warnings] == [("date_after_assessment", "tumor.recurrence_date")]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [((2024, 8, 31), 6, (2025, 2, 28)), ((2023, 8, 31), 6, (2024, 2, 29)), ((2024, 1, 15), 6, (2024, 7, 15)),
     ((2024, 12, 1), 1, (2025, 1, 1))],
)
def test_add_months_clamps_to_the_month_end(day: tuple[int, int, int], months: int,
                                             expected: tuple[int, int, int]) -> None:
    assert add_months(dt.date(*day), months) == dt.date(*expected)


def test_relapse_exactly_six_months_after_completion_is_within(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    """The label's "within six months" includes the boundary day."""
    def outcome(recurrence: str) -> str:
        facts = build_facts(kb, {
            "tumor": "IDC", "setting": "metastatic", "her2_status": "positive", "recurrence_date": recurrence,
            "history": {"regimens": [{"agents": ["trastuzumab"], "setting": "adjuvant", "end": "2024-01-15"}]},
        })
        option = next(o for o in match_therapies(facts, tk)
                      if o.id == "fda.trastuzumab-deruxtecan.breast-her2-positive-pretreated")
        return option.outcome

    assert outcome("2024-07-15") == "eligible"
    assert outcome("2024-07-16") == "not_eligible"


# ------------------------------------------------------------------------------------------- property
AGENTS = ["THP", "TCHP", "trastuzumab", "T-DM1", "T-DXd", "paclitaxel", "capecitabine", "tucatinib", "letrozole",
          "margetuximab", "neratinib", "AC"]
SETTINGS = ["neoadjuvant", "adjuvant", "metastatic", "locally_advanced", "maintenance"]
BASE = dt.date(2020, 1, 1)
REMOVABLE = ("setting", "line", "start", "end", "best_response", "progressed", "progression_date", "stopped_for")


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    regimens: list[dict[str, Any]] = []
    day = 0
    for _ in range(draw(st.integers(0, 4))):
        setting = draw(st.sampled_from(SETTINGS))
        start = day + draw(st.integers(0, 60))
        end = start + draw(st.integers(0, 400))
        day = end
        reg: dict[str, Any] = {"agents": draw(st.lists(st.sampled_from(AGENTS), min_size=1, max_size=2, unique=True)),
                               "setting": setting, "start": BASE + dt.timedelta(start), "end": BASE + dt.timedelta(end)}
        if setting in ("metastatic", "locally_advanced") and draw(st.booleans()):
            reg["line"] = draw(st.integers(1, 4))
        outcome = draw(st.sampled_from(["progressed", "completed", "toxicity", "unknown"]))
        if outcome == "progressed":
            reg["progressed"] = True
            reg["progression_date"] = reg["end"]
            reg["stopped_for"] = "progression"
        elif outcome == "completed":
            reg.update(progressed=False, stopped_for="completion", best_response="complete_response")
        elif outcome == "toxicity":
            reg.update(progressed=False, stopped_for="toxicity")
        regimens.append(reg)
    history: dict[str, Any] = {"regimens": regimens}
    if draw(st.booleans()):
        history["surgery"] = {"date": BASE, "pathologic_response": draw(st.sampled_from(["pcr", "residual_invasive"]))}
    result: dict[str, Any] = {"history": history, "assessed_on": BASE + dt.timedelta(day + 800)}
    if draw(st.booleans()):
        result["recurrence_date"] = BASE + dt.timedelta(day + draw(st.integers(0, 700)))
    return result


def _removals(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Every copy of ``raw`` with exactly one history fact removed."""
    out: list[dict[str, Any]] = []
    if "recurrence_date" in raw:
        out.append({k: v for k, v in raw.items() if k != "recurrence_date"})
    history = raw["history"]
    surgery = history.get("surgery")
    if surgery is not None:
        for key in surgery:
            out.append({**raw, "history": {**history, "surgery": {k: v for k, v in surgery.items() if k != key}}})
    for index, reg in enumerate(history["regimens"]):
        for key in REMOVABLE:
            if key in reg:
                regimens = list(history["regimens"])
                regimens[index] = {k: v for k, v in reg.items() if k != key}
                out.append({**raw, "history": {**history, "regimens": regimens}})
    return out


@settings(max_examples=150, deadline=None)
@given(raw=histories(), setting=st.sampled_from(["early", "metastatic"]))
def test_removing_a_history_fact_never_makes_insufficient_data_eligible(
    kb: KnowledgeBase, tk: TherapyKnowledge, raw: dict[str, Any], setting: str
) -> None:
    base = {"tumor": "IDC", "setting": setting, "her2_status": "positive", "ihc_score": "3+",
            "category": "HER2-positive", "hormone_receptor": "positive"}
    before = {o.id: o.outcome for o in match_therapies(build_facts(kb, {**base, **raw}), tk)}
    for removed in _removals(raw):
        after = {o.id: o.outcome for o in match_therapies(build_facts(kb, {**base, **removed}), tk)}
        for option_id, outcome in before.items():
            if outcome == "insufficient_data":
                assert after[option_id] != "eligible", (option_id, raw, removed)
