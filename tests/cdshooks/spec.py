"""The CDS Hooks 2.0 response rules, checked independently of the service's own models.

Rules (CDS Hooks 2.0 "CDS Service Response", "Card Attributes", and the HL7 cds-hooks invariants): ``cards``
is required; each card has a ``summary`` under 140 characters, an ``indicator`` of info|warning|critical and a
``source`` with a ``label``; suggestions require ``selectionBehavior``; actions are create/update (with a
resource) or delete (with resourceId, no resource); override reasons need a ``display``; links have label,
url and type absolute|smart, and ``appContext`` only on smart links; no JSON value is null, and optional
strings, arrays and objects are omitted rather than empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "cds-hooks"

CARD_FIELDS = {
    "uuid",
    "summary",
    "detail",
    "indicator",
    "source",
    "suggestions",
    "selectionBehavior",
    "overrideReasons",
    "links",
}


def load(relative: str) -> Any:
    """A spec example; ``*.json-like.txt`` fragments are wrapped and stripped of ``//`` comments."""
    path = FIXTURES / relative
    text = path.read_text(encoding="utf-8")
    if path.name.endswith(".json"):
        return json.loads(text)
    lines = [line.split(" // ")[0] for line in text.splitlines() if not line.startswith(("POST ", "GET "))]
    body = "\n".join(lines).strip()
    return json.loads(body if body.startswith("{") else "{" + body + "}")


def _no_nulls_or_empties(value: Any, where: str, problems: list[str]) -> None:
    if value is None:
        problems.append(f"{where}: null")
    elif isinstance(value, dict):
        if not value:
            problems.append(f"{where}: empty object")
        for key, item in value.items():
            _no_nulls_or_empties(item, f"{where}.{key}", problems)
    elif isinstance(value, list):
        if not value:
            problems.append(f"{where}: empty array")
        for index, item in enumerate(value):
            _no_nulls_or_empties(item, f"{where}[{index}]", problems)
    elif isinstance(value, str) and not value:
        problems.append(f"{where}: empty string")


def _coding(coding: Any, where: str, problems: list[str], *, display_required: bool) -> None:
    if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
        problems.append(f"{where}: a Coding needs a code")
        return
    if display_required and not isinstance(coding.get("display"), str):
        problems.append(f"{where}: override reasons need a display")


def _action(action: Any, where: str, problems: list[str]) -> None:
    if not isinstance(action, dict):
        problems.append(f"{where}: not an object")
        return
    kind = action.get("type")
    if kind not in {"create", "update", "delete"}:
        problems.append(f"{where}.type: {kind!r}")
    if not isinstance(action.get("description"), str):
        problems.append(f"{where}.description: required")
    resource = action.get("resource")
    if kind in {"create", "update"} and not isinstance(resource, dict):
        problems.append(f"{where}: {kind} needs a resource")
    elif isinstance(resource, dict) and not isinstance(resource.get("resourceType"), str):
        problems.append(f"{where}.resource: no resourceType")
    if kind == "delete" and (not isinstance(action.get("resourceId"), str) or "resource" in action):
        problems.append(f"{where}: delete needs resourceId and no resource")


def card_problems(card: Any, where: str = "card") -> list[str]:
    problems: list[str] = []
    if not isinstance(card, dict):
        return [f"{where}: not an object"]
    unknown = set(card) - CARD_FIELDS
    if unknown:
        problems.append(f"{where}: unknown fields {sorted(unknown)}")
    summary = card.get("summary")
    if not isinstance(summary, str) or not summary:
        problems.append(f"{where}.summary: required")
    elif len(summary) >= 140:
        problems.append(f"{where}.summary: {len(summary)} characters (must be under 140)")
    if card.get("indicator") not in {"info", "warning", "critical"}:
        problems.append(f"{where}.indicator: {card.get('indicator')!r}")
    source = card.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("label"), str):
        problems.append(f"{where}.source.label: required")
    elif "topic" in source:
        _coding(source["topic"], f"{where}.source.topic", problems, display_required=False)
    if "detail" in card and not isinstance(card["detail"], str):
        problems.append(f"{where}.detail: must be a (Markdown) string")
    suggestions = card.get("suggestions")
    if suggestions is not None:
        if card.get("selectionBehavior") not in {"at-most-one", "any"}:
            problems.append(f"{where}: suggestions need selectionBehavior at-most-one|any")
        for index, suggestion in enumerate(suggestions):
            if not isinstance(suggestion, dict) or not isinstance(suggestion.get("label"), str):
                problems.append(f"{where}.suggestions[{index}].label: required")
                continue
            for a_index, action in enumerate(suggestion.get("actions", [])):
                _action(action, f"{where}.suggestions[{index}].actions[{a_index}]", problems)
    for index, reason in enumerate(card.get("overrideReasons") or []):
        _coding(reason, f"{where}.overrideReasons[{index}]", problems, display_required=True)
    for index, link in enumerate(card.get("links") or []):
        lw = f"{where}.links[{index}]"
        if not isinstance(link, dict):
            problems.append(f"{lw}: not an object")
            continue
        for key in ("label", "url"):
            if not isinstance(link.get(key), str):
                problems.append(f"{lw}.{key}: required")
        if link.get("type") not in {"absolute", "smart"}:
            problems.append(f"{lw}.type: {link.get('type')!r}")
        if "appContext" in link and link.get("type") != "smart":
            problems.append(f"{lw}.appContext: only for smart links")
    _no_nulls_or_empties(card, where, problems)
    return problems


def response_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("cards"), list):
        return ["response: a 'cards' array is required"]
    problems: list[str] = []
    for index, card in enumerate(body["cards"]):
        problems += card_problems(card, f"cards[{index}]")
    for index, action in enumerate(body.get("systemActions") or []):
        _action(action, f"systemActions[{index}]", problems)
    return problems


def operation_outcome_problems(body: Any) -> list[str]:
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ["not an OperationOutcome"]
    issues = body.get("issue")
    if not isinstance(issues, list) or not issues:
        return ["OperationOutcome.issue: at least one issue is required"]
    problems: list[str] = []
    for index, issue in enumerate(issues):
        if issue.get("severity") not in {"fatal", "error", "warning", "information"}:
            problems.append(f"issue[{index}].severity")
        if not isinstance(issue.get("code"), str):
            problems.append(f"issue[{index}].code")
    return problems
