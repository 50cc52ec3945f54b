from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model.case import Case
from her2cds.therapy import TherapyFacts, TherapyKnowledge, load_therapy_knowledge
from her2cds.therapy.facts import history_fields

FactsFactory = Callable[..., TherapyFacts]


@pytest.fixture(scope="session")
def tk(kb: KnowledgeBase) -> TherapyKnowledge:
    return load_therapy_knowledge(kb.root, kb.sources, kb.tumor_types)


def build_facts(kb: KnowledgeBase, raw: dict[str, Any]) -> TherapyFacts:
    """TherapyFacts from a golden-case dict: ``tumor`` is the OncoTree code; lists become tuples.

    ``history`` (the input contract's history block), ``recurrence_date`` and ``assessed_on`` go through the
    input model and the engine's own derivation (regimens → prior lines and agents).
    """
    values = dict(raw)
    code = values.pop("tumor")
    history_input = {k: values.pop(k) for k in ("history", "recurrence_date", "assessed_on") if k in values}
    for key, value in list(values.items()):
        if isinstance(value, list):
            values[key] = tuple(value)
    if history_input:
        case = Case.model_validate({
            "tumor": {"oncotree_code": code, "recurrence_date": history_input.get("recurrence_date")},
            "history": history_input.get("history", {}),
            "assessed_on": history_input.get("assessed_on"),
        })
        values.update(history_fields(case))
    return TherapyFacts(tumor_code=code, lineage=kb.lineage(code), **values)


@pytest.fixture(scope="session")
def make_facts(kb: KnowledgeBase) -> FactsFactory:
    def make(tumor: str, **values: Any) -> TherapyFacts:
        return build_facts(kb, {"tumor": tumor, **values})

    return make
