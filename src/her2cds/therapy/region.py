"""Regions: which regulator's status the therapy options show (``--region us|eu``, API ``region=``).

Eligibility is the same in every region (the criteria are the indication's, transcribed from its FDA label or
guideline). The region only changes what the options say about approval: with ``us`` (the default) nothing
changes; with ``eu`` every option carries ``region_status`` — the European Commission decision recorded for the
indication (on the EMA's opinion), or "no EU marketing authorisation recorded" — and its ``regulatory`` list adds
the EU record. An EU record marked ``unverified`` is shown only with the case's ``include_unverified`` opt-in;
without it the indication reads as having no (verified) EU authorisation recorded, never as approved (D11.2).
"""

from __future__ import annotations

from collections.abc import Sequence

from her2cds.errors import InvalidInputError
from her2cds.knowledge.therapy_schema import AGENCY_OF_REGION
from her2cds.model.therapy import RegulatoryStatus, TherapyOption
from her2cds.therapy.knowledge import TherapyKnowledge
from her2cds.therapy.render import date_text

DEFAULT_REGION = "us"
_NAMES = {"eu": "EU"}
_PATHWAY_TEXT = {"conditional": "conditional marketing authorisation", "standard": "marketing authorisation"}


def _record_text(record: RegulatoryStatus) -> str:
    first = date_text(record.approval_date, record.approval_date_precision)
    text = f"{_PATHWAY_TEXT.get(record.initial_status, record.initial_status)} {first}"
    if record.regular_approval_date is not None:
        converted = date_text(record.regular_approval_date, record.regular_approval_date_precision or "day")
        text += f", {_PATHWAY_TEXT.get(record.status, record.status)} since {converted}"
    text += f" ({record.agency})"
    return text + (" [unverified]" if record.verification != "verified" else "")


def region_status(region: str, option: TherapyOption, shown: Sequence[RegulatoryStatus], hidden: int) -> str:
    """The one-line regulatory status of an option in a region other than the US."""
    name = _NAMES.get(region, region.upper())
    if shown:
        return f"{name}: " + "; ".join(_record_text(r) for r in shown)
    text = f"{name}: no {name} marketing authorisation recorded"
    if hidden:
        text += " (an unverified record exists: include_unverified shows it)"
    if option.approval_kind == "guideline_supported_not_approved":
        text += "; guideline-supported option"
    return text


def apply_region(
    options: list[TherapyOption], tk: TherapyKnowledge, region: str | None, *, include_unverified: bool = False
) -> list[TherapyOption]:
    """The options as seen from ``region`` (``None`` or ``us``: unchanged, the same list)."""
    if region is None or region == DEFAULT_REGION:
        return options
    if region not in AGENCY_OF_REGION:
        raise InvalidInputError.single("region", f"unknown region; choose one of {sorted(AGENCY_OF_REGION)}", region)
    out: list[TherapyOption] = []
    for option in options:
        records = tk.get(option.id).regional.get(region, ())
        shown = tuple(r for r in records if include_unverified or r.verification == "verified")
        out.append(option.model_copy(update={
            "regulatory": (*option.regulatory, *shown),
            "region_status": region_status(region, option, shown, len(records) - len(shown)),
        }))
    return out
