"""Other biomarker Observations: ER/PR/hormone receptor, PD-L1 CPS, the M category.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from her2cds.adapters.fhir._values import (
    JsonObj,
    codings,
    concept_texts,
    effective_date,
    parse_number_text,
    read_value,
)
from her2cds.adapters.fhir.inbound.bundle import Resource
from her2cds.adapters.fhir.inbound.results import ResultBase


class BiomarkerReader(ResultBase):
    # -- other biomarkers -----------------------------------------------------------------------------
    def _receptor(self, item: Resource, node: JsonObj, label: str, role: str) -> None:
        value = read_value(node)
        meaning = self._meaning(value, f"{label}.{value.path}")
        status = {"positive": "positive", "present": "positive", "negative": "negative",
                  "absent": "negative"}.get(meaning or "")
        if status is None:
            self._unmapped(label, value, f"{label}.{value.path}", "positive or negative (a percentage has no "
                           "cut-off in the code table)")
            return
        self.biomarkers.setdefault(role, []).append((status, effective_date(item.data), label))

    def _pd_l1(self, item: Resource, node: JsonObj, label: str) -> None:
        value = read_value(node)
        number = value.number
        if value.kind == "string" and value.string:
            number = parse_number_text(value.string)
        if number is None or number.comparator is not None or number.value < 0:
            self._unmapped(label, value, f"{label}.{value.path}", "a PD-L1 combined positive score (a number)")
            return
        self.biomarkers.setdefault("pd_l1_cps", []).append((f"{number.value:g}", effective_date(item.data), label))

    def _m_category(self, node: JsonObj, label: str) -> None:
        value = read_value(node)
        candidates = [value.string] if value.string else []
        if value.concept is not None:
            candidates += [c.code for c in codings(value.concept, self.cm) if c.code]
            candidates += concept_texts(value.concept, self.cm)
        for candidate in candidates:
            token = candidate.strip().replace(" ", "")
            if any(p.match(token) for p in self.cm.metastasis_patterns):
                self.metastatic.append(label)
                return

    def _latest(self, key: str) -> str | None:
        values = self.biomarkers.get(key, [])
        if not values:
            return None
        ordered = sorted(values, key=lambda v: v[1] or dt.date.min)
        if len({v[0] for v in values}) > 1:
            self.warn("conflicting_values", f"{key} results differ ({', '.join(f'{v[0]} in {v[2]}' for v in values)}); "
                      f"used the most recent ({ordered[-1][0]})", ordered[-1][2])
        return ordered[-1][0]

    def biomarker_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        cps = self._latest("pd_l1_cps")
        if cps is not None:
            out["pd_l1_cps"] = float(cps)
        for gene in ("kras", "nras"):
            values = [v[0] for v in self.biomarkers.get(gene, [])]
            if "mutant" in values:
                out[gene] = "mutant"
                if "wild_type" in values:
                    self.warn("conflicting_values", f"{gene.upper()} is reported both mutant and wild type; used "
                              "mutant", gene.upper())
            elif values:
                out[gene] = "wild_type"
        combined = self._latest("hormone_receptor")
        er, pr = self._latest("er"), self._latest("pr")
        if combined is not None:
            out["hormone_receptor"] = combined
        elif "positive" in (er, pr):
            out["hormone_receptor"] = "positive"
        elif er == "negative" and pr == "negative":
            out["hormone_receptor"] = "negative"
        elif er or pr:
            missing = "PR" if er else "ER"
            self.warn("hormone_receptor_incomplete", f"{'ER' if er else 'PR'} is negative and {missing} is not "
                      "given; hormone-receptor status left unknown", missing)
        return out
