"""What every result reader shares: specimen groups (Observations grouped by specimen, report or date),
the meaning of a coded answer, and the warning for a value that cannot be used.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from her2cds.adapters.fhir._values import (
    JsonObj,
    Value,
    concept_label,
    effective_date,
    match_answer,
    normalise_text,
    objs,
    ref_key,
    reference_of,
    short,
)
from her2cds.adapters.fhir.codes import CodeMap
from her2cds.adapters.fhir.inbound.bundle import BundleIndex, Resource


@dataclass
class Group:
    """Findings of one specimen."""

    key: str
    specimen: Resource | None = None
    specimen_ref: str | None = None
    date: dt.date | None = None
    ihc: tuple[str, str, dt.date | None] | None = None  # score, observation, date
    antibody: str | None = None
    ihc_reported: str | None = None
    reported_refs: dict[str, str] = field(default_factory=dict)  # kind -> observation giving a reported status
    ratio: tuple[float, str, dt.date | None] | None = None
    copies: tuple[float, str, dt.date | None] | None = None
    ish_reported: str | None = None
    interpretation: str | None = None
    variants: list[str] = field(default_factory=list)
    cn_call: str | None = None
    copy_number: float | None = None
    ngs_assay: str | None = None
    ngs_seen: bool = False
    observations: list[str] = field(default_factory=list)
    reported_only: list[str] = field(default_factory=list)

    def use(self, label: str) -> None:
        if label not in self.observations:
            self.observations.append(label)


class ResultBase(BundleIndex):
    def __init__(self, code_map: CodeMap) -> None:
        super().__init__(code_map)
        self.groups: dict[str, Group] = {}
        self.obs_specimen: dict[str, str] = {}  # observation key -> specimen reference (from DiagnosticReport)
        self.biomarkers: dict[str, list[tuple[str, dt.date | None, str]]] = {}
        self.unrecognised_codes: Counter[str] = Counter()
        self.unrecognised_first: dict[str, str] = {}
        self.other_genes: Counter[str] = Counter()

    def link_reports(self) -> None:
        for item in self.resources:
            if item.type != "DiagnosticReport":
                continue
            specimens = [ref for s in objs(item.data.get("specimen")) if (ref := reference_of(s))]
            if len(specimens) != 1:
                continue
            for result in objs(item.data.get("result")):
                ref = reference_of(result)
                target = self.resolve(ref, item)
                if target is not None:
                    self.obs_specimen.setdefault(target.label, specimens[0])

    def _group_for(self, item: Resource, node: JsonObj) -> Group:
        ref = reference_of(item.data.get("specimen")) or self.obs_specimen.get(item.label)
        date = effective_date(item.data)
        if ref is not None:
            key = f"spec:{ref_key(ref)}"
            group = self.groups.get(key)
            if group is None:
                group = Group(key=key, specimen=self.resolve(ref, item), specimen_ref=ref)
                self.groups[key] = group
        else:
            key = f"date:{date.isoformat()}" if date else "default"
            group = self.groups.setdefault(key, Group(key=key))
        if date is not None and (group.date is None or date < group.date):
            group.date = date
        return group

    def _meaning(self, value: Value, vpath: str) -> str | None:
        if value.kind == "coded":
            match = match_answer(value.concept, self.cm)
            if match is None:
                return None
            if match.system_mismatch is not None:
                self.warn("coding_system_mismatch", f"code {match.system_mismatch.code} is sent under system "
                          f"{match.system_mismatch.raw_system} but is a SNOMED CT concept; read as "
                          f"{match.entry.meaning} ({match.entry.id})", vpath)
            return match.entry.meaning
        if value.kind == "string" and value.string:
            found = self.cm.answer_texts.get(normalise_text(value.string))
            return found.meaning if found else None
        return None

    def _unmapped(self, label: str, value: Value, vpath: str, expected: str) -> None:
        shown = value.string or (concept_label(value.concept, self.cm) if value.concept else None)
        if shown is None and value.number is not None:
            shown = f"{value.number.value:g} {value.number.unit or ''}".strip()
        self.warn("value_unmapped", f"{label}: value {short(shown or value.kind)!r} is not {expected}; not used",
                  vpath)
