"""Text rendering: eligible options with one line of evidence, needs, and close misses with their reason."""

from __future__ import annotations

from her2cds.knowledge.loader import KnowledgeBase
from her2cds.therapy import TherapyFacts, TherapyKnowledge, match_therapies, render_therapies_text
from her2cds.therapy.render import evidence_line, is_close_miss


def test_gastric_text(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    facts = TherapyFacts(
        tumor_code="STAD",
        lineage=kb.lineage("STAD"),
        setting="metastatic",
        her2_status="positive",
        ihc_score="3+",
        pd_l1_cps=0.5,
        prior_lines=0,
    )
    text = render_therapies_text(match_therapies(facts, tk))
    eligible, _, rest = text.partition("Close misses")
    assert "Eligible (1):" in eligible
    assert "ToGA (NCT01041404, phase 3 randomized): OS 13.8 vs 11.1 months, HR 0.74 (95% CI 0.60-0.91)" in eligible
    assert "Pembrolizumab" in rest
    assert "PD-L1 CPS 0.5; required: PD-L1 CPS ≥1" in rest
    assert "FDA regular approval; first approved 2021-05-05; latest: traditional (regular) approval" in rest


def test_conditions_and_needs_are_shown(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    facts = TherapyFacts(
        tumor_code="SDCA", lineage=kb.lineage("SDCA"), setting="metastatic", ihc_score="3+", prior_lines=1,
        prior_agents=("carboplatin", "paclitaxel"),
    )
    text = render_therapies_text(match_therapies(facts, tk))
    assert "confirm: No satisfactory alternative treatment options" in text
    facts = TherapyFacts(tumor_code="SDCA", lineage=kb.lineage("SDCA"), setting="metastatic", ihc_score="3+")
    text = render_therapies_text(match_therapies(facts, tk))
    assert "Need more information (1):" in text
    assert "needs: prior systemic therapy" in text


def test_guideline_option_is_labelled_not_approved(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    facts = TherapyFacts(
        tumor_code="USC", lineage=kb.lineage("USC"), setting="metastatic", ihc_score="3+", prior_lines=0
    )
    text = render_therapies_text(match_therapies(facts, tk))
    assert "[guideline-supported, NOT FDA-approved; first line for advanced or recurrent disease]" in text


def test_setting_misses_are_not_close_misses(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    facts = TherapyFacts(
        tumor_code="IDC",
        lineage=kb.lineage("IDC"),
        setting="early",
        her2_status="positive",
        ihc_score="3+",
        category="HER2-positive",
        prior_lines=0,
    )
    options = match_therapies(facts, tk)
    first_line = next(o for o in options if o.id == "fda.pertuzumab.breast-metastatic-first-line")
    assert not is_close_miss(first_line)  # only the setting fails
    text = render_therapies_text(options)
    assert "other option(s) for this tumor type do not apply" in text
    assert "CLEOPATRA" not in text.partition("Close misses")[2]


def test_no_options_text() -> None:
    assert "no indication" in render_therapies_text([])


def test_evidence_line_skips_supporting_trials(tk: TherapyKnowledge) -> None:
    evidence = tk.get("fda.trastuzumab-deruxtecan.gastric-pretreated").evidence
    line = evidence_line(evidence)
    assert line is not None and line.startswith("DESTINY-Gastric01")
    assert evidence_line(tuple(e for e in evidence if e.role == "supporting")) is None
