"""``her2cds kb show`` and ``kb list --kind``: an entry with the values of the thresholds it uses, or an OncoTree
code with how it is scored (family, scoring system, thresholds with operator and value)."""

from __future__ import annotations

from typing import Any

from her2cds.errors import NotFoundError, UsageError

__all__ = ["check_kind", "show"]


def _threshold(kb: Any, threshold_id: str) -> dict[str, Any] | None:
    found = kb.thresholds.get(threshold_id)
    if found is None:
        return None
    return {"id": found.id, "quantity": found.quantity, "operator": found.operator, "value": found.value,
            "unit": found.unit, "status": found.status, "text": found.text}


def _with_threshold_values(kb: Any, node: Any) -> Any:
    """Every ``"threshold": "<id>"`` in the entry gains ``"threshold_value"`` (operator, value, unit)."""
    if isinstance(node, dict):
        out = {key: _with_threshold_values(kb, value) for key, value in node.items()}
        ref = node.get("threshold")
        if isinstance(ref, str) and (value := _threshold(kb, ref)) is not None:
            out["threshold_value"] = {k: value[k] for k in ("operator", "value", "unit")}
        return out
    if isinstance(node, list):
        return [_with_threshold_values(kb, item) for item in node]
    return node


def _system(kb: Any, system_id: str) -> dict[str, Any]:
    system = kb.systems[system_id]
    return {"id": system.id, "name": system.name, "status": system.status, "default": system.default,
            "thresholds": [_threshold(kb, t.id) for t in system.thresholds],
            "rules": [rule.id for rule in system.rules]}


def _tumor(kb: Any, code: str) -> dict[str, Any]:
    tumor = kb.tumor_types[code]
    family = kb.family_for(code)
    out: dict[str, Any] = {"oncotree_code": tumor.code, "name": tumor.name, "main_type": tumor.main_type,
                           "lineage": list(kb.lineage(code)), "oncotree": kb.tumor_release}
    if family is None:
        out["family"] = None
        return out
    out["family"] = {"id": family.id, "name": family.name, "text": family.text, "fallback": family.fallback}
    out["scoring_system"] = _system(kb, family.scoring_system)
    return out


def show(kb: Any, entries: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """An entry by id (with threshold values), else an OncoTree code (case-insensitive)."""
    for entry in entries:
        if entry["id"] == key:
            shown: dict[str, Any] = _with_threshold_values(kb, entry)
            if entry["kind"] == "scoring_system" and key in kb.systems:
                shown["thresholds"] = _system(kb, key)["thresholds"]
                shown["rules"] = _system(kb, key)["rules"]
            return shown
    code = key.strip().upper()
    if code in kb.tumor_types:
        return _tumor(kb, code)
    raise NotFoundError(f"no knowledge-base entry with id {key!r} and no OncoTree code {code!r} "
                        "(her2cds kb list lists the ids; tumor types are OncoTree codes such as IDC or STAD)")


def check_kind(entries: list[dict[str, Any]], kind: str | None) -> None:
    """``kb list --kind`` with a kind no entry has is a usage error naming the kinds."""
    kinds = sorted({str(e["kind"]) for e in entries})
    if kind is not None and kind not in kinds:
        raise UsageError(f"--kind {kind!r} is not a kind of knowledge-base entry; choose one of {', '.join(kinds)}")
