"""cBioPortal study folders and OncoKB-annotator files -> canonical specimen rows (one per sample).

A study folder holds ``meta_study.txt``, clinical sample and patient files (four ``#`` metadata lines, then
the attribute header), discrete copy number (``data_cna.txt`` / ``data_CNA.txt`` / ``data_cna_discrete.txt``:
2 = amplification) and mutations (MAF with ``HGVSp_Short``). HER2 attributes are found under their usual names
(below) and can be renamed by a mapping. Samples that appear only in a genomic file still get a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from her2cds.cohort.mapping import TableMapping
from her2cds.cohort.readers import genomics
from her2cds.cohort.readers.common import canonical_rows, find_one, first_present, read_tsv, resolve
from her2cds.cohort.sources import Source
from her2cds.errors import UsageError

# canonical column -> usual attribute names in cBioPortal studies (first found wins)
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "patient_id": ("PATIENT_ID",),
    "specimen_id": ("SAMPLE_ID",),
    "oncotree_code": ("ONCOTREE_CODE",),
    "setting": ("AJCC_PATHOLOGIC_TUMOR_STAGE", "STAGE", "TUMOR_STAGE"),
    "site": ("SAMPLE_TYPE",),
    "ihc_score": ("HER2_IHC_SCORE", "IHC_HER2_SCORE", "HER2_IHC"),
    "ihc_result": ("IHC_HER2", "HER2_STATUS_BY_IHC"),
    "ish_result": ("HER2_FISH_STATUS", "HER2_ISH_STATUS"),
    "reported_status": ("HER2_STATUS",),
    "ish_ratio": ("HER2_CENT17_RATIO", "HER2_FISH_RATIO", "HER2_CEP17_RATIO"),
    "ish_her2_per_cell": ("HER2_COPY_NUMBER",),
    "ish_cep17_per_cell": ("CENT17_COPY_NUMBER", "CEP17_COPY_NUMBER"),
    "ish_cells_counted": ("HER2_AND_CENT17_CELLS_COUNT",),
    "pd_l1_cps": ("PD_L1_CPS",),
}
STAGES: dict[str, str | None] = {
    **{f"stage {s}": "early" for s in ("0", "i", "ia", "ib", "ic", "ii", "iia", "iib", "iic")},
    **{f"stage {s}": "locally_advanced" for s in ("iii", "iiia", "iiib", "iiic")},
    **{f"stage {s}": "metastatic" for s in ("iv", "iva", "ivb", "ivc")},
    "stage x": None, "i": "early", "ii": "early", "iii": "locally_advanced", "iv": "metastatic",
}
VALUES: dict[str, dict[str, str | int | float | bool | None]] = {
    "setting": dict(STAGES),
    "site": {"primary": "primary", "primary tumor": "primary", "metastasis": "metastasis",
             "metastatic": "metastasis", "recurrence": None, "local recurrence": None},
    "ihc_score": {"0": "0", "1+": "1+", "2+": "2+", "3+": "3+", "1": "1+", "2": "2+", "3": "3+"},
    "ihc_result": {"positive": "positive", "negative": "negative", "equivocal": "equivocal",
                   "indeterminate": None},
    "ish_result": {"positive": "amplified", "negative": "not_amplified", "equivocal": "equivocal",
                   "indeterminate": None, "amplified": "amplified", "not amplified": "not_amplified"},
}
CONSTANTS: dict[str, str | int | float | bool | None] = {"procedure": "resection"}  # docs/decisions.md D12.2


def _meta(folder: Path) -> dict[str, str]:
    path = folder / "meta_study.txt"
    out: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep:
                out[key.strip()] = value.strip()
    return out


def with_genomics(samples: pl.DataFrame, sample_col: str, cna: pl.DataFrame | None, maf: pl.DataFrame | None,
                  annotated: bool = False) -> pl.DataFrame:
    """Add ``__erbb2_cn`` / ``__erbb2_variants`` per sample (and, from an OncoKB-annotated MAF, ``__kras`` /
    ``__nras`` for oncogenic RAS mutations); samples found only in the genomic files are appended."""
    extra: list[tuple[str, pl.DataFrame]] = []
    if cna is not None:
        extra.append(("__erbb2_cn", genomics.erbb2_calls(cna)))
    if maf is not None:
        extra.append(("__erbb2_variants", genomics.mutations(maf)))
        if annotated:
            for gene in ("KRAS", "NRAS"):
                found = genomics.mutations(maf, gene=gene, oncogenic_only=True)
                extra.append((f"__{gene.lower()}", found.with_columns(pl.lit("mutant").alias("value"))))
    out = samples
    for name, values in extra:
        known = out.get_column(sample_col).to_list()
        new = values.filter(~pl.col("sample").is_in(known)).select(pl.col("sample").alias(sample_col))
        out = pl.concat([out, new], how="diagonal") if new.height else out
        out = out.join(values.rename({"sample": sample_col, "value": name}), on=sample_col, how="left")
    return out


def genomic_mapping(frame: pl.DataFrame) -> dict[str, str]:
    columns: dict[str, str] = {}
    for canonical, name in (("ngs_erbb2_cn_call", "__erbb2_cn"), ("ngs_erbb2_variants", "__erbb2_variants"),
                            ("kras", "__kras"), ("nras", "__nras")):
        if name in frame.columns:
            columns[canonical] = name
    return columns


def read_study(paths: Sequence[Path], user: TableMapping | None) -> list[Source]:
    out: list[Source] = []
    for folder in paths:
        if not folder.is_dir():
            raise UsageError(f"--format cbioportal reads a study folder: {folder} is not a folder")
        samples_path = find_one(folder, ("data_clinical_sample.txt", "data_clinical_samples.txt", "data_samples.txt",
                                         "data_clinical_sample*.txt"))
        if samples_path is None:
            raise UsageError(f"{folder}: no clinical sample file (data_clinical_sample.txt)")
        samples = read_tsv(samples_path)
        patients_path = find_one(folder, ("data_clinical_patient.txt", "data_clinical_patients.txt",
                                          "data_clinical_patient*.txt"))
        sample_col = first_present(samples.columns, ("SAMPLE_ID",))
        if sample_col is None:
            raise UsageError(f"{samples_path}: no SAMPLE_ID column")
        if patients_path is not None:
            patients = read_tsv(patients_path)
            key = first_present(patients.columns, ("PATIENT_ID",))
            sample_key = first_present(samples.columns, ("PATIENT_ID",))
            if key is not None and sample_key is not None:
                keep = [c for c in patients.columns if c == key or c not in samples.columns]
                samples = samples.join(patients.select(keep).rename({key: sample_key}), on=sample_key, how="left")
        cna_path = find_one(folder, ("data_cna.txt", "data_CNA.txt", "data_cna_discrete.txt"))
        maf_path = find_one(folder, ("data_mutations_extended.txt", "data_mutations.txt", "data_mutations*.txt",
                                     "*.maf"))
        table = with_genomics(samples.with_row_index("__order"), sample_col,
                              read_tsv(cna_path) if cna_path else None, read_tsv(maf_path) if maf_path else None)
        table = table.sort("__order", nulls_last=True).drop("__order")
        columns = {**resolve(table, ATTRIBUTES), **genomic_mapping(table)}
        columns.setdefault("patient_id", sample_col)  # no PATIENT_ID column: each sample is its own patient
        constants = dict(CONSTANTS)
        cancer = _meta(folder).get("type_of_cancer")
        if "oncotree_code" not in columns and cancer:
            constants["oncotree_code"] = cancer.upper()
        mapping = TableMapping(columns=columns, constants=constants, values=VALUES).merged(user)
        out.append(Source(f"{folder.name}/{samples_path.name}", canonical_rows(table, mapping, samples_path.name)))
    return out
