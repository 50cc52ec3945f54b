"""ERBB2 copy-number calls and ERBB2/RAS mutations per sample, from cBioPortal and OncoKB-annotator files.

Discrete copy number (GISTIC-style, as cBioPortal's ``data_cna.txt``): 2 amplification, 1 gain, 0 neutral,
-1/-2 loss; the OncoKB annotator's individual format may also say it in words. Only protein-changing MAF
records are variants; a sample absent from a file stays unknown (never "no alteration").
"""

from __future__ import annotations

import polars as pl

from her2cds.cohort.readers.common import first_present

GENE = "ERBB2"
_CALLS = {
    "2": "amplification", "amplification": "amplification", "amp": "amplification",
    "1": "gain", "gain": "gain",
    "0": "neutral", "neutral": "neutral",
    "-1": "loss", "-2": "loss", "loss": "loss", "deletion": "loss", "hetloss": "loss", "homdel": "loss",
}
_RANK = {"loss": 0, "neutral": 1, "gain": 2, "amplification": 3}
PROTEIN_CHANGING = (
    "Missense_Mutation", "Nonsense_Mutation", "Frame_Shift_Del", "Frame_Shift_Ins", "In_Frame_Del", "In_Frame_Ins",
    "Nonstop_Mutation", "Translation_Start_Site",
)
_EMPTY = pl.DataFrame(schema={"sample": pl.String(), "value": pl.String()})


def is_cna(frame: pl.DataFrame) -> bool:
    cols = frame.columns
    long = first_present(cols, ("Copy_Number_Alteration", "ALTERATION", "Value")) is not None
    gene = first_present(cols, ("Hugo_Symbol", "HUGO_SYMBOL", "Gene Symbol")) is not None
    return gene and (long or first_present(cols, ("Tumor_Sample_Barcode", "HGVSp_Short")) is None)


def is_maf(frame: pl.DataFrame) -> bool:
    return first_present(frame.columns, ("Tumor_Sample_Barcode",)) is not None and first_present(
        frame.columns, ("HGVSp_Short", "HGVSp", "Protein_Change", "ALTERATION")) is not None


def erbb2_calls(frame: pl.DataFrame) -> pl.DataFrame:
    """sample -> ERBB2 copy-number call (the highest call when a sample has several ERBB2 rows)."""
    gene = first_present(frame.columns, ("Hugo_Symbol", "HUGO_SYMBOL", "Gene Symbol"))
    if gene is None:
        return _EMPTY
    sample = first_present(frame.columns, ("Sample_Id", "SAMPLE_ID", "Tumor_Sample_Barcode"))
    value = first_present(frame.columns, ("Copy_Number_Alteration", "ALTERATION", "Value"))
    rows = frame.filter(pl.col(gene).str.strip_chars().str.to_uppercase() == GENE)
    if sample is not None and value is not None:  # one row per sample and gene
        long = rows.select(pl.col(sample).alias("sample"), pl.col(value).alias("raw"))
    else:  # a matrix: genes down, samples across
        meta = {gene, "Entrez_Gene_Id", "Locus ID", "Cytoband", "Entrez_Gene_ID"}
        samples = [c for c in rows.columns if c not in meta]
        long = rows.select(samples).unpivot(variable_name="sample", value_name="raw")
    calls = long.with_columns(
        pl.col("raw").str.strip_chars().str.to_lowercase()
        .replace_strict(_CALLS, default=None, return_dtype=pl.String).alias("value")
    ).filter(pl.col("value").is_not_null())
    best = calls.with_columns(pl.col("value").replace_strict(_RANK, return_dtype=pl.Int8).alias("rank"))
    return best.sort("rank", descending=True).unique("sample", keep="first").select("sample", "value")


def mutations(frame: pl.DataFrame, gene: str = GENE, oncogenic_only: bool = False) -> pl.DataFrame:
    """sample -> ``;``-joined protein changes of ``gene`` (protein-changing records; with ``oncogenic_only``
    only those the OncoKB annotator calls Oncogenic or Likely Oncogenic)."""
    symbol = first_present(frame.columns, ("Hugo_Symbol", "HUGO_SYMBOL"))
    sample = first_present(frame.columns, ("Tumor_Sample_Barcode", "SAMPLE_ID"))
    change = first_present(frame.columns, ("HGVSp_Short", "Protein_Change", "ALTERATION", "HGVSp"))
    kind = first_present(frame.columns, ("Variant_Classification",))
    if symbol is None or sample is None or change is None:
        return _EMPTY
    rows = frame.filter(pl.col(symbol).str.strip_chars().str.to_uppercase() == gene)
    if kind is not None:
        rows = rows.filter(pl.col(kind).is_in(PROTEIN_CHANGING))
    if oncogenic_only:
        oncogenic = first_present(frame.columns, ("ONCOGENIC",))
        if oncogenic is None:
            return _EMPTY
        rows = rows.filter(pl.col(oncogenic).str.to_lowercase().is_in(["oncogenic", "likely oncogenic"]))
    rows = rows.filter(pl.col(change).str.strip_chars().str.len_chars() > 0)
    return (rows.group_by(pl.col(sample).alias("sample"), maintain_order=True)
            .agg(pl.col(change).str.strip_chars().unique(maintain_order=True).str.join(";").alias("value")))
