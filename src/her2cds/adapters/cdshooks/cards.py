"""Card builders for the ``her2-assessment`` (patient-view) service.

One card per assessment: the summary states the patient-level HER2 result and what follows from it (e.g.
"HER2-positive (IHC 3+) — 3 eligible HER2-targeted options"); the indicator is ``warning`` when a flag reports
discordant results or a test is missing (e.g. reflex ISH after IHC 2+), ``info`` otherwise; the detail
(Markdown) gives the basis, specimens, flags, recommendations, options, evidence and versions; suggestions
propose the missing test orders. Which flag and recommendation codes raise the indicator, and which test each
recommendation orders, is declared in :data:`FLAG_INDICATOR` and :data:`RECOMMENDATION_ACTIONS` (a test checks
that every code of the knowledge base is classified).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from her2cds.adapters.cdshooks import markdown as md
from her2cds.adapters.cdshooks.models import Action as CdsAction
from her2cds.adapters.cdshooks.models import Card, Coding, Link, OverrideReason, Source, Suggestion
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.model.assessment import Assessment, InputWarning

Indicator = Literal["info", "warning"]

LOINC = "http://loinc.org"
TOPIC_HER2_STATUS = Coding(system=LOINC, code="48676-1", display="HER2 [Interpretation] in Tissue")
TOPIC_MEDICATION = Coding(system=LOINC, code="51963-7", display="Medication assessed [ID]")

#: flag code -> card indicator. Discordance between specimens, modalities, reports or over time warns.
FLAG_INDICATOR: dict[str, Indicator] = {
    "discordant_specimens": "warning",
    "temporal_change": "warning",
    "modality_discordance": "warning",
    "reported_status_mismatch": "warning",
    "legacy_criteria": "warning",
    "ihc_score_mismatch": "warning",
    "ihc_score_review": "warning",
    "cluster_assumed": "warning",
    "ihc_criteria_disagreement": "warning",
    "variant_of_unknown_significance": "warning",
    "high_copy_ratio_negative": "warning",
    "non_informative_plasma": "info",
    "inadequate_specimen": "info",
    "scoring_fallback": "info",
    "unverified_scoring": "info",
}


@dataclass(frozen=True)
class TestOrder:
    """A laboratory test a recommendation asks for (a ServiceRequest suggestion)."""

    label: str
    code: Mapping[str, Any]  # FHIR CodeableConcept


IHC_ORDER = TestOrder(
    "HER2 immunohistochemistry",
    {
        "coding": [{"system": LOINC, "code": "18474-7", "display": "HER2 Ag [Presence] in Tissue by Immune stain"}],
        "text": "HER2 immunohistochemistry (IHC)",
    },
)
ISH_ORDER = TestOrder(
    "HER2 (ERBB2) in situ hybridization",
    {
        "coding": [
            {
                "system": LOINC,
                "code": "31150-6",
                "display": "ERBB2 gene duplication [Presence] in Tissue by FISH",
            }
        ],
        "text": "HER2 (ERBB2) in situ hybridization (dual-probe ISH)",
    },
)
NGS_ORDER = TestOrder("ERBB2 (HER2) mutation testing by NGS", {"text": "ERBB2 (HER2) mutation testing by NGS"})


@dataclass(frozen=True)
class RecommendationAction:
    indicator: Indicator
    order: TestOrder | None = None


#: recommendation code -> indicator and the test to suggest. Missing tests warn; reporting details inform.
RECOMMENDATION_ACTIONS: dict[str, RecommendationAction] = {
    "her2_testing": RecommendationAction("warning", IHC_ORDER),
    "reflex_ish": RecommendationAction("warning", ISH_ORDER),
    "concurrent_ihc": RecommendationAction("warning", IHC_ORDER),
    "dual_probe_ish": RecommendationAction("warning", ISH_ORDER),
    "repeat_ish": RecommendationAction("warning", ISH_ORDER),
    "ngs": RecommendationAction("warning", NGS_ORDER),
    "ihc_ish_confirmation": RecommendationAction("warning", IHC_ORDER),
    "ihc_tumor_agnostic": RecommendationAction("warning", IHC_ORDER),
    "tissue_confirmation": RecommendationAction("warning", IHC_ORDER),
    "ish_recount": RecommendationAction("warning"),
    "adjudication": RecommendationAction("warning"),
    "retest_specimen": RecommendationAction("warning"),
    "retest_after_her2_therapy": RecommendationAction("warning", IHC_ORDER),
    "ihc_extent": RecommendationAction("info"),
    "ultralow_assessment": RecommendationAction("info"),
    "ish_percent_cells": RecommendationAction("info"),
    "multiple_biopsy_fragments": RecommendationAction("info"),
    "gastric_criteria": RecommendationAction("info"),
    "her2_testing_not_indicated": RecommendationAction("info"),
}

NON_ADHERENCE = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"


def _reason(code: str, display: str) -> OverrideReason:
    return OverrideReason(system=NON_ADHERENCE, code=code, display=display)


#: HL7 CDS Hooks override-reason codes (non-adherence-reason-codes CodeSystem), displays as published.
TESTING_OVERRIDE_REASONS = (
    _reason("action-completed", "Recommended action was already completed"),
    _reason(
        "need-more-info",
        "Could not address recommended action due to need for more information/pending results/pending consult",
    ),
    _reason("expert-contradicts", "Advice from expert contradicts the recommended action"),
    _reason("action-not-priority", "Recommended action is not relevant or a priority in current state of health"),
)
THERAPY_OVERRIDE_REASONS = (
    _reason("does-not-align-latest-evidence", "Recommended action does not align with the latest evidence"),
    _reason("expert-contradicts", "Advice from expert contradicts the recommended action"),
    _reason("policy-contradicts", "Institutional policy/guideline contradicts the recommended action"),
    _reason("risk-benefit-ratio", "Recipient assessment of risk/benefit ratio"),
)


# ---- small accessors (therapy options may be models or dicts) ----------------------------------------
def field(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def value_text(value: Any) -> str:
    return str(getattr(value, "value", value))


def source_url(kb: KnowledgeBase, source_id: str) -> str | None:
    source = kb.sources.get(source_id)
    if source is None:
        return None
    if source.url:
        return source.url
    if source.doi:
        return f"https://doi.org/{source.doi}"
    if source.pmid:
        return f"https://pubmed.ncbi.nlm.nih.gov/{source.pmid}/"
    return None


def source_ids(refs: Iterable[Any]) -> list[str]:
    ids: list[str] = []
    for ref in refs or ():
        ref_id = ref if isinstance(ref, str) else field(ref, "id")
        if isinstance(ref_id, str) and ref_id not in ids:
            ids.append(ref_id)
    return ids


def short_source_label(kb: KnowledgeBase, source_id: str) -> str:
    source = kb.sources.get(source_id)
    if source is None:
        return source_id
    return md.clip(source.citation or source.title, 160)


def card_source(kb: KnowledgeBase, label: str, ids: Sequence[str], topic: Coding) -> Source:
    """The card's source: the first cited source with a URL (the primary guidance), labelled for display."""
    url = next((u for u in (source_url(kb, sid) for sid in ids) if u), None)
    return Source(label=md.clip(label, 100), url=url, topic=topic)


