"""Flags for disagreement between specimens, over time and between tissue and plasma."""

from __future__ import annotations

from collections.abc import Sequence

from her2cds.model.enums import Amplification, Status
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledKnowledge
from her2cds.rules.patient import chronological
from her2cds.rules.specimen import SpecimenFinding

_FINAL = (Status.POSITIVE, Status.NEGATIVE)


def _label(f: SpecimenFinding) -> str:
    when = f.specimen.collected_on.isoformat() if f.specimen.collected_on else "undated"
    where = f.specimen.site_detail or (f.specimen.site.value if f.specimen.site else f.specimen.procedure.value)
    return f"{f.specimen.id} ({where}, {when})"


def _amplified(f: SpecimenFinding) -> bool | None:
    """ERBB2 amplification of one specimen from ISH or NGS (None when not assessed)."""
    if f.ish is not None and f.ish.final:
        return f.ish.outcome == "positive"
    if f.ngs is not None:
        amp = f.ngs.result.amplification
        if amp is Amplification.AMPLIFIED:
            return True
        if amp in (Amplification.NOT_AMPLIFIED, Amplification.GAIN):
            return False
    return None


def flag_heterogeneity(findings: Sequence[SpecimenFinding], ck: CompiledKnowledge, col: Collector) -> None:
    if len(findings) < 2:  # one specimen: nothing to compare it with
        return
    tissue = [f for f in findings if f.usable_tissue]
    final = [f for f in tissue if f.result.status in _FINAL]
    pos = [f for f in final if f.result.status is Status.POSITIVE]
    neg = [f for f in final if f.result.status is Status.NEGATIVE]
    discordant: list[str] = []
    if pos and neg:
        discordant.append(
            "Positive: " + ", ".join(_label(f) for f in chronological(pos))
            + "; negative: " + ", ".join(_label(f) for f in chronological(neg)) + "."
        )
    plasma = [f for f in findings if f.is_plasma and f.ngs is not None and f.ngs.result.informative]
    tissue_amp = {f.specimen.id: _amplified(f) for f in tissue}
    for p in plasma:
        p_amp = _amplified(p)
        for t in tissue:
            t_amp = tissue_amp[t.specimen.id]
            t_pos = t.result.status is Status.POSITIVE or t_amp is True
            t_neg = t.result.status is Status.NEGATIVE and t_amp is not True
            if (p_amp is True and t_neg) or (p_amp is False and t_pos):
                discordant.append(
                    f"Plasma {_label(p)} {'amplified' if p_amp else 'not amplified'} vs tissue {_label(t)} "
                    f"{t.result.status.value}."
                )
    if discordant:
        rule = ck.rule("patient.discordant-specimens")
        col.fire(rule, " ".join(discordant))
        ids = sorted({f.specimen.id for f in pos + neg} | {p.specimen.id for p in plasma if discordant})
        col.flag("discordant_specimens", ids, " ".join(discordant))
        col.recommend("retest_specimen")
    _temporal(tissue, ck, col)


def _temporal(tissue: Sequence[SpecimenFinding], ck: CompiledKnowledge, col: Collector) -> None:
    dated = [f for f in chronological(tissue) if f.specimen.collected_on is not None]
    changes: list[str] = []
    ids: set[str] = set()
    status_changed = False
    last_status: SpecimenFinding | None = None
    last_category: SpecimenFinding | None = None
    for f in dated:
        if f.result.status in _FINAL:
            if last_status is not None and last_status.result.status is not f.result.status:
                kind = "loss" if f.result.status is Status.NEGATIVE else "gain"
                after = " after HER2-directed therapy" if f.specimen.after_her2_therapy else ""
                changes.append(
                    f"HER2 {kind}{after}: {_label(last_status)} {last_status.result.status.value} -> "
                    f"{_label(f)} {f.result.status.value}."
                )
                ids.update((last_status.specimen.id, f.specimen.id))
                status_changed = True
            last_status = f
        if f.result.category is not None:
            if last_category is not None and last_category.result.category is not f.result.category:
                assert last_category.result.category is not None
                changes.append(
                    f"Category {last_category.result.category.value} ({last_category.specimen.id}) -> "
                    f"{f.result.category.value} ({f.specimen.id})."
                )
                ids.update((last_category.specimen.id, f.specimen.id))
            last_category = f
    if changes:
        rule = ck.rule("patient.temporal-change")
        col.fire(rule, " ".join(changes))
        col.flag("temporal_change", sorted(ids), " ".join(changes))
        if status_changed:  # a category change within HER2-negative (e.g. ultralow -> low) needs no retest
            col.recommend("retest_specimen")
