"""The event loop's process keeps its long-lived objects out of the garbage collector's generations (issue 10
item 7): with the engine in worker processes, a full collection in the loop's process would otherwise walk the
knowledge base and the application and stall every connection (80-140 ms measured under 4x overload)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from her2cds.adapters.api import app as app_module
from her2cds.adapters.api.app import create_app
from her2cds.adapters.api.settings import Settings
from her2cds.adapters.api.state import AppState
from her2cds.knowledge.loader import default_knowledge_base


class _ProcessEngine:
    kind = "process"

    async def start(self) -> None:
        """The worker processes are not needed to show what the loop's process does."""


def _tracked(target: object) -> bool:
    return any(candidate is target for candidate in gc.get_objects())


def test_the_process_engines_warm_up_freezes_the_loops_long_lived_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(Settings(engine="process"))
    monkeypatch.setattr(AppState, "engine", property(lambda self: _ProcessEngine()))
    kb: Any = default_knowledge_base()
    gc.unfreeze()  # as if nothing had frozen it before (another test's engine may have)
    try:
        assert _tracked(kb)  # walked by every full collection
        asyncio.run(app_module._warm_up(app))
        assert not _tracked(kb) and gc.get_freeze_count() > 0  # out of the collector's generations
    finally:
        gc.freeze()
