"""OncoKB-annotator outputs (and inputs): the clinical file (SAMPLE_ID, ONCOTREE_CODE), annotated MAF and
CNA files, given together; each file's kind is recognised from its columns. With an annotated MAF, only
variants the annotator calls Oncogenic / Likely Oncogenic count for KRAS/NRAS; ERBB2 variants are all passed
to the engine, which classifies them with its own variant table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from her2cds.cohort.mapping import TableMapping
from her2cds.cohort.readers import genomics
from her2cds.cohort.readers.cbioportal import CONSTANTS, genomic_mapping, with_genomics
from her2cds.cohort.readers.common import canonical_rows, first_present, read_tsv
from her2cds.cohort.sources import Source
from her2cds.errors import UsageError


def read_oncokb(paths: Sequence[Path], user: TableMapping | None) -> list[Source]:
    clinical: tuple[Path, pl.DataFrame] | None = None
    cna: pl.DataFrame | None = None
    maf: pl.DataFrame | None = None
    for path in paths:
        if not path.is_file():
            raise UsageError(f"--format oncokb reads annotator files: {path} is not a file")
        frame = read_tsv(path)
        if first_present(frame.columns, ("ONCOTREE_CODE",)) and first_present(frame.columns, ("SAMPLE_ID",)):
            clinical = (path, frame)
        elif genomics.is_maf(frame):
            maf = frame if maf is None else pl.concat([maf, frame], how="diagonal")
        elif genomics.is_cna(frame):
            cna = frame if cna is None else pl.concat([cna, frame], how="diagonal")
        else:
            raise UsageError(f"{path}: not an OncoKB clinical, MAF or CNA file (columns {frame.columns[:8]})")
    if clinical is None:
        raise UsageError("--format oncokb needs the clinical file (SAMPLE_ID, ONCOTREE_CODE) among the inputs")
    path, samples = clinical
    sample_col = first_present(samples.columns, ("SAMPLE_ID",))
    assert sample_col is not None
    annotated = maf is not None and first_present(maf.columns, ("ONCOGENIC",)) is not None
    table = with_genomics(samples, sample_col, cna, maf, annotated=annotated)
    code = first_present(table.columns, ("ONCOTREE_CODE",))
    columns = {"specimen_id": sample_col, "oncotree_code": code or "ONCOTREE_CODE", **genomic_mapping(table)}
    patient = first_present(table.columns, ("PATIENT_ID",))
    columns["patient_id"] = patient or sample_col  # the annotator's files are per sample
    mapping = TableMapping(columns=columns, constants=dict(CONSTANTS)).merged(user)
    return [Source(path.name, canonical_rows(table, mapping, path.name))]