def versions_line(assessment: Assessment) -> str:
    v = assessment.versions
    return (
        f"_her2cds {md.esc(v.engine)} · knowledge base {md.esc(v.knowledge_base)} "
        f"(as of {v.as_of.isoformat()}) · "
        f"OncoTree {md.esc(v.oncotree)}_"
    )


# ---- the HER2 status card ---------------------------------------------------------------------------
_STATUS_LABEL = {
    "positive": "HER2-positive",
    "negative": "HER2-negative",
    "equivocal": "HER2 equivocal",
    "indeterminate": "HER2 indeterminate",
}


def status_label(assessment: Assessment) -> str:
    her2 = assessment.her2
    status = value_text(her2.status)
    category = value_text(her2.category) if her2.category is not None else None
    if category and status != "positive" and category != "HER2-positive":
        return category
    return _STATUS_LABEL.get(status, f"HER2 {status}")


def status_basis(assessment: Assessment) -> str:
    her2 = assessment.her2
    parts: list[str] = []
    if her2.ihc_score is not None:
        parts.append(f"IHC {value_text(her2.ihc_score)}")
    if her2.ish_amplified is True:
        parts.append("ISH amplified")
    elif her2.ish_amplified is False and her2.ihc_score is not None and value_text(her2.ihc_score) == "2+":
        parts.append("ISH not amplified")
    if her2.ngs_amplified is True and her2.ish_amplified is not True:
        parts.append("ERBB2 amplified by NGS")
    mutations = list(her2.erbb2_activating_mutations)
    if mutations:
        extra = f" +{len(mutations) - 1}" if len(mutations) > 1 else ""
        parts.append(f"ERBB2 {mutations[0]}{extra}")
    return ", ".join(parts)


