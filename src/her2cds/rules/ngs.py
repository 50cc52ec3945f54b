"""Tissue NGS and plasma cfDNA: ERBB2 amplification (the caller's call; gain is not amplification) and
ERBB2 variants classified against the knowledge base's cited list."""

from __future__ import annotations

from dataclasses import dataclass

from her2cds.errors import InvalidInputError
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.knowledge.schema import Variant, VariantClass
from her2cds.knowledge.variants import HgvsError, class_for, domain_at, normalize_protein, positions
from her2cds.model._build import build
from her2cds.model.assessment import NgsResult, VariantResult
from her2cds.model.case import Ngs
from her2cds.model.enums import Amplification, CopyNumberCall
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledKnowledge, first_match

TDXD_SET = "fda.tdxd-nsclc-activating"
TKD_SET = "fda.her2-tkd-activating"


@dataclass(slots=True)  # per case, never changed after construction (not frozen: D14.13)
class NgsFinding:
    result: NgsResult
    detected: bool  # amplification or any variant detected

    @property
    def activating(self) -> list[str]:
        return [v.hgvs_p for v in self.result.variants if v.hgvs_p and (v.activating or TDXD_SET in v.label_sets)]

    @property
    def kinase_domain_activating(self) -> list[str]:
        return [v.hgvs_p for v in self.result.variants
                if v.hgvs_p and ((v.activating and v.kinase_domain) or TKD_SET in v.label_sets)]

    @property
    def unknown_significance(self) -> list[str]:
        return [v.hgvs_p for v in self.result.variants
                if v.hgvs_p and v.activating is None and TDXD_SET not in v.label_sets]

    @property
    def unknown_kinase(self) -> list[str]:
        """Unclassified variants that are, or may be, in the kinase domain (could meet a TKD label)."""
        return [v.hgvs_p for v in self.result.variants
                if v.hgvs_p and v.activating is None and v.kinase_domain is not False and TKD_SET not in v.label_sets]


def classify_variant(kb: KnowledgeBase, text: str, *, include_unverified: bool = False) -> VariantResult:
    """Raises HgvsError for text that is not HGVS protein notation on ERBB2.

    Biology (``activating``), the domain and label-set memberships come only from verified entries; an
    unverified entry, an unlisted variant or open evidence gives ``activating: null`` (unknown significance) and
    the domain read from residue ranges, as if the entry were not there (tests/unit/test_unverified_variants.py).
    With the case's ``include_unverified`` opt-in, unverified entries, classes and memberships are used too.
    """
    canonical = normalize_protein(text)
    start, end = positions(canonical)
    region = domain_at(kb.variant_domains, start)
    end_region = domain_at(kb.variant_domains, end)
    kinase = region.kinase_domain if region is not None else None
    if end_region is not None and end_region.kinase_domain != kinase:
        kinase = None  # a change spanning a domain boundary
    known = kb.variant_index.get(canonical)
    entry: Variant | VariantClass | None = known
    if entry is None or entry.status != "verified":  # a verified class beats an unverified entry
        classes = (c for c in kb.variant_classes if include_unverified or c.status == "verified")
        entry = class_for(classes, canonical) or entry
    if entry is not None:
        used = include_unverified or entry.status == "verified"
        return build(VariantResult,
            input=text, hgvs_p=f"p.{known.hgvs_p if known is not None else canonical}", knowledge_id=entry.id,
            known=True, activating=entry.activating if used else None,
            kinase_domain=entry.kinase_domain if used else kinase,
            domain=entry.domain if used else (region.domain if region is not None else None),
            label_sets=[ls.id for ls in entry.label_sets if include_unverified or ls.status == "verified"]
            if used else [],
        )
    return build(VariantResult,
        input=text, hgvs_p=f"p.{canonical}", knowledge_id=None, known=False, activating=None,
        kinase_domain=kinase, domain=region.domain if region is not None else None, label_sets=[],
    )


def _unverified_used(kb: KnowledgeBase, variant: VariantResult) -> bool:
    """Whether the classification rests on an unverified entry, class or label-set membership (opt-in only)."""
    entries: list[Variant | VariantClass] = [*kb.variants, *kb.variant_classes]
    for entry in entries:
        if entry.id == variant.knowledge_id:
            return entry.status != "verified" or any(
                ls.status != "verified" and ls.id in variant.label_sets for ls in entry.label_sets)
    return False  # pragma: no cover - knowledge_id always names an entry


