"""Genomic variant Observations (Genomics Reporting IG): ERBB2 variants and copy number, KRAS/NRAS status.
"""

from __future__ import annotations

from her2cds.adapters.fhir._values import (
    JsonObj,
    codings,
    concept_label,
    concept_texts,
    effective_date,
    obj,
    objs,
    read_value,
    short,
    text,
)
from her2cds.adapters.fhir.inbound.bundle import Resource
from her2cds.adapters.fhir.inbound.results import ResultBase
from her2cds.knowledge.variants import HgvsError, normalize_protein


class GenomicsReader(ResultBase):
    # -- genomics -----------------------------------------------------------------------------------
    def _components(self, node: JsonObj) -> dict[str, list[JsonObj]]:
        found: dict[str, list[JsonObj]] = {}
        for component in objs(node.get("component")):
            for coding in codings(component.get("code"), self.cm):
                if coding.system and coding.code:
                    entry = self.cm.component_index.get((coding.system, coding.code.upper()))
                    if entry is not None:
                        found.setdefault(entry.role, []).append(component)
                        break
        return found

    def _gene(self, node: JsonObj) -> str | None:
        for component in self._components(node).get("gene_studied", []):
            concept = component.get("valueCodeableConcept")
            for coding in codings(concept, self.cm):
                for candidate in (coding.code, coding.display):
                    if candidate:
                        key = candidate.strip().upper()
                        gene = self.cm.gene_index.get(key) or self.cm.gene_index.get(f"HGNC:{key}")
                        if gene is not None:
                            return gene.gene
            for label in concept_texts(concept, self.cm):
                gene = self.cm.gene_index.get(label.strip().upper())
                if gene is not None:
                    return gene.gene
            return concept_label(concept, self.cm)
        return None

    def _variant(self, item: Resource, node: JsonObj, label: str, gene: str | None) -> None:
        value = read_value(node)
        meaning = self._meaning(value, f"{label}.{value.path}") if value.kind != "missing" else None
        comps = self._components(node)
        if gene in ("KRAS", "NRAS"):
            self._ras(item, node, label, gene, gene_level=False)
            return
        if gene != "ERBB2":
            self.other_genes[gene or "(no gene studied)"] += 1
            return
        group = self._group_for(item, node)
        if meaning in ("absent", "negative"):
            group.ngs_seen = True
            group.use(label)
            return
        if meaning not in (None, "present", "positive"):
            self._unmapped(label, value, f"{label}.{value.path}", "present or absent")
            return
        used = False
        for component in comps.get("dna_change_type", []) + comps.get("cnv_type", []):
            for coding in codings(component.get("valueCodeableConcept"), self.cm):
                if coding.system and coding.code:
                    cnv = self.cm.copy_number_index.get((coding.system, coding.code.upper()))
                    if cnv is not None:
                        used = True
                        if cnv.call is not None:
                            group.cn_call = cnv.call.value
                        else:
                            self.warn("value_interpreted", f"{label}: {coding.display or coding.code} does not "
                                      "say gain or amplification; the copy number is passed without a call "
                                      f"({cnv.id})", f"{label}.component")
        for component in comps.get("copy_number", []):
            number = read_value(component).number
            if number is not None and number.comparator is None and number.value >= 0:
                group.copy_number = number.value
                used = True
        for component in comps.get("amino_acid_change", []):
            raw = self._hgvs_text(component)
            if raw is None:
                continue
            try:
                canonical = normalize_protein(raw.split(":")[-1])
            except HgvsError:
                self.warn("variant_unparsed", f"{label}: amino-acid change {short(raw)!r} is not HGVS protein "
                          "notation her2cds reads; not used", f"{label}.component")
                continue
            if canonical not in group.variants:
                group.variants.append(canonical)
            used = True
        if not used:
            dna = [self._hgvs_text(c) for c in comps.get("dna_change", [])]
            detail = f" (DNA change {short(dna[0])!r} without a protein change)" if dna and dna[0] else ""
            self.warn("variant_unparsed", f"{label}: ERBB2 result without a protein change or copy-number "
                      f"finding{detail}; not used", f"{label}.component")
            return
        group.ngs_seen = True
        method = obj(item.data.get("method"))
        device = obj(item.data.get("device"))
        assay = next(iter(concept_texts(method, self.cm)), None) if method else None
        assay = assay or (text(device.get("display")) if device else None)
        if assay:
            group.ngs_assay = short(assay, 200)
        group.use(label)

    def _hgvs_text(self, component: JsonObj) -> str | None:
        concept = component.get("valueCodeableConcept")
        if concept is not None:
            for coding in codings(concept, self.cm):
                if coding.code:
                    return coding.code
            texts = concept_texts(concept, self.cm)
            return texts[0] if texts else None
        return text(component.get("valueString"))

    def _ras(self, item: Resource, node: JsonObj, label: str, gene: str, *, gene_level: bool) -> None:
        value = read_value(node)
        meaning = self._meaning(value, f"{label}.{value.path}")
        comps = self._components(node)
        specific = bool(comps.get("amino_acid_change") or comps.get("dna_change"))
        if meaning in ("present", "positive"):
            status = "mutant"
        elif meaning in ("absent", "negative"):
            if specific and not gene_level:
                self.warn("value_interpreted", f"{label}: the absence of one {gene} variant does not show that "
                          f"{gene} is wild type; not used", f"{label}.{value.path}")
                return
            status = "wild_type"
        else:
            self._unmapped(label, value, f"{label}.{value.path}", f"a {gene} result (detected / not detected)")
            return
        self.biomarkers.setdefault(gene.lower(), []).append((status, effective_date(item.data), label))