def option_outcome(option: Any) -> str:
    """eligible | insufficient_data | not_eligible (from ``outcome``, else from ``eligible``)."""
    outcome = field(option, "outcome")
    if outcome in ("eligible", "insufficient_data", "not_eligible"):
        return str(outcome)
    eligible = field(option, "eligible")
    return "eligible" if eligible is True else "not_eligible" if eligible is False else "insufficient_data"


def eligible_options(assessment: Assessment) -> list[Any]:
    return [option for option in assessment.therapies if option_outcome(option) == "eligible"]


def option_label(option: Any) -> str:
    for name in ("label", "name", "title"):
        value = field(option, name)
        if isinstance(value, str) and value:
            return value
    drugs = field(option, "drugs") or []
    names = [drug if isinstance(drug, str) else str(field(drug, "name", drug)) for drug in drugs]
    return " + ".join(names) or str(field(option, "id", "option"))


def indicator_for(assessment: Assessment) -> Indicator:
    for flag in assessment.flags:
        if FLAG_INDICATOR.get(flag.code, "info") == "warning":
            return "warning"
    for rec in assessment.recommendations:
        action = RECOMMENDATION_ACTIONS.get(rec.code)
        if action is not None and action.indicator == "warning":
            return "warning"
    return "info"


def _summary(assessment: Assessment) -> str:
    label = status_label(assessment)
    basis = status_basis(assessment)
    head = f"{label} ({basis})" if basis else label
    warn_flags = [f for f in assessment.flags if FLAG_INDICATOR.get(f.code, "info") == "warning"]
    orders = [
        action.order
        for rec in assessment.recommendations
        if (action := RECOMMENDATION_ACTIONS.get(rec.code)) is not None and action.order is not None
    ]
    if warn_flags:
        tail = "discordant results: review" if any("discordan" in f.code for f in warn_flags) else "results to review"
    elif orders:
        tail = f"{orders[0].label} recommended"
    else:
        options = eligible_options(assessment)
        approved = sum(1 for option in options if field(option, "approval_kind") == "fda_approved")
        others = len(options) - approved
        # another region than the US (region_status is set): "approved" would claim an approval there
        kind = "FDA-approved" if any(field(option, "region_status") for option in options) else "approved"
        if options:
            parts = []
            if approved:
                parts.append(f"{approved} {kind} option{'s' if approved != 1 else ''}")
            if others:
                parts.append(f"{others} other eligible option{'s' if others != 1 else ''}")
            tail = ", ".join(parts)
        elif assessment.therapies:
            tail = "no eligible HER2-targeted option"
        else:
            tail = ""
    return md.clip(f"{head} — {tail}" if tail else head, 140)


def _specimen_rows(assessment: Assessment) -> list[list[str]]:
    rows = []
    for spec in assessment.specimens:
        rows.append(
            [
                md.esc(spec.id),
                md.esc(value_text(spec.procedure)) + (f" ({md.esc(value_text(spec.site))})" if spec.site else ""),
                md.esc(value_text(spec.ihc_score)) if spec.ihc_score is not None else "–",
                str(spec.ish_group) if spec.ish_group is not None else "–",
                md.esc(value_text(spec.status)) + ("" if spec.adequate else " (not adequate)"),
                md.esc(spec.basis),
            ]
        )
    return rows


