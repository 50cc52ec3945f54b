"""Embedded example cases (one per tumor family), used by ``her2cds assess --example``."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from her2cds.errors import NotFoundError

DEFAULT = "gastric-her2-positive"


def names() -> list[str]:
    return sorted(p.name.removesuffix(".json") for p in resources.files(__name__).iterdir() if p.name.endswith(".json"))


def load(name: str = DEFAULT) -> dict[str, Any]:
    if name not in names():
        raise NotFoundError(f"no example named {name!r}; choose one of {', '.join(names())}")
    data: dict[str, Any] = json.loads((resources.files(__name__) / f"{name}.json").read_text(encoding="utf-8"))
    return data
