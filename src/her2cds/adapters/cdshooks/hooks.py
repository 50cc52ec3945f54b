"""Answering a CDS Hooks call: prefetch -> FHIR converter -> engine -> cards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from her2cds.adapters.cdshooks import markdown as md
from her2cds.adapters.cdshooks.cards import (
    RECOMMENDATION_ACTIONS,
    TOPIC_MEDICATION,
    assessment_card,
    notice_card,
)
from her2cds.adapters.cdshooks.egress import FhirAccess
from her2cds.adapters.cdshooks.models import Card, CdsRequest, CdsResponse
from her2cds.adapters.cdshooks.prefetch import ClientFactory, PrefetchResult, resolve_prefetch
from her2cds.adapters.cdshooks.services import OBSERVATION_KEYS, CdsService
from her2cds.adapters.cdshooks.therapy_check import (
    DraftOrder,
    draft_medication_orders,
    order_drugs,
    therapy_check_card,
)
from her2cds.adapters.fhir._values import obj, objs
from her2cds.errors import InvalidInputError
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model.assessment import Assessment, InputWarning
from her2cds.model.case import Region

Assessor = Callable[[dict[str, Any]], Assessment]


Offload = Callable[..., Awaitable[Any]]


async def _inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@dataclass(frozen=True)
class HookDeps:
    assessor: Assessor
    kb: KnowledgeBase
    client: ClientFactory  # opened only when a FHIR server must be queried
    anti_her2: Callable[[], frozenset[str]]  # INNs the therapy check reacts to (computed once per app)
    access: FhirAccess = field(default_factory=FhirAccess)  # which FHIR servers may be queried, and limits
    offload: Offload = _inline  # runs the CPU work of a call (the service: on an engine worker)


@dataclass
class _Outcome:
    assessment: Assessment | None
    warnings: list[InputWarning] = field(default_factory=list)
    problem: str | None = None  # why there is no assessment, when there is something to say
    has_her2_data: bool = False


def _resource_ref(resource: Mapping[str, Any]) -> str | None:
    if isinstance(resource.get("id"), str) and isinstance(resource.get("resourceType"), str):
        return f"{resource['resourceType']}/{resource['id']}"
    return None


def _without(payloads: list[dict[str, Any]], refs: set[str]) -> list[dict[str, Any]]:
    """The payloads without the resources in ``refs`` (the drafted orders are not medication history)."""
    if not refs:
        return payloads
    kept: list[dict[str, Any]] = []
    for payload in payloads:
        if payload.get("resourceType") == "Bundle":
            entries = [
                entry
                for entry in objs(payload.get("entry"))
                if not (
                    isinstance(entry, Mapping)
                    and isinstance(entry.get("resource"), Mapping)
                    and _resource_ref(entry["resource"]) in refs
                )
            ]
            kept.append({**payload, "entry": entries})
        elif _resource_ref(payload) not in refs:
            kept.append(payload)
    return kept


_HER2_ROLES = frozenset(OBSERVATION_KEYS["her2Observations"] + OBSERVATION_KEYS["variantObservations"])


def _resources(payloads: list[dict[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for payload in payloads:
        if payload.get("resourceType") == "Bundle":
            for entry in objs(payload.get("entry")):
                resource = obj(entry.get("resource"))
                if resource is not None:
                    yield resource
        else:
            yield payload


def has_her2_observations(payloads: list[dict[str, Any]]) -> bool:
    """Whether any Observation carries a HER2 or variant code of the FHIR code table."""
    from her2cds.adapters.fhir.codes import default_code_map

    code_map = default_code_map()
    for resource in _resources(payloads):
        if resource.get("resourceType") != "Observation" or not isinstance(resource.get("code"), Mapping):
            continue
        for coding in objs(resource["code"].get("coding")):
            if not isinstance(coding.get("code"), str):
                continue
            system = code_map.system_name(coding.get("system") if isinstance(coding.get("system"), str) else None)
            entry = code_map.observation_index.get((system or "", coding["code"].strip().upper()))
            if entry is not None and entry.role in _HER2_ROLES:
                return True
    return False


_NO_TUMOR = "HER2 results were found, but no cancer diagnosis of the patient maps to a tumor type"


def assess_payloads(payloads: list[dict[str, Any]], assessor: Assessor, region: Region | None = None) -> _Outcome:
    from her2cds.adapters.fhir import inbound
    from her2cds.adapters.region import with_region

    has_her2_data = has_her2_observations(payloads)
    try:
        conversion = inbound.resources_to_case(payloads)
    except InvalidInputError as exc:
        if not has_her2_data:
            return _Outcome(None)  # e.g. no cancer diagnosis and no HER2 result: nothing to say
        if exc.field.startswith("Condition"):
            return _Outcome(None, problem=_NO_TUMOR, has_her2_data=True)
        return _Outcome(None, problem=f"the FHIR data could not be converted: {exc}", has_her2_data=True)
    case = conversion.case
    warnings = list(conversion.warnings)
    has_her2_data = has_her2_data or bool(case.get("specimens"))
    tumor = case.get("tumor")
    if not isinstance(tumor, Mapping) or not tumor.get("oncotree_code"):
        return _Outcome(
            None,
            warnings,
            _NO_TUMOR if has_her2_data else None,
            has_her2_data,
        )
    try:
        assessment = assessor(with_region(dict(case), region))
    except InvalidInputError as exc:
        return _Outcome(None, warnings, f"the data are not a valid case: {exc}", has_her2_data)
    return _Outcome(assessment, warnings, None, has_her2_data)


def _worth_a_card(assessment: Assessment) -> bool:
    """patient-view fires on every chart opening: stay silent when there is no result and no missing test."""
    if assessment.specimens or assessment.flags:
        return True
    return any(
        (action := RECOMMENDATION_ACTIONS.get(rec.code)) is not None and action.indicator == "warning"
        for rec in assessment.recommendations
    )


def _problem_detail(problem: str, warnings: Sequence[InputWarning]) -> str:
    detail = f"her2cds could not assess HER2 for this patient: {md.esc(problem)}."
    if warnings:
        detail += "\n\n**Not considered**\n\n" + md.bullets([md.esc(w.text) for w in warnings])
    return detail


async def call_service(service: CdsService, request: CdsRequest, deps: HookDeps) -> CdsResponse:
    if request.hook != service.hook:
        raise InvalidInputError.single(
            "hook", f"service {service.id!r} answers the {service.hook!r} hook", request.hook
        )
    patient_id = request.context.get("patientId")
    patient_id = patient_id if isinstance(patient_id, str) else None

    hits: list[tuple[DraftOrder, str]] = []
    if service.kind == "therapy-check":
        from her2cds.adapters.fhir.codes import default_code_map

        orders = draft_medication_orders(request.context, selected_only=service.hook == "order-select")
        targeted = deps.anti_her2()
        code_map = default_code_map()
        hits = [(order, drug) for order in orders for drug in order_drugs(order, code_map) if drug in targeted]
        if not hits:
            return CdsResponse(cards=[])  # no anti-HER2 order: nothing to check, no FHIR data needed

    prefetch = await resolve_prefetch(request, service.prefetch, deps.client, access=deps.access)
    response: CdsResponse = await deps.offload(respond, service, prefetch, hits, patient_id, deps, request.region)
    return response


def respond(
    service: CdsService,
    prefetch: PrefetchResult,
    hits: list[tuple[DraftOrder, str]],
    patient_id: str | None,
    deps: HookDeps,
    region: Region | None = None,
) -> CdsResponse:
    """FHIR data -> case -> assessment -> cards: the CPU part of a call (on an engine worker). ``region``: the
    regulatory region of the request's ``org.her2cds.region`` extension (None: the default, US)."""
    draft_refs = {order.reference for order, _ in hits if order.reference}
    outcome = assess_payloads(_without(prefetch.payloads, draft_refs), deps.assessor, region)
    warnings = [*prefetch.warnings, *outcome.warnings]

    if service.kind == "assessment":
        if outcome.assessment is None:
            if outcome.problem is None:
                return CdsResponse(cards=[])
            return CdsResponse(
                cards=[
                    notice_card(
                        "HER2 assessment not possible: " + outcome.problem,
                        _problem_detail(outcome.problem, warnings),
                        deps.kb,
                    )
                ]
            )
        if not _worth_a_card(outcome.assessment):
            return CdsResponse(cards=[])
        return CdsResponse(
            cards=[assessment_card(outcome.assessment, deps.kb, patient_id=patient_id, extra_warnings=warnings)]
        )

    cards: list[Card] = []
    for order, drug in hits:
        if outcome.assessment is None:
            problem = outcome.problem or "no HER2 result or cancer diagnosis was found"
            card = notice_card(
                f"{drug[:1].upper() + drug[1:]}: indication cannot be checked — {problem}",
                _problem_detail(problem, warnings),
                deps.kb,
                TOPIC_MEDICATION,
            )
            cards.append(card.model_copy(update={"indicator": "warning"}))
        else:
            cards.append(therapy_check_card(order, drug, outcome.assessment, deps.kb, warnings))
    return CdsResponse(cards=cards)
