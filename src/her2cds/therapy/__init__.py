"""HER2-directed therapy matching: indications as data, eligibility as three-valued boolean trees.

Public API::

    tk = load_therapy_knowledge(kb_root, kb.sources, kb.tumor_types)
    facts = facts_from(case, assessment_her2, kb.lineage(case.tumor.oncotree_code))
    options = match_therapies(facts, tk)
    print(render_therapies_text(options))

Importing this package does no work; loading is explicit.
"""

from her2cds.therapy.facts import TherapyFacts, facts_from, history_notes
from her2cds.therapy.knowledge import TherapyKnowledge, load_therapy_knowledge
from her2cds.therapy.matching import match_therapies, unrecognised_agents
from her2cds.therapy.render import render_therapies_text

__all__ = [
    "TherapyFacts",
    "TherapyKnowledge",
    "facts_from",
    "history_notes",
    "load_therapy_knowledge",
    "match_therapies",
    "render_therapies_text",
    "unrecognised_agents",
]
