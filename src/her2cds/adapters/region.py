"""The region parameter of the adapters (``her2cds assess --region``, API ``region=``): the default region of
the cases they assess. A case that names its own ``region`` keeps it (docs/therapy.md "Regions")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from her2cds.model.case import Case, Region

#: The choices of ``--region`` / ``region=``; the default (none given) is the US (FDA).
REGIONS: tuple[Region, ...] = ("us", "eu")


def with_region(data: Any, region: Region | None) -> Any:
    """The case input with ``region`` as its default: a case (mapping or Case) that names no region gets it.
    Anything else is returned as it is (the engine reports what is wrong with it)."""
    if region is None:
        return data
    if isinstance(data, Case):
        return data if data.region is not None else data.model_copy(update={"region": region})
    if isinstance(data, Mapping) and data.get("region") is None:
        return {**data, "region": region}
    return data


class RegionalAssessor:
    """An engine whose cases default to one region (for batch mode: every line goes through ``assess``)."""

    def __init__(self, engine: Any, region: Region) -> None:
        self._engine = engine
        self._region = region

    def assess(self, data: Any) -> Any:
        return self._engine.assess(with_region(data, self._region))

    def assess_json(self, data: Any, *, expand: bool = False) -> str:
        """The default document (``--batch``), written directly by the engine."""
        result: str = self._engine.assess_json(with_region(data, self._region), expand=expand)
        return result