def _amplification(ngs: Ngs) -> tuple[Amplification, str | None]:
    if ngs.erbb2_amplified is True or ngs.erbb2_cn_call is CopyNumberCall.AMPLIFICATION:
        return Amplification.AMPLIFIED, "ngs.amplification.called"
    if ngs.erbb2_cn_call is CopyNumberCall.GAIN:
        return Amplification.GAIN, "ngs.amplification.gain-not-amplification"
    if ngs.erbb2_amplified is False or ngs.erbb2_cn_call in (CopyNumberCall.NEUTRAL, CopyNumberCall.LOSS):
        return Amplification.NOT_AMPLIFIED, "ngs.amplification.not-called"
    if ngs.erbb2_copy_number is not None:
        return Amplification.UNKNOWN, "ngs.amplification.copy-number-only"
    return Amplification.UNKNOWN, None


def interpret_ngs(
    ngs: Ngs, plasma: bool, ck: CompiledKnowledge, col: Collector, specimen: str, field: str,
    include_unverified: bool = False,
) -> NgsFinding:
    kb = ck.kb
    amplification, rule_id = _amplification(ngs)
    if rule_id is not None:
        cn = f"; copy number {ngs.erbb2_copy_number:g}" if ngs.erbb2_copy_number is not None else ""
        col.fire(ck.rule(rule_id), f"{ck.rule(rule_id).rule.text}{cn}", specimen)
    variants: list[VariantResult] = []
    for i, text in enumerate(ngs.erbb2_variants):
        try:
            variant = classify_variant(kb, text, include_unverified=include_unverified)
        except HgvsError as exc:
            raise InvalidInputError.single(f"{field}.erbb2_variants[{i}]", str(exc), text) from None
        variants.append(variant)
        label = f"{variant.hgvs_p} ({variant.knowledge_id})" if variant.knowledge_id else f"{variant.hgvs_p}"
        if include_unverified and variant.knowledge_id and _unverified_used(kb, variant):
            label += " [unverified entry, used by the include_unverified opt-in]"
        if variant.activating or TDXD_SET in variant.label_sets:
            col.fire(ck.rule("ngs.variant.activating"), f"{label} is activating", specimen)
            if variant.kinase_domain:
                col.fire(ck.rule("ngs.variant.kinase-domain"), f"{variant.hgvs_p} is in the kinase domain", specimen)
        elif variant.activating is None:  # (no listed variant is known non-activating today)
            why = ("is not in the list" if not variant.known else
                   "is listed, but its activating status is open or its entry is unverified")
            where = {True: "kinase domain", False: f"{variant.domain} domain", None: "kinase-domain boundary"}[
                variant.kinase_domain]
            col.fire(ck.rule("ngs.variant.not-classified"), f"{label} {why} ({where})", specimen)
            col.flag("variant_of_unknown_significance", [specimen],
                     f"Specimen {specimen}: ERBB2 {variant.hgvs_p} ({where}) is of unknown significance; classify it.")
    detected = amplification is Amplification.AMPLIFIED or bool(variants)
    informative = True
    if plasma:
        measures = {"ngs.tumor_fraction": ngs.tumor_fraction}
        if detected:
            col.fire(ck.rule("plasma.detected"), None, specimen)
        else:
            plasma_rules = (
                ck.rule("plasma.not-detected.informative"), ck.rule("plasma.not-detected.low-tumor-fraction")
            )
            rule = first_match(plasma_rules, measures) or ck.rule("plasma.not-detected.tumor-fraction-unknown")
            tf = f" (tumor fraction {ngs.tumor_fraction:g})" if ngs.tumor_fraction is not None else ""
            col.fire(rule, f"{rule.rule.text}{tf}", specimen)
            if rule.rule.outcome == "not_informative":
                informative = False
                amplification = Amplification.NOT_INFORMATIVE
                col.flag("non_informative_plasma", [specimen])
                col.recommend("tissue_confirmation", specimen)
            elif amplification is Amplification.UNKNOWN and ngs.erbb2_copy_number is None:
                amplification = Amplification.NOT_AMPLIFIED
    result = build(NgsResult,
        amplification=amplification,
        copy_number=ngs.erbb2_copy_number,
        tumor_fraction=ngs.tumor_fraction,
        variants=variants,
        informative=informative,
    )
    return NgsFinding(result=result, detected=detected)
