"""The ``her2-therapy-check`` services (order-select / order-sign): a drafted anti-HER2 medication order is
checked against the indication criteria of the matching therapy option of the assessment."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from her2cds.adapters.cdshooks import markdown as md
from her2cds.adapters.cdshooks.cards import (
    THERAPY_OVERRIDE_REASONS,
    TOPIC_MEDICATION,
    card_source,
    field,
    option_label,
    source_ids,
    source_url,
    status_basis,
    status_label,
    unknown_criteria,
    unmet_criteria,
    versions_line,
    warnings_section,
)
from her2cds.adapters.cdshooks.models import Action, Card, Link, Suggestion
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model.assessment import Assessment, InputWarning

#: Generic names of HER2-directed agents, used to recognise an anti-HER2 order even when the assessment has no
#: option for it (that is itself worth a warning). Names are matched inside the order's medication text
#: (RxNorm names carry the ingredient, e.g. "zanidatamab-hrii 300 MG Injection").
ANTI_HER2_AGENTS: tuple[str, ...] = (
    "trastuzumab",
    "trastuzumab deruxtecan",
    "trastuzumab emtansine",
    "pertuzumab",
    "margetuximab",
    "zanidatamab",
    "lapatinib",
    "neratinib",
    "tucatinib",
    "zongertinib",
    "sevabertinib",
)

_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    return " " + _NON_WORD.sub(" ", text.lower()).strip() + " "


@dataclass(frozen=True)
class DraftOrder:
    reference: str | None  # e.g. "MedicationRequest/123"
    texts: tuple[str, ...]  # everything that names the medication


def _concept_texts(concept: Any) -> list[str]:
    if not isinstance(concept, Mapping):
        return []
    texts = [concept["text"]] if isinstance(concept.get("text"), str) else []
    for coding in concept.get("coding") or []:
        if isinstance(coding, Mapping) and isinstance(coding.get("display"), str):
            texts.append(coding["display"])
    return texts


def _medication_texts(request: Mapping[str, Any], resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    texts = _concept_texts(request.get("medicationCodeableConcept"))
    reference = request.get("medicationReference")
    if isinstance(reference, Mapping):
        if isinstance(reference.get("display"), str):
            texts.append(reference["display"])
        ref = reference.get("reference")
        target: Any = None
        if isinstance(ref, str) and ref.startswith("#"):
            target = next(
                (c for c in request.get("contained") or [] if isinstance(c, Mapping) and c.get("id") == ref[1:]),
                None,
            )
        elif isinstance(ref, str):
            target = resources.get(ref)
        if isinstance(target, Mapping):
            texts += _concept_texts(target.get("code"))
            for ingredient in target.get("ingredient") or []:
                if isinstance(ingredient, Mapping):
                    texts += _concept_texts(ingredient.get("itemCodeableConcept"))
    return texts


def draft_medication_orders(context: Mapping[str, Any], *, selected_only: bool) -> list[DraftOrder]:
    """The MedicationRequests of ``context.draftOrders`` (for order-select only those in ``selections``)."""
    bundle = context.get("draftOrders")
    if not isinstance(bundle, Mapping):
        return []
    entries = [e.get("resource") for e in bundle.get("entry") or [] if isinstance(e, Mapping)]
    resources: dict[str, Mapping[str, Any]] = {}
    for resource in entries:
        if isinstance(resource, Mapping) and isinstance(resource.get("id"), str):
            resources[f"{resource.get('resourceType')}/{resource['id']}"] = resource
    selections = context.get("selections")
    chosen = {s for s in selections if isinstance(s, str)} if selected_only and isinstance(selections, list) else None
    orders: list[DraftOrder] = []
    for resource in entries:
        if not isinstance(resource, Mapping) or resource.get("resourceType") != "MedicationRequest":
            continue
        reference = f"MedicationRequest/{resource['id']}" if isinstance(resource.get("id"), str) else None
        if chosen is not None and reference not in chosen:
            continue
        orders.append(DraftOrder(reference, tuple(_medication_texts(resource, resources))))
    return orders


def recognise(texts: Iterable[str], names: Iterable[str]) -> list[str]:
    """The drug names that occur in ``texts`` (whole words), a name inside a longer matched name dropped
    (``trastuzumab`` is not reported for "trastuzumab deruxtecan")."""
    haystack = " | ".join(normalise(text) for text in texts)
    found = {name for name in {n.lower() for n in names} if normalise(name) in haystack}
    return sorted(n for n in found if not any(n != other and normalise(n) in normalise(other) for other in found))


def option_drugs(option: Any) -> list[str]:
    drugs = field(option, "drugs") or []
    return [(drug if isinstance(drug, str) else str(field(drug, "name", ""))).lower() for drug in drugs]


def _criteria_table(option: Any) -> str:
    rows = []
    for criterion in field(option, "criteria") or []:
        result = field(criterion, "result")
        shown = result if isinstance(result, str | bool) or result is None else getattr(result, "value", result)
        rows.append([md.esc(field(criterion, "text", "")), md.esc(shown), md.esc(field(criterion, "reason") or "")])
    if not rows:
        return ""
    return md.table(["Criterion", "Result", "Reason"], rows)


def _display(drug: str) -> str:
    return drug[:1].upper() + drug[1:]


@dataclass(frozen=True)
class _Verdict:
    indicator: str
    summary: str
    options: tuple[Any, ...]


def _verdict(drug: str, assessment: Assessment) -> _Verdict:
    matching = [option for option in assessment.therapies if drug in option_drugs(option)]
    name = _display(drug)
    if not matching:
        return _Verdict(
            "warning",
            f"{name}: no HER2-targeted indication found for this patient's tumor and "
            f"HER2 result ({status_label(assessment)})",
            (),
        )
    eligible = [option for option in matching if field(option, "eligible") is True]
    if eligible:
        return _Verdict("info", f"{name}: indication criteria met ({option_label(eligible[0])})", tuple(eligible))
    undetermined = [option for option in matching if field(option, "eligible") is None]
    if undetermined:
        unknown = unknown_criteria(undetermined[0])
        why = field(unknown[0], "text", "") if unknown else "data missing"
        return _Verdict("warning", f"{name}: indication cannot be confirmed — {why}", tuple(undetermined))
    ranked = sorted(matching, key=lambda option: len(unmet_criteria(option)))
    unmet = unmet_criteria(ranked[0])
    why = field(unmet[0], "text", "") if unmet else "not eligible"
    return _Verdict("warning", f"{name}: indication criteria not met — {why}", tuple(ranked[:2]))


def therapy_check_card(
    order: DraftOrder,
    drug: str,
    assessment: Assessment,
    kb: KnowledgeBase,
    extra_warnings: Sequence[InputWarning] = (),
) -> Card:
    verdict = _verdict(drug, assessment)
    basis = status_basis(assessment)
    parts = [
        f"**Order:** {md.esc(' / '.join(order.texts) or drug)}"
        + (f" (`{md.esc(order.reference)}`)" if order.reference else ""),
        f"**HER2:** {md.esc(status_label(assessment))}"
        + (f" ({md.esc(basis)})" if basis else "")
        + f" — {md.esc(assessment.her2.basis)}",
        f"**Tumor:** {md.esc(assessment.tumor.name)} (OncoTree {md.esc(assessment.tumor.oncotree_code)})"
        + (f", {md.esc(assessment.tumor.setting)}" if assessment.tumor.setting else ""),
    ]
    for option in verdict.options:
        eligible = field(option, "eligible")
        state = "met" if eligible is True else "not met" if eligible is False else "undetermined"
        section = f"**{md.esc(option_label(option))}** — indication {state}"
        table = _criteria_table(option)
        parts.append(section + ("\n\n" + table if table else ""))
    if not verdict.options:
        evaluated = [option_label(option) for option in assessment.therapies]
        parts.append(
            "No therapy option of the knowledge base contains this drug for this patient."
            + (" Options evaluated: " + "; ".join(md.esc(e) for e in evaluated) + "." if evaluated else "")
        )
    warnings = [*extra_warnings, *assessment.warnings]
    if warnings:
        parts.append("**Not considered**\n\n" + warnings_section(warnings))
    parts.append(versions_line(assessment))
    parts.append(f"_{md.esc(assessment.disclaimer)}_")

    ids: list[str] = []
    for option in verdict.options:
        ids += [sid for sid in source_ids(field(option, "sources") or []) if sid not in ids]
    links: list[Link] = []
    for sid in ids:
        url = source_url(kb, sid)
        source = kb.sources.get(sid)
        if url and source is not None and len(links) < 3:
            links.append(Link(label=md.clip(source.title, 100), url=url, type="absolute"))
    suggestions = None
    if verdict.indicator == "warning" and order.reference:
        suggestions = [
            Suggestion(
                label=md.clip(f"Remove the draft order for {drug}", 100),
                uuid=str(uuid.uuid4()),
                isRecommended=False,
                actions=[
                    Action(
                        type="delete",
                        description=f"Remove the draft {drug} order",
                        resourceId=order.reference,
                    )
                ],
            )
        ]
    label = f"her2cds · {option_label(verdict.options[0])}" if verdict.options else "her2cds therapy check"
    return Card(
        uuid=str(uuid.uuid4()),
        summary=md.clip(verdict.summary, 140),
        indicator="warning" if verdict.indicator == "warning" else "info",
        detail="\n\n".join(parts),
        source=card_source(kb, label, ids, TOPIC_MEDICATION),
        suggestions=suggestions,
        selectionBehavior="at-most-one" if suggestions else None,
        overrideReasons=list(THERAPY_OVERRIDE_REASONS) if verdict.indicator == "warning" else None,
        links=links or None,
    )