def criterion_result(value: Any) -> str:
    """'met' | 'not met' | 'unknown' for the many ways a criterion result may be spelled."""
    if value is True:
        return "met"
    if value is False:
        return "not met"
    text = str(getattr(value, "value", value)).lower().replace("_", " ").replace("-", " ").strip()
    if text in {"met", "yes", "true", "pass", "passed", "satisfied"}:
        return "met"
    if text in {"not met", "unmet", "no", "false", "fail", "failed"}:
        return "not met"
    return "unknown"


def unmet_criteria(option: Any) -> list[Any]:
    return [c for c in field(option, "criteria") or [] if criterion_result(field(c, "result")) == "not met"]


def unknown_criteria(option: Any) -> list[Any]:
    return [c for c in field(option, "criteria") or [] if criterion_result(field(c, "result")) == "unknown"]


def _options_section(assessment: Assessment) -> str:
    lines = []
    for option in assessment.therapies:
        outcome = option_outcome(option)
        mark = {"eligible": "eligible", "not_eligible": "not eligible"}.get(outcome, "undetermined (data missing)")
        if outcome == "eligible" and field(option, "approval_kind") == "guideline_supported_not_approved":
            mark += " (guideline-supported, not FDA-approved)"
        text = f"**{md.esc(option_label(option))}** — {mark}"
        if field(option, "region_status"):
            text += f" ({md.esc(field(option, 'region_status'))})"
        unmet = unmet_criteria(option)
        if unmet:
            text += "; not met: " + "; ".join(md.esc(field(c, "text", "")) for c in unmet[:3])
        elif outcome == "insufficient_data":
            unknown = unknown_criteria(option)
            needs = field(option, "needs") or []
            if unknown:
                text += "; unknown: " + "; ".join(md.esc(field(c, "text", "")) for c in unknown[:3])
            elif needs:
                text += "; needs: " + "; ".join(
                    md.esc(n if isinstance(n, str) else field(n, "text", n)) for n in needs[:3]
                )
        lines.append(text)
    return md.bullets(lines)


def evidence_ids(assessment: Assessment, kb: KnowledgeBase) -> list[str]:
    ids: list[str] = []
    system = kb.systems.get(assessment.tumor.scoring_system)
    if system is not None:
        ids += source_ids(system.sources)
    for rec in assessment.recommendations:
        ids += rec.sources
    for entry in assessment.trace:
        ids += entry.sources
    for option in assessment.therapies:
        ids += source_ids(field(option, "sources") or [])
    seen: list[str] = []
    for sid in ids:
        if sid not in seen and sid in kb.sources:
            seen.append(sid)
    return seen


def _evidence_section(ids: Sequence[str], kb: KnowledgeBase, limit: int = 8) -> str:
    items = [md.link(short_source_label(kb, sid), source_url(kb, sid)) for sid in ids[:limit]]
    if len(ids) > limit:
        items.append(f"and {len(ids) - limit} more in the knowledge base")
    return md.bullets(items)


def warnings_section(warnings: Sequence[InputWarning]) -> str:
    return md.bullets([md.esc(w.text) + (f" ({md.code(w.field)})" if w.field else "") for w in warnings])


def assessment_detail(assessment: Assessment, kb: KnowledgeBase, extra_warnings: Sequence[InputWarning]) -> str:
    her2 = assessment.her2
    tumor = assessment.tumor
    system = kb.systems.get(tumor.scoring_system)
    system_name = system.name if system is not None else tumor.scoring_system
    parts = [
        f"**{md.esc(status_label(assessment))}**"
        + (f" ({md.esc(status_basis(assessment))})" if status_basis(assessment) else "")
        + f" — {md.esc(her2.basis)}",
        f"**Tumor:** {md.esc(tumor.name)} (OncoTree {md.esc(tumor.oncotree_code)}); scored on "
        f"{md.esc(system_name)}" + (" (no tumor-specific guideline: fallback)" if tumor.scoring_fallback else ""),
    ]
    if assessment.specimens:
        parts.append(
            "**Specimens**\n\n"
            + md.table(["Specimen", "Procedure", "IHC", "ISH group", "Status", "Basis"], _specimen_rows(assessment))
        )
    if assessment.flags:
        parts.append(
            "**Flags**\n\n"
            + md.bullets(
                [
                    ("⚠ " if FLAG_INDICATOR.get(f.code, "info") == "warning" else "")
                    + md.esc(f.text)
                    + (f" ({md.esc(', '.join(f.specimens))})" if f.specimens else "")
                    for f in assessment.flags
                ]
            )
        )
    if assessment.recommendations:
        parts.append(
            "**Recommendations**\n\n"
            + md.bullets(
                [
                    md.esc(r.text) + (f" (specimen {md.esc(r.specimen)})" if r.specimen else "")
                    for r in assessment.recommendations
                ]
            )
        )
    if assessment.therapies:
        parts.append("**HER2-targeted options**\n\n" + _options_section(assessment))
    evidence = evidence_ids(assessment, kb)
    if evidence:
        parts.append("**Evidence**\n\n" + _evidence_section(evidence, kb))
    warnings = [*extra_warnings, *assessment.warnings]
    if warnings:
        parts.append("**Not considered**\n\n" + warnings_section(warnings))
    parts.append(versions_line(assessment))
    parts.append(f"_{md.esc(assessment.disclaimer)}_")
    return "\n\n".join(parts)


