"""Specimen groups -> the case's specimens (type, site, collection date, IHC/ISH/NGS), validated one by one.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import ValidationError

from her2cds.adapters.fhir._values import (
    codings,
    concept_texts,
    effective_date,
    normalise_text,
    obj,
    ref_key,
    short,
)
from her2cds.adapters.fhir.inbound.results import Group, ResultBase
from her2cds.model.case import Specimen

_SPECIMEN_ID = re.compile(r"[^A-Za-z0-9._-]+")


class SpecimenBuilder(ResultBase):
    # -- specimens ------------------------------------------------------------------------------------
    def specimens(self) -> tuple[list[dict[str, Any]], dict[str, list[str]], dict[str, str]]:
        out: list[dict[str, Any]] = []
        sources: dict[str, list[str]] = {}
        refs: dict[str, str] = {}
        used_ids: set[str] = set()
        for group in self.groups.values():
            has_content = group.ihc or group.ratio or group.copies or group.ngs_seen
            spec_id = self._specimen_id(group, used_ids)
            if not has_content:
                if group.reported_only:
                    reported = group.interpretation or group.ish_reported or group.ihc_reported
                    self.warn("specimen_without_measurements",
                              f"{', '.join(group.reported_only)} report HER2 as '{reported}' but give no IHC "
                              "score, ISH counts or NGS result; a reported status alone is not assessed",
                              group.reported_only[0])
                continue
            used_ids.add(spec_id)
            spec = self._specimen_dict(group, spec_id)
            try:
                Specimen.model_validate(spec)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(p) for p in error["loc"])
                self.warn("specimen_dropped", f"specimen {spec_id} from {', '.join(group.observations)} is not "
                          f"valid ({where}: {error['msg']}); not used", group.observations[0])
                continue
            out.append(spec)
            sources[spec_id] = list(group.observations)
            if group.specimen_ref:
                refs[spec_id] = group.specimen.label if group.specimen else ref_key(group.specimen_ref)
        return out, sources, refs

    def _specimen_id(self, group: Group, used: set[str]) -> str:
        if group.specimen_ref:
            base = ref_key(group.specimen_ref).split("/")[-1]
        elif group.key.startswith("date:"):
            base = f"obs-{group.key[5:]}"
        else:
            base = "default"
        base = _SPECIMEN_ID.sub("-", base).strip("-")[:60] or "specimen"
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def _specimen_dict(self, group: Group, spec_id: str) -> dict[str, Any]:
        procedure, site, site_detail, collected = self._specimen_facts(group, spec_id)
        spec: dict[str, Any] = {"id": spec_id, "procedure": procedure}
        if site and procedure != "plasma":
            spec["site"] = site
        if site_detail:
            spec["site_detail"] = site_detail
        if collected is not None:
            spec["collected_on"] = collected.isoformat()
        has_tissue_tests = group.ihc or group.ratio or group.copies
        if procedure == "plasma" and has_tissue_tests:
            self.warn("value_unmapped", f"specimen {spec_id} is blood/plasma but carries IHC/ISH results; those "
                      "results are not used", group.observations[0])
        elif has_tissue_tests:
            if group.ihc:
                spec["ihc"] = {"score": group.ihc[0], **({"antibody": group.antibody} if group.antibody else {})}
            ish = self._ish_dict(group, spec_id)
            if ish:
                spec["ish"] = ish
        if group.ngs_seen:
            ngs: dict[str, Any] = {"erbb2_variants": list(group.variants)}
            if group.cn_call:
                ngs["erbb2_cn_call"] = group.cn_call
            if group.copy_number is not None:
                ngs["erbb2_copy_number"] = group.copy_number
            if group.ngs_assay:
                ngs["assay"] = group.ngs_assay
            spec["ngs"] = ngs
        reported = group.interpretation or group.ish_reported or group.ihc_reported
        if reported and procedure != "plasma":
            spec["reported_status"] = reported
            kind = "interpretation" if group.interpretation else "ish" if group.ish_reported else "ihc"
            source = group.reported_refs[kind]
            if source not in group.observations:
                group.observations.insert(0, source)
        return spec

    def _ish_dict(self, group: Group, spec_id: str) -> dict[str, Any] | None:
        if group.ratio is not None:
            ish: dict[str, Any] = {"probe": "dual", "ratio": group.ratio[0]}
            if group.copies is not None:
                ish["her2_per_cell"] = group.copies[0]
            return ish
        if group.copies is not None:
            self.warn("ish_single_probe_assumed", f"specimen {spec_id}: only the HER2 copies per cell are given "
                      f"({group.copies[1]}); read as single-probe ISH", group.copies[1])
            return {"probe": "single", "her2_per_cell": group.copies[0]}
        return None

    def _specimen_facts(self, group: Group, spec_id: str) -> tuple[str, str | None, str | None, dt.date | None]:
        procedure: str | None = None
        site: str | None = None
        site_detail: str | None = None
        collected: dt.date | None = None
        where = group.observations[0] if group.observations else spec_id
        if group.specimen is not None:
            data = group.specimen.data
            collection = obj(data.get("collection")) or {}
            collected = effective_date(collection)
            concepts = [data.get("type"), collection.get("method"), collection.get("bodySite")]
            procedure, site = self._classify_specimen(concepts)
            body = collection.get("bodySite")
            site_detail = next(iter(concept_texts(body, self.cm)), None) if body else None
            where = f"{group.specimen.label}.type"
        elif group.specimen_ref:
            self.warn("specimen_unresolved", f"{group.specimen_ref} is referenced but not in the input; its type "
                      "and collection date are unknown", where)
        if procedure is None:
            procedure = "biopsy"
            self.warn("specimen_procedure_assumed", f"specimen {spec_id}: the specimen type does not say biopsy, "
                      "resection, cytology or plasma; assumed a tissue biopsy", where)
        if collected is None and group.date is not None:
            collected = group.date
            self.warn("specimen_date_from_observation", f"specimen {spec_id}: no collection date; used the "
                      f"earliest observation date ({collected.isoformat()})", where)
        return procedure, site, short(site_detail, 200) if site_detail else None, collected

    def _classify_specimen(self, concepts: list[Any]) -> tuple[str | None, str | None]:
        procedure: str | None = None
        site: str | None = None
        words: list[str] = []
        for concept in concepts:
            for coding in codings(concept, self.cm):
                if coding.system and coding.code:
                    entry = self.cm.specimen_index.get((coding.system, coding.code.upper()))
                    if entry is not None:
                        procedure = procedure or (entry.procedure.value if entry.procedure else None)
                        site = site or (entry.site.value if entry.site else None)
            words.extend(normalise_text(t) for t in concept_texts(concept, self.cm))
        for entry in self.cm.file.specimens:
            if any(keyword in w for keyword in entry.keywords for w in words):
                if entry.procedure is not None and procedure is None:
                    procedure = entry.procedure.value
                if entry.site is not None and site is None:
                    site = entry.site.value
        return procedure, site
