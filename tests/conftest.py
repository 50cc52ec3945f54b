from __future__ import annotations

from pathlib import Path

import pytest

from her2cds.engine import Engine, default_engine
from her2cds.knowledge.loader import KnowledgeBase, default_knowledge_base

pytest_plugins = ["tests.dbfixtures"]

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return default_knowledge_base()


@pytest.fixture(scope="session")
def engine() -> Engine:
    return default_engine()