def _order_suggestions(assessment: Assessment, patient_id: str | None) -> list[Suggestion]:
    suggestions: list[Suggestion] = []
    seen: set[tuple[str, str | None]] = set()
    for rec in assessment.recommendations:
        action = RECOMMENDATION_ACTIONS.get(rec.code)
        if action is None or action.order is None:
            continue
        key = (action.order.label, rec.specimen)
        if key in seen:
            continue
        seen.add(key)
        label = f"Order {action.order.label}" + (f" (specimen {rec.specimen})" if rec.specimen else "")
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "order",
            "code": dict(action.order.code),
            "reasonCode": [{"text": rec.text}],
        }
        if patient_id:
            resource["subject"] = {"reference": f"Patient/{patient_id}"}
        if rec.specimen:
            resource["note"] = [{"text": f"Requested for specimen {rec.specimen}."}]
        suggestions.append(
            Suggestion(
                label=md.clip(label, 100),
                uuid=str(uuid.uuid4()),
                isRecommended=True,
                actions=[CdsAction(type="create", description=md.clip(rec.text, 300), resource=resource)],
            )
        )
    return suggestions


def _links(ids: Sequence[str], kb: KnowledgeBase, limit: int = 3) -> list[Link]:
    links: list[Link] = []
    for sid in ids:
        url = source_url(kb, sid)
        source = kb.sources.get(sid)
        if url and source is not None:
            links.append(Link(label=md.clip(source.title, 100), url=url, type="absolute"))
        if len(links) == limit:
            break
    return links


def assessment_card(
    assessment: Assessment,
    kb: KnowledgeBase,
    *,
    patient_id: str | None,
    extra_warnings: Sequence[InputWarning] = (),
) -> Card:
    indicator = indicator_for(assessment)
    system = kb.systems.get(assessment.tumor.scoring_system)
    guideline_ids = source_ids(system.sources) if system is not None else []
    label = f"her2cds · {system.name}" if system is not None else "her2cds"
    suggestions = _order_suggestions(assessment, patient_id)
    link_ids = guideline_ids + [
        sid for option in eligible_options(assessment) for sid in source_ids(field(option, "sources") or [])
    ]
    links = _links(list(dict.fromkeys(link_ids)), kb)
    return Card(
        uuid=str(uuid.uuid4()),
        summary=_summary(assessment),
        indicator=indicator,
        detail=assessment_detail(assessment, kb, extra_warnings),
        source=card_source(kb, label, guideline_ids or evidence_ids(assessment, kb), TOPIC_HER2_STATUS),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=list(TESTING_OVERRIDE_REASONS) if indicator == "warning" else None,
        links=links or None,
    )


def notice_card(summary: str, detail: str, kb: KnowledgeBase, topic: Coding = TOPIC_HER2_STATUS) -> Card:
    """An info card explaining why no assessment could be made (e.g. the diagnosis could not be mapped)."""
    return Card(
        uuid=str(uuid.uuid4()),
        summary=md.clip(summary, 140),
        indicator="info",
        detail=detail + f"\n\n_her2cds knowledge base {md.esc(kb.version)} (as of {kb.meta.as_of.isoformat()})_",
        source=Source(label="her2cds", topic=topic),
    )
