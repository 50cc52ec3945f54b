"""The common specimen-row table every reader produces: one row per specimen (or per patient without one).

Each canonical column says its type and where it goes in a :class:`~her2cds.model.case.Case`. Readers fill the
columns they know; the rest stay null. ``row`` numbers input rows (1-based, per input file), ``source`` names
the file, ``read_error`` carries a problem found while reading (the row then gets an error row, never dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["str", "float", "int", "bool", "list"]
LIST_SEPARATOR = ";"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    path: tuple[str, ...]  # where the value goes: ("tumor", "setting"), ("specimen", "ihc", "score"), ...

    @property
    def specimen(self) -> bool:
        return self.path[0] == "specimen"


def _c(name: str, kind: Kind, *path: str) -> Column:
    return Column(name, kind, path)


CASE_COLUMNS: tuple[Column, ...] = (
    _c("patient_id", "str", "id"),
    _c("oncotree_code", "str", "tumor", "oncotree_code"),
    _c("setting", "str", "tumor", "setting"),
    _c("histology", "str", "tumor", "histology"),
    _c("scoring_system", "str", "tumor", "scoring_system"),
    _c("specimen_id", "str", "specimen", "id"),
    _c("procedure", "str", "specimen", "procedure"),
    _c("site", "str", "specimen", "site"),
    _c("collected_on", "str", "specimen", "collected_on"),
    _c("after_her2_therapy", "bool", "specimen", "after_her2_therapy"),
    _c("reported_status", "str", "specimen", "reported_status"),
    _c("ihc_score", "str", "specimen", "ihc", "score"),
    _c("ihc_pct_strong_complete", "float", "specimen", "ihc", "percent", "strong_complete"),
    _c("ihc_pct_weak_moderate_complete", "float", "specimen", "ihc", "percent", "weak_moderate_complete"),
    _c("ihc_pct_faint_incomplete", "float", "specimen", "ihc", "percent", "faint_incomplete"),
    _c("ihc_pct_intense_incomplete", "float", "specimen", "ihc", "percent", "intense_incomplete"),
    _c("ihc_cluster_strong_complete", "int", "specimen", "ihc", "cluster_cells", "strong_complete"),
    _c("ihc_cluster_weak_moderate_complete", "int", "specimen", "ihc", "cluster_cells", "weak_moderate_complete"),
    _c("ihc_cluster_faint_incomplete", "int", "specimen", "ihc", "cluster_cells", "faint_incomplete"),
    _c("ihc_antibody", "str", "specimen", "ihc", "antibody"),
    _c("ish_probe", "str", "specimen", "ish", "probe"),
    _c("ish_her2_per_cell", "float", "specimen", "ish", "her2_per_cell"),
    _c("ish_cep17_per_cell", "float", "specimen", "ish", "cep17_per_cell"),
    _c("ish_ratio", "float", "specimen", "ish", "ratio"),
    _c("ish_cells_counted", "int", "specimen", "ish", "cells_counted"),
    _c("ish_percent_cells_amplified", "float", "specimen", "ish", "percent_cells_amplified"),
    _c("ish_recount_her2_per_cell", "float", "specimen", "ish", "recount", "her2_per_cell"),
    _c("ish_recount_cep17_per_cell", "float", "specimen", "ish", "recount", "cep17_per_cell"),
    _c("ish_recount_cells_counted", "int", "specimen", "ish", "recount", "cells_counted"),
    _c("ngs_erbb2_amplified", "bool", "specimen", "ngs", "erbb2_amplified"),
    _c("ngs_erbb2_copy_number", "float", "specimen", "ngs", "erbb2_copy_number"),
    _c("ngs_erbb2_cn_call", "str", "specimen", "ngs", "erbb2_cn_call"),
    _c("ngs_erbb2_variants", "list", "specimen", "ngs", "erbb2_variants"),
    _c("ngs_tumor_fraction", "float", "specimen", "ngs", "tumor_fraction"),
    _c("ngs_assay", "str", "specimen", "ngs", "assay"),
    _c("pd_l1_cps", "float", "biomarkers", "pd_l1_cps"),
    _c("kras", "str", "biomarkers", "kras"),
    _c("nras", "str", "biomarkers", "nras"),
    _c("hormone_receptor", "str", "biomarkers", "hormone_receptor"),
    _c("prior_lines", "int", "history", "prior_lines"),
    _c("prior_agents", "list", "history", "prior_agents"),
    # results stated in words, and values recorded only as bounds (NAACCR "XX.2" = ratio < 2.0); a bound goes to
    # the same case field as the number, only when no number is given (docs/cohort.md)
    _c("ihc_result", "str", "specimen", "ihc", "result"),
    _c("ish_result", "str", "specimen", "ish", "result"),
    _c("ish_ratio_bound", "str", "specimen", "ish", "ratio"),
    _c("ish_her2_per_cell_bound", "str", "specimen", "ish", "her2_per_cell"),
)
BY_NAME: dict[str, Column] = {c.name: c for c in CASE_COLUMNS}
META_COLUMNS = ("row", "source", "read_error")
ALL_COLUMNS: tuple[str, ...] = (*META_COLUMNS, *(c.name for c in CASE_COLUMNS))
SPECIMEN_TEST_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in CASE_COLUMNS if c.specimen and c.path[1] in ("ihc", "ish", "ngs")
)

SLIM_COLUMNS: tuple[str, ...] = (
    "id", "tumor", "her2_status", "her2_category", "ihc_score", "ish_group", "erbb2_amplified",
    "activating_mutations", "flags", "recommendations", "eligible_therapies", "needs", "kb_version", "error",
)
SLIM_LIST_COLUMNS = ("activating_mutations", "flags", "recommendations", "eligible_therapies", "needs")
