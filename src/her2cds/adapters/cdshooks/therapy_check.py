"""The ``her2-therapy-check`` services (order-select / order-sign): a drafted anti-HER2 medication order is
checked against the indication criteria of the matching therapy option of the assessment."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from her2cds.adapters.cdshooks import markdown as md
from her2cds.adapters.cdshooks.cards import (
    THERAPY_OVERRIDE_REASONS,
    TOPIC_MEDICATION,
    card_source,
    criterion_result,
    field,
    option_label,
    option_outcome,
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
from her2cds.adapters.fhir._values import objs
from her2cds.adapters.fhir.codes import CodeMap
from her2cds.adapters.fhir.medications import medication_drugs
from her2cds.errors import KnowledgeBaseError
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model.assessment import Assessment, InputWarning

#: The drug class whose members the check reacts to (therapy knowledge, ``drugs.yaml``).
ANTI_HER2_CLASS = "drug-class.anti-her2"


def anti_her2_inns(kb: KnowledgeBase) -> frozenset[str]:
    """INNs of the anti-HER2 drug class, from the therapy knowledge of the knowledge base (attached to it, or
    else loaded from its folder). Costly when loaded: callers keep the result."""
    from her2cds.knowledge.drugs import DrugTable
    from her2cds.knowledge.therapy import load_therapy_data

    therapy = kb.therapy if kb.therapy is not None else load_therapy_data(kb.root, kb.sources, kb.tumor_types)
    table: DrugTable = therapy.drugs
    if not table.has_class(ANTI_HER2_CLASS):
        raise KnowledgeBaseError(f"the drug table has no class {ANTI_HER2_CLASS!r}")
    return frozenset(inn for inn in table.drugs if ANTI_HER2_CLASS in table.classes_of(inn))


@dataclass(frozen=True)
class DraftOrder:
    reference: str | None  # e.g. "MedicationRequest/123"
    concepts: tuple[Mapping[str, Any], ...]  # the medication's CodeableConcepts

    @property
    def texts(self) -> list[str]:
        texts: list[str] = []
        for concept in self.concepts:
            if isinstance(concept.get("text"), str):
                texts.append(concept["text"])
            texts += [
                c["display"]
                for c in objs(concept.get("coding"))
                if isinstance(c.get("display"), str)
            ]
        return texts


def _medication_concepts(
    request: Mapping[str, Any], resources: Mapping[str, Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    concepts: list[Mapping[str, Any]] = []
    if isinstance(request.get("medicationCodeableConcept"), Mapping):
        concepts.append(request["medicationCodeableConcept"])
    reference = request.get("medicationReference")
    if isinstance(reference, Mapping):
        if isinstance(reference.get("display"), str):
            concepts.append({"text": reference["display"]})
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
            if isinstance(target.get("code"), Mapping):
                concepts.append(target["code"])
            for ingredient in objs(target.get("ingredient")):
                if isinstance(ingredient.get("itemCodeableConcept"), Mapping):
                    concepts.append(ingredient["itemCodeableConcept"])
    return concepts


def draft_medication_orders(context: Mapping[str, Any], *, selected_only: bool) -> list[DraftOrder]:
    """The MedicationRequests of ``context.draftOrders`` (for order-select only those in ``selections``)."""
    bundle = context.get("draftOrders")
    if not isinstance(bundle, Mapping):
        return []
    entries = [e.get("resource") for e in objs(bundle.get("entry"))]
    resources: dict[str, Mapping[str, Any]] = {}
    for resource in entries:
        if isinstance(resource, Mapping) and isinstance(resource.get("id"), str):
            resources[f"{resource.get('resourceType')}/{resource['id']}"] = resource
    selections = context.get("selections")
    chosen = None
    if selected_only and isinstance(selections, list):
        chosen = {s for s in selections if isinstance(s, str)}
    orders: list[DraftOrder] = []
    for resource in entries:
        if not isinstance(resource, Mapping) or resource.get("resourceType") != "MedicationRequest":
            continue
        reference = f"MedicationRequest/{resource['id']}" if isinstance(resource.get("id"), str) else None
        if chosen is not None and reference not in chosen:
            continue
        orders.append(DraftOrder(reference, tuple(_medication_concepts(resource, resources))))
    return orders


def order_drugs(order: DraftOrder, code_map: CodeMap) -> list[str]:
    """The INNs an order names, read the same way as the FHIR converter reads medications."""
    found: list[str] = []
    for concept in order.concepts:
        found += [inn for inn in medication_drugs(concept, code_map) if inn not in found]
    return found


def option_drugs(option: Any) -> list[str]:
    drugs = field(option, "drugs") or []
    return [(drug if isinstance(drug, str) else str(field(drug, "name", ""))).lower() for drug in drugs]


def _criteria_table(option: Any) -> str:
    rows = [
        [md.esc(field(c, "text", "")), criterion_result(field(c, "result")), md.esc(field(c, "reason") or "")]
        for c in field(option, "criteria") or []
    ]
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
    eligible = [option for option in matching if option_outcome(option) == "eligible"]
    if eligible:
        return _Verdict("info", f"{name}: indication criteria met ({option_label(eligible[0])})", tuple(eligible))
    undetermined = [option for option in matching if option_outcome(option) == "insufficient_data"]
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
        + (f" ({md.code(order.reference)})" if order.reference else ""),
        f"**HER2:** {md.esc(status_label(assessment))}"
        + (f" ({md.esc(basis)})" if basis else "")
        + f" — {md.esc(assessment.her2.basis)}",
        f"**Tumor:** {md.esc(assessment.tumor.name)} (OncoTree {md.esc(assessment.tumor.oncotree_code)})"
        + (f", {md.esc(assessment.tumor.setting)}" if assessment.tumor.setting else ""),
    ]
    for option in verdict.options:
        state = {"eligible": "met", "not_eligible": "not met"}.get(option_outcome(option), "undetermined")
        section = f"**{md.esc(option_label(option))}** — indication {state}"
        if field(option, "region_status"):  # only in another region than the default (US)
            section += f"\n\n{md.esc(field(option, 'region_status'))}"
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
