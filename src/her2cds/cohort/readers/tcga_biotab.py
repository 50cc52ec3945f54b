"""TCGA/GDC BCR biotab clinical patient tables (``nationwidechildrens.org_clinical_patient_<study>.txt``):
a header row, two rows of CDE names and ids, then one row per patient; ``[Not Available]``-style codes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from her2cds.cohort.mapping import TableMapping
from her2cds.cohort.readers.cbioportal import STAGES
from her2cds.cohort.readers.common import canonical_rows, resolve
from her2cds.cohort.sources import Source
from her2cds.errors import UsageError

FIELDS: dict[str, tuple[str, ...]] = {
    "patient_id": ("bcr_patient_barcode",),
    "setting": ("ajcc_pathologic_tumor_stage", "pathologic_stage", "clinical_stage"),
    "ihc_score": ("her2_ihc_score",),
    "ihc_result": ("her2_status_by_ihc",),
    "ish_result": ("her2_fish_status",),
    "ish_ratio": ("her2_cent17_ratio",),
    "ish_her2_per_cell": ("her2_copy_number",),
    "ish_cep17_per_cell": ("cent17_copy_number",),
    "ish_cells_counted": ("her2_and_cent17_cells_count",),
}
VALUES: dict[str, dict[str, str | int | float | bool | None]] = {
    "setting": dict(STAGES),
    "ihc_score": {"0": "0", "1+": "1+", "2+": "2+", "3+": "3+"},
    "ihc_result": {"positive": "positive", "negative": "negative", "equivocal": "equivocal",
                   "indeterminate": None},
    "ish_result": {"positive": "amplified", "negative": "not_amplified", "equivocal": "equivocal",
                   "indeterminate": None, "not performed": None},
}
_STUDY = re.compile(r"clinical_patient_([a-z]+)\.txt$", re.IGNORECASE)


def read_biotab(paths: Sequence[Path], user: TableMapping | None) -> list[Source]:
    out: list[Source] = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"--format tcga-biotab reads clinical patient files: {path} is not a file")
        try:  # the two rows under the header name the CDEs; they are not patients
            raw = pl.read_csv(path, separator="\t", infer_schema=False, quote_char=None, skip_rows_after_header=2,
                              encoding="utf8-lossy", truncate_ragged_lines=True)
        except (OSError, pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
        if "bcr_patient_barcode" not in raw.columns:
            raise UsageError(f"{path}: not a biotab clinical patient table (no bcr_patient_barcode column)")
        constants: dict[str, str | int | float | bool | None] = {"procedure": "resection"}  # D12.2
        study = _STUDY.search(path.name)
        if study:  # the TCGA study code (brca, stad, ...) is also the OncoTree code of the cancer type
            constants["oncotree_code"] = study.group(1).upper()
        mapping = TableMapping(columns=resolve(raw, FIELDS), constants=constants, values=VALUES).merged(user)
        out.append(Source(path.name, canonical_rows(raw, mapping, path.name)))
    return out
