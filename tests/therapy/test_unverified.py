"""Unverified therapy entries never decide an answer without an explicit opt-in (mechanically, for every one)."""

from __future__ import annotations

import pytest

import her2cds
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.therapy import TherapyFacts, TherapyKnowledge, match_therapies


def _unverified(tk: TherapyKnowledge) -> list[str]:
    return [ind.entry.id for ind in tk.indications if ind.entry.status == "unverified"]


def test_there_are_unverified_entries_to_guard(tk: TherapyKnowledge) -> None:
    assert len(_unverified(tk)) >= 5


@pytest.mark.parametrize("opt_in", [False, True])
def test_unverified_indications_appear_only_with_the_opt_in(kb: KnowledgeBase, tk: TherapyKnowledge,
                                                            opt_in: bool) -> None:
    for indication_id in _unverified(tk):
        ind = tk.get(indication_id)
        code = ind.tumors.include[0]
        facts = TherapyFacts(tumor_code=code, lineage=kb.lineage(code), setting=ind.entry.setting[-1],
                             her2_status="positive", ihc_score="3+", ish_amplified=True, kras="wild_type",
                             nras="wild_type", prior_lines=1, prior_agents=("FOLFOX",))
        listed = {o.id for o in match_therapies(facts, tk, include_unverified=opt_in)}
        assert (indication_id in listed) is opt_in, indication_id


def test_every_listed_unverified_option_says_so(kb: KnowledgeBase, tk: TherapyKnowledge) -> None:
    facts = TherapyFacts(tumor_code="COAD", lineage=kb.lineage("COAD"), setting="metastatic", her2_status="positive",
                         ihc_score="2+", ish_amplified=True, kras="wild_type", nras="wild_type", prior_lines=2,
                         prior_agents=("FOLFOX", "FOLFIRI"))
    options = match_therapies(facts, tk, include_unverified=True)
    guideline = [o for o in options if o.id.startswith("guideline.")]
    assert guideline and all(o.status == "unverified" for o in guideline)
    assert all(o.approval_kind == "guideline_supported_not_approved" and not o.regulatory for o in guideline)


def test_the_engine_needs_the_case_opt_in() -> None:
    case = {"tumor": {"oncotree_code": "USC", "setting": "metastatic"},
            "specimens": [{"id": "S1", "procedure": "biopsy", "ihc": {"score": "3+"}}],
            "history": {"prior_lines": 0}}
    default = {t.id for t in her2cds.assess(case).therapies}
    opted = {t.id for t in her2cds.assess({**case, "include_unverified": True}).therapies}
    uterine = "guideline.trastuzumab-carboplatin-paclitaxel.uterine-serous"
    assert uterine not in default and uterine in opted
