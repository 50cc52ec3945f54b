"""Documentation stays in step with the code: every input/output field and every code is documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from her2cds.model.assessment import Assessment
from her2cds.model.case import Case

ROOT = Path(__file__).resolve().parents[2]


def _fields(model: type[BaseModel], seen: set[type[BaseModel]] | None = None, skip: frozenset[str] = frozenset()
            ) -> set[str]:
    seen = seen or set()
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        if name in skip:
            continue
        for arg in _models_in(info.annotation):
            names |= _fields(arg, seen)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        out += _models_in(arg)
    return out


def test_every_input_field_is_documented() -> None:
    text = (ROOT / "docs" / "input.md").read_text(encoding="utf-8")
    missing = sorted(f for f in _fields(Case) if f"`{f}`" not in text)
    assert not missing, missing


def test_every_output_field_is_documented() -> None:
    text = (ROOT / "docs" / "output.md").read_text(encoding="utf-8")
    fields = _fields(Assessment, skip=frozenset({"therapies"}))  # therapies: docs/therapy.md
    missing = sorted(f for f in fields if f"`{f}`" not in text)
    assert not missing, missing


def test_every_therapy_output_field_is_documented() -> None:
    from her2cds.model.therapy import TherapyOption

    text = (ROOT / "docs" / "therapy.md").read_text(encoding="utf-8")
    missing = sorted(f for f in _fields(TherapyOption) if f"`{f}`" not in text)
    assert not missing, missing


def test_codes_doc_is_current() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_docs.py"), "--check"], check=False)
    assert proc.returncode == 0, "docs/codes.md is out of date: run python tools/gen_docs.py"
