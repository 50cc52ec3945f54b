"""Building TherapyOption models for card tests (the shape the therapy matcher outputs)."""

from __future__ import annotations

from typing import Any

from her2cds.model.therapy import CriterionResult, TherapyOption


def option(
    ident: str,
    drugs: list[str],
    outcome: str,
    *,
    title: str | None = None,
    approval: str = "fda_approved",
    criteria: tuple[tuple[str, str, str], ...] | list[tuple[str, str, str]] = (),
    sources: tuple[str, ...] = (),
    **extra: Any,
) -> TherapyOption:
    return TherapyOption.model_validate(
        {
            "id": ident,
            "title": title or f"{' + '.join(drugs)} ({ident})",
            "regimen": " + ".join(drugs),
            "drugs": tuple(drugs),
            "approval_kind": approval,
            "eligible": outcome == "eligible",
            "outcome": outcome,
            "criteria": [
                CriterionResult.model_validate({"id": f"c{i}", "text": text, "result": result, "reason": reason})
                for i, (text, result, reason) in enumerate(criteria)
            ],
            "line": "previously treated",
            "setting": ("metastatic",),
            "tumor_scope": "test",
            "evidence_level": "single_arm",
            "sources": sources,
            "status": "verified",
            **extra,
        }
    )
