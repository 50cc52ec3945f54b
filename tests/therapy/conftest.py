from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from her2cds.knowledge.loader import KnowledgeBase
from her2cds.therapy import TherapyFacts, TherapyKnowledge, load_therapy_knowledge

FactsFactory = Callable[..., TherapyFacts]


@pytest.fixture(scope="session")
def tk(kb: KnowledgeBase) -> TherapyKnowledge:
    return load_therapy_knowledge(kb.root, kb.sources, kb.tumor_types)


def build_facts(kb: KnowledgeBase, raw: dict[str, Any]) -> TherapyFacts:
    """TherapyFacts from a golden-case dict: ``tumor`` is the OncoTree code; lists become tuples."""
    values = dict(raw)
    code = values.pop("tumor")
    for key, value in list(values.items()):
        if isinstance(value, list):
            values[key] = tuple(value)
    return TherapyFacts(tumor_code=code, lineage=kb.lineage(code), **values)


@pytest.fixture(scope="session")
def make_facts(kb: KnowledgeBase) -> FactsFactory:
    def make(tumor: str, **values: Any) -> TherapyFacts:
        return build_facts(kb, {"tumor": tumor, **values})

    return make
