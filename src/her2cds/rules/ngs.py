"""Tissue NGS and plasma cfDNA: ERBB2 amplification (the caller's call; gain is not amplification) and
ERBB2 variants classified against the knowledge base's cited list."""

from __future__ import annotations

from dataclasses import dataclass

from her2cds.errors import InvalidInputError
from her2cds.knowledge.loader import KnowledgeBase
from her2cds.knowledge.variants import HgvsError, first_position, normalize_protein
from her2cds.model._build import build
from her2cds.model.assessment import NgsResult, VariantResult
from her2cds.model.case import Ngs
from her2cds.model.enums import Amplification, CopyNumberCall
from her2cds.rules.collector import Collector
from her2cds.rules.compiled import CompiledKnowledge, first_match


@dataclass(frozen=True, slots=True)
class NgsFinding:
    result: NgsResult
    detected: bool  # amplification or any variant detected

    @property
    def activating(self) -> list[str]:
        return [v.hgvs_p for v in self.result.variants if v.activating and v.hgvs_p]

    @property
    def kinase_domain_activating(self) -> list[str]:
        return [v.hgvs_p for v in self.result.variants if v.activating and v.kinase_domain and v.hgvs_p]


def classify_variant(kb: KnowledgeBase, text: str) -> VariantResult:
    """Raises HgvsError for text that is not HGVS protein notation."""
    canonical = normalize_protein(text)
    known = kb.variant_index.get(canonical)
    if known is not None:
        return build(VariantResult,
            input=text, hgvs_p=f"p.{known.hgvs_p}", knowledge_id=known.id, known=True,
            activating=known.activating, kinase_domain=known.kinase_domain, domain=known.domain,
        )
    start, end = kb.kinase_domain
    position = first_position(canonical)
    return build(VariantResult,
        input=text, hgvs_p=f"p.{canonical}", knowledge_id=None, known=False, activating=None,
        kinase_domain=start <= position <= end, domain="kinase" if start <= position <= end else None,
    )


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
    ngs: Ngs, plasma: bool, ck: CompiledKnowledge, col: Collector, specimen: str, field: str
) -> NgsFinding:
    kb = ck.kb
    amplification, rule_id = _amplification(ngs)
    if rule_id is not None:
        cn = f"; copy number {ngs.erbb2_copy_number:g}" if ngs.erbb2_copy_number is not None else ""
        col.fire(ck.rule(rule_id), f"{ck.rule(rule_id).rule.text}{cn}", specimen)
    variants: list[VariantResult] = []
    for i, text in enumerate(ngs.erbb2_variants):
        try:
            variant = classify_variant(kb, text)
        except HgvsError as exc:
            raise InvalidInputError.single(f"{field}.erbb2_variants[{i}]", str(exc), text) from None
        variants.append(variant)
        if variant.known and variant.activating:
            col.fire(ck.rule("ngs.variant.activating"), f"{variant.hgvs_p} ({variant.knowledge_id}) is activating",
                     specimen)
            if variant.kinase_domain:
                col.fire(ck.rule("ngs.variant.kinase-domain"), f"{variant.hgvs_p} is in the kinase domain", specimen)
        elif variant.known:
            col.fire(ck.rule("ngs.variant.not-classified"),
                     f"{variant.hgvs_p} ({variant.knowledge_id}) is listed, but its activating status is open",
                     specimen)
        else:
            col.fire(ck.rule("ngs.variant.not-classified"), f"{variant.hgvs_p} is not in the list", specimen)
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
