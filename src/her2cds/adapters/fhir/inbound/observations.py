"""Observations -> HER2 results (IHC score, ISH ratio and counts, a reported interpretation), dispatching
genomic and other biomarker Observations to their readers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from her2cds.adapters.fhir._values import (
    JsonObj,
    Number,
    Value,
    codings,
    concept_label,
    concept_texts,
    effective_date,
    normalise_text,
    obj,
    objs,
    parse_ihc_text,
    parse_number_text,
    read_value,
    short,
    text,
)
from her2cds.adapters.fhir.codes import ObservationEntry
from her2cds.adapters.fhir.inbound.biomarkers import BiomarkerReader
from her2cds.adapters.fhir.inbound.bundle import Resource
from her2cds.adapters.fhir.inbound.genomics import GenomicsReader
from her2cds.adapters.fhir.inbound.results import Group

_OK_OBSERVATION = {"final", "amended", "corrected", "appended"}
_SKIP_OBSERVATION = {"registered", "cancelled", "entered-in-error"}
_STATUS_WORD = {
    "positive": "positive", "negative": "negative", "equivocal": "equivocal", "indeterminate": None,
    "her2_low": "negative", "her2_ultralow": "negative", "amplified": "amplified",
    "not_amplified": "not amplified", "present": None, "absent": None,
}



class ObservationReader(GenomicsReader, BiomarkerReader):
    # -- observations -------------------------------------------------------------------------------
    def observations(self) -> None:
        for item in self.resources:
            if item.type != "Observation" or not self.for_patient(item):
                continue
            status = text(item.data.get("status"))
            if status in _SKIP_OBSERVATION:
                self.warn("observation_status", f"{item.label} has status {status}; not used", f"{item.label}.status")
                continue
            if status not in _OK_OBSERVATION:
                self.warn("observation_status", f"{item.label} has status {status or 'missing'}; used, but the "
                          "result may not be final", f"{item.label}.status")
            self._observation(item, item.data, item.label, top=True)

    def _entry_for(self, code: Any, node: JsonObj | None = None) -> ObservationEntry | None:
        meta = obj(node.get("meta")) if node is not None else None
        for profile in (meta or {}).get("profile") or []:
            if isinstance(profile, str) and profile.split("|")[0] in self.cm.profile_index:
                return self.cm.profile_index[profile.split("|")[0]]
        for coding in codings(code, self.cm):
            if coding.system and coding.code:
                entry = self.cm.observation_index.get((coding.system, coding.code.upper()))
                if entry is not None:
                    return entry
        for label in concept_texts(code, self.cm):
            lowered = normalise_text(label)
            for pattern, entry in self.cm.text_pattern_entries:
                if pattern in lowered:
                    return entry
        return None


    def _observation(self, item: Resource, node: JsonObj, label: str, *, top: bool) -> None:
        where = label if top else f"{label}.component"
        entry = self._entry_for(node.get("code"), node)
        gene = self._gene(node) if entry is None or entry.role == "variant" else None
        if entry is None:
            if gene in ("KRAS", "NRAS"):
                self._ras(item, node, label, gene, gene_level=True)
                return
            code_label = concept_label(node.get("code"), self.cm)
            if top:
                self.unrecognised_codes[code_label] += 1
                self.unrecognised_first.setdefault(code_label, label)
            else:
                self.warn("observation_not_used", f"{label}: component {code_label} is not a HER2-related code in "
                          "the code table; not used", f"{label}.component")
            return
        role = entry.role
        if role == "unsupported":
            self.warn("observation_unsupported", f"{label} ({concept_label(node.get('code'), self.cm)}) is not "
                      f"used: {entry.reason}", f"{where}.code")
            return
        if role == "variant":
            self._variant(item, node, label, gene)
            return
        if role in ("er", "pr", "hormone_receptor"):
            self._receptor(item, node, label, role)
            return
        if role == "pd_l1_cps":
            self._pd_l1(item, node, label)
            return
        if role == "m_category":
            self._m_category(node, label)
            return
        group = self._group_for(item, node)
        value = read_value(node)
        vpath = f"{where}.{value.path}"
        if role == "her2_ish_panel":
            for component in objs(node.get("component")):
                self._observation(item, component, label, top=False)
            if value.kind != "missing":
                self._ish_call(group, value, label, vpath)
            else:
                group.use(label)
            return
        if value.kind == "missing":
            reason = concept_label(node.get("dataAbsentReason"), self.cm) if node.get("dataAbsentReason") else None
            self.warn("value_missing", f"{label} has no value" + (f" (dataAbsentReason {reason})" if reason else ""),
                      f"{where}.value[x]")
            return
        if role == "her2_ihc":
            self._ihc(group, item, value, label, vpath)
        elif role == "her2_ish":
            self._ish_call(group, value, label, vpath)
        elif role == "her2_ish_ratio":
            self._ish_number(group, item, value, label, vpath, "ratio")
        elif role == "her2_ish_copies":
            self._ish_number(group, item, value, label, vpath, "copies")
        elif role == "her2_interpretation":
            self._interpretation(group, value, label, vpath)


    # -- HER2 findings --------------------------------------------------------------------------------
    def _ihc(self, group: Group, item: Resource, value: Value, label: str, vpath: str) -> None:
        score: str | None = None
        meaning = self._meaning(value, vpath)
        if meaning in ("ihc_0", "ihc_1", "ihc_2", "ihc_3"):
            score = {"ihc_0": "0", "ihc_1": "1+", "ihc_2": "2+", "ihc_3": "3+"}[meaning]
        elif meaning is None and value.kind in ("coded", "string"):
            for candidate in ([value.string] if value.string else concept_texts(value.concept, self.cm)):
                score = parse_ihc_text(candidate)
                if score:
                    break
        elif meaning is None and value.kind == "number" and value.number is not None:
            number = value.number
            if number.comparator is None and number.value in (0, 1, 2, 3) and (number.unit or "") in ("", "{score}"):
                score = "0" if number.value == 0 else f"{int(number.value)}+"
        if score is None and meaning is not None and meaning in self.cm.qualitative_ihc:
            mapped = self.cm.qualitative_ihc[meaning]
            score = mapped.score.value
            self.warn("ihc_score_inferred", f"{label} reports IHC as '{meaning}' without a score; read as IHC "
                      f"{score} ({mapped.id})", vpath)
        if score is None:
            if meaning == "negative":
                group.ihc_reported = "negative"
                group.reported_refs["ihc"] = label
                group.reported_only.append(label)
                self.warn("ihc_negative_unscored", f"{label} reports IHC 'negative' without a score (0 and 1+ "
                          "are both negative and differ for HER2-low); kept as the reported status only", vpath)
            else:
                self._unmapped(label, value, vpath, "an IHC score (0, 1+, 2+, 3+)")
            return
        date = effective_date(item.data)
        if group.ihc is not None and group.ihc[0] != score:
            keep = group.ihc if (group.ihc[2] or dt.date.min) > (date or dt.date.min) else (score, label, date)
            self.warn("conflicting_values", f"specimen has two IHC scores ({group.ihc[0]} in {group.ihc[1]}, "
                      f"{score} in {label}); used the later one ({keep[0]})", vpath)
            group.ihc = keep
        else:
            group.ihc = (score, label, date)
        method = item.data.get("method")
        antibody = next(iter(concept_texts(method, self.cm)), None) if method else None
        if antibody:
            group.antibody = short(antibody, 200)
        group.use(label)

    def _ish_call(self, group: Group, value: Value, label: str, vpath: str) -> None:
        if value.kind == "number" and value.number is not None and _is_ratio_unit(value.number):
            self.warn("value_interpreted", f"{label}: a number with unit '{value.number.unit}' under an ISH "
                      "presence code is read as the HER2/CEP17 ratio", vpath)
            self._set_number(group, value.number, label, None, vpath, "ratio")
            return
        if value.kind == "string" and value.string:
            number = parse_number_text(value.string)
            if number is not None:
                self._set_number(group, number, label, None, vpath, "ratio")
                return
        meaning = self._meaning(value, vpath)
        words = {"positive": "amplified", "amplified": "amplified", "present": "amplified",
                 "negative": "not amplified", "not_amplified": "not amplified", "absent": "not amplified",
                 "equivocal": "equivocal"}
        if meaning in words:
            group.ish_reported = words[meaning]
            group.reported_refs["ish"] = label
            group.reported_only.append(label)
            self.warn("ish_unquantified", f"{label} reports ISH as '{words[meaning]}' without counts or a ratio; "
                      "kept as the reported status only", vpath)
            return
        self._unmapped(label, value, vpath, "an ISH result (amplified / not amplified or a ratio)")

    def _ish_number(self, group: Group, item: Resource, value: Value, label: str, vpath: str,
                    what: Literal["ratio", "copies"]) -> None:
        number = value.number
        if value.kind == "string" and value.string:
            number = parse_number_text(value.string)
        if number is None:
            self._unmapped(label, value, vpath, "a number")
            return
        self._set_number(group, number, label, effective_date(item.data), vpath, what)

    def _set_number(self, group: Group, number: Number, label: str, date: dt.date | None, vpath: str,
                    what: Literal["ratio", "copies"]) -> None:
        name = "HER2/CEP17 ratio" if what == "ratio" else "HER2 copies per cell"
        if number.comparator is not None:
            group.reported_only.append(label)
            self.warn("value_bound_only", f"{label} gives the {name} only as a bound "
                      f"('{short(number.legacy_text or f'{number.comparator} {number.value:g}')}'); a bound is "
                      "not a count, so it is not used as one", vpath)
            return
        if number.value < 0:
            self._unmapped(label, Value("number", vpath, number=number), vpath, f"a non-negative {name}")
            return
        if number.legacy_text is not None:
            self.warn("value_interpreted", f"{label}: the text '{short(number.legacy_text)}' is read as the "
                      f"{name} {number.value:g}", vpath)
        current = group.ratio if what == "ratio" else group.copies
        if current is not None and abs(current[0] - number.value) > 1e-9:
            self.warn("conflicting_values", f"specimen has two values of the {name} ({current[0]:g} in "
                      f"{current[1]}, {number.value:g} in {label}); used the first", vpath)
            return
        if what == "ratio":
            group.ratio = (number.value, label, date)
        else:
            group.copies = (number.value, label, date)
        group.use(label)

    def _interpretation(self, group: Group, value: Value, label: str, vpath: str) -> None:
        meaning = self._meaning(value, vpath)
        word = _STATUS_WORD.get(meaning) if meaning else None
        if word is None:
            self._unmapped(label, value, vpath, "a HER2 status (positive, negative, equivocal, HER2-low)")
            return
        group.interpretation = word
        group.reported_refs["interpretation"] = label
        group.reported_only.append(label)



def _is_ratio_unit(number: Number) -> bool:
    return (number.unit or "").strip().lower() in ("ratio", "{ratio}")
