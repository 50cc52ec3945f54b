"""Plausibility warnings on real-record input (D8.13): never silent, never a changed value.

These are engine policy, not clinical thresholds: each only adds a warning naming the field; the value is used
as given (physically impossible values are input errors, model/case.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from her2cds.model._build import build
from her2cds.model.assessment import InputWarning
from her2cds.model.case import PERCENT_SUM_ROUNDING, Case
from her2cds.model.enums import CopyNumberCall

#: a mean of HER2 signals per nucleus above this is far beyond what counting yields (totals sent as means?)
MAX_PLAUSIBLE_HER2_MEAN = 30.0
#: a mean CEP17 above this suggests totals rather than a per-cell mean
MAX_PLAUSIBLE_CEP17_MEAN = 10.0
#: a mean CEP17 below one signal per nucleus is unusual (monosomy 17, or a counting/transcription error)
MIN_PLAUSIBLE_CEP17_MEAN = 1.0
#: an ERBB2 copy number this high is not what "neutral" or "loss" means
MIN_COPY_NUMBER_NOT_NEUTRAL = 6.0

_SQUAMOUS = re.compile(r"(?<!adeno)(?<!non-)(?<!non )(?<!non)squamous", re.IGNORECASE)
_ADENO = re.compile(r"adenocarcinoma", re.IGNORECASE)


def _warn(code: str, field: str, text: str) -> InputWarning:
    return build(InputWarning, code=code, field=field, text=text)


def plausibility_warnings(case: Case, tumor_name: str) -> list[InputWarning]:
    out: list[InputWarning] = []
    histology = case.tumor.histology
    if histology:
        if "adenocarcinoma" in tumor_name.lower() and _SQUAMOUS.search(histology):
            out.append(_warn("histology_contradicts_oncotree", "tumor.histology",
                             f"The histology '{histology}' says squamous, but the OncoTree code "
                             f"{case.tumor.oncotree_code} is {tumor_name}: check the code."))
        elif "squamous" in tumor_name.lower() and _ADENO.search(histology) and not _SQUAMOUS.search(histology):
            out.append(_warn("histology_contradicts_oncotree", "tumor.histology",
                             f"The histology '{histology}' says adenocarcinoma, but the OncoTree code "
                             f"{case.tumor.oncotree_code} is {tumor_name}: check the code."))
    for i, spec in enumerate(case.specimens):
        field = f"specimens[{i}]"
        if spec.ihc is not None and spec.ihc.percent is not None and spec.ihc.percent.total > 100:
            out.append(_warn("percent_sum_above_100", f"{field}.ihc.percent",
                             f"Specimen {spec.id}: the staining percentages sum to {spec.ihc.percent.total:g} "
                             f"(above 100 by up to {PERCENT_SUM_ROUNDING:g}, taken as rounding)."))
        if spec.ish is not None:
            for name, value, limit in (("her2_per_cell", spec.ish.her2_per_cell, MAX_PLAUSIBLE_HER2_MEAN),
                                       ("cep17_per_cell", spec.ish.cep17_per_cell, MAX_PLAUSIBLE_CEP17_MEAN)):
                if isinstance(value, float) and value > limit:
                    out.append(_warn("implausible_signal_mean", f"{field}.ish.{name}",
                                     f"Specimen {spec.id}: {name} {value:g} is far above a per-cell mean "
                                     f"(>{limit:g}); were total signals sent instead of the mean per cell?"))
            cep17 = spec.ish.cep17_per_cell
            if isinstance(cep17, float) and cep17 < MIN_PLAUSIBLE_CEP17_MEAN:
                out.append(_warn("low_cep17", f"{field}.ish.cep17_per_cell",
                                 f"Specimen {spec.id}: CEP17 {cep17:g} per cell is below 1 (monosomy 17 or an error); "
                                 "the ratio is inflated by a small CEP17 - check the count."))
        ngs = spec.ngs
        if (ngs is not None and ngs.erbb2_cn_call in (CopyNumberCall.NEUTRAL, CopyNumberCall.LOSS)
                and ngs.erbb2_copy_number is not None and ngs.erbb2_copy_number >= MIN_COPY_NUMBER_NOT_NEUTRAL):
            out.append(_warn("copy_number_call_conflict", f"{field}.ngs.erbb2_cn_call",
                             f"Specimen {spec.id}: copy-number call '{ngs.erbb2_cn_call.value}' with an ERBB2 copy "
                             f"number of {ngs.erbb2_copy_number:g}; the call is used as given - check the report."))
    return out


def count_warnings(findings: Sequence[tuple[int, str, str | None, int | None]]) -> list[InputWarning]:
    """(index, specimen id, ISH outcome, cells counted) -> a warning for counts below the guideline minimum."""
    return [
        _warn("cells_counted_below_minimum", f"specimens[{i}].ish.cells_counted",
              f"Specimen {sid}: ISH on {cells} cells, below the guideline minimum; the count is not used.")
        for i, sid, outcome, cells in findings if outcome == "inadequate" and cells is not None
    ]
