"""``her2cds assess --criteria``: put the command line's criteria on every case before the engine reads it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from her2cds.engine import Engine
from her2cds.errors import InvalidInputError
from her2cds.model.assessment import Assessment


def with_criteria(data: Any, criteria: str) -> Any:
    """The case with ``criteria`` set; a case that names other criteria is an error (never silently replaced)."""
    if not isinstance(data, Mapping):
        return data  # not a case: the engine names the problem
    own = data.get("criteria")
    if own is not None and own != criteria:
        raise InvalidInputError.single("criteria", f"the case asks for {own!r} but --criteria gives {criteria!r}",
                                       own)
    return {**data, "criteria": criteria}


class CriteriaEngine:
    """An engine whose every case is re-read under the same criteria (single cases and --batch lines)."""

    def __init__(self, engine: Engine, criteria: str) -> None:
        self.engine = engine
        self.criteria = criteria

    def assess(self, data: Any) -> Assessment:
        return self.engine.assess(with_criteria(data, self.criteria))

    def assess_json(self, data: Any, *, expand: bool = False) -> str:
        """The default document (``--batch``), written directly by the engine."""
        return self.engine.assess_json(with_criteria(data, self.criteria), expand=expand)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)
