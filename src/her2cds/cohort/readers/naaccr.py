"""NAACCR registry exports: NAACCR XML (``NaaccrData/Patient/Tumor/Item``), delimited flat exports whose
header names the items (by NAACCR XML id, e.g. ``her2IhcSummary``, or by item number, e.g. ``3850``), and
fixed-width flat files of NAACCR version 18 (column positions: ``cohort/data/naaccr_flat_v18.yaml``; any other
record version or record length is refused, naming them).

The breast HER2 SSDIs are read with each item's own code list (apps.naaccr.org/ssdi, items 3850-3855); special
codes become bounds or qualitative results, never numbers:

- 3850 HER2 IHC Summary: 0/1/2/3 = score 0/1+/2+/3+; 4 = "stated as negative, score not stated" (qualitative);
  7 (results not in chart), 8 (not applicable), 9 (not documented / indeterminate) = not known;
- 3851 / 3853 dual / single probe HER2 copy number: 0.0-99.9; XX.1 = 100 or more (a bound); XX.7/8/9 not known;
- 3852 dual probe ratio: 0.0-99.9; XX.2 = less than 2.0, XX.3 = 2.0 or more (bounds); XX.7/8/9 not known;
- 3854 HER2 ISH Summary: 0 negative (not amplified), 2 equivocal, 3 positive (amplified); 7/8/9 not known;
- 3855 HER2 Overall Summary: 1 = positive; 0 = "negative; equivocal" (either: not read as negative);
  7/8/9 not known.

Items 3850-3853 are optional for cases diagnosed from 2021: a blank is "not recorded", not "unknown".
The tumor type comes from the primary site (ICD-O-3 topography) through ``cohort/data/icdo3_topography.yaml``.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from her2cds.cohort.mapping import TableMapping
from her2cds.cohort.readers.common import canonical_rows
from her2cds.cohort.readers.table import scan
from her2cds.cohort.sources import Source
from her2cds.errors import UsageError

ITEMS = {  # NAACCR item number -> XML id (the items this reader uses)
    "20": "patientIdNumber", "60": "tumorRecordNumber", "390": "dateOfDiagnosis", "400": "primarySite",
    "522": "histologicTypeIcdO3", "3850": "her2IhcSummary", "3851": "her2IshDualProbeCopyNumber",
    "3852": "her2IshDualProbeRatio", "3853": "her2IshSingleProbeCopyNumber", "3854": "her2IshSummary",
    "3855": "her2OverallSummary",
}
_NOT_KNOWN = ("7", "8", "9", "XX.7", "XX.8", "XX.9")


@functools.cache
def topography() -> dict[str, str]:
    text = resources.files("her2cds.cohort").joinpath("data/icdo3_topography.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return {str(k).upper(): str(v) for k, v in data["prefixes"].items()}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_xml(path: Path) -> pl.DataFrame:
    """One row per Tumor, with its patient's and the file's items; every value a string (streamed)."""
    rows: list[dict[str, str]] = []
    top: dict[str, str] = {}
    patient: dict[str, str] = {}
    tumor: dict[str, str] = {}
    in_patient = in_tumor = False
    tumors = 0
    try:
        for event, elem in ET.iterparse(path, events=("start", "end")):
            name = _local(elem.tag)
            if event == "start":
                if name == "Patient":
                    in_patient, patient, tumors = True, {}, 0
                elif name == "Tumor":
                    in_tumor, tumor = True, {}
                continue
            if name == "Item":
                target = tumor if in_tumor else patient if in_patient else top
                target[elem.attrib.get("naaccrId", "")] = (elem.text or "").strip()
            elif name == "Tumor":
                rows.append({**top, **patient, "__tumor": str(tumors + 1), **tumor})
                in_tumor, tumors = False, tumors + 1
                elem.clear()
            elif name == "Patient":
                if tumors == 0:  # a patient without a tumor record still gets a row (and an error)
                    rows.append({**top, **patient})
                in_patient = False
                elem.clear()
    except ET.ParseError as exc:
        raise UsageError(f"{path} is not NAACCR XML: {exc}") from None
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return pl.DataFrame(rows, schema={k: pl.String() for k in keys}) if rows else pl.DataFrame()


@functools.cache
def flat_layout() -> dict[str, Any]:
    text = resources.files("her2cds.cohort").joinpath("data/naaccr_flat_v18.yaml").read_text(encoding="utf-8")
    layout: dict[str, Any] = yaml.safe_load(text)
    return layout


LINE_ERROR = "__line_error"


def is_fixed_width(path: Path) -> bool:
    """A fixed-width record: a long first line with no delimiter among the record-id columns."""
    with path.open("rb") as handle:
        first = handle.readline().rstrip(b"\r\n")
    return len(first) >= 1000 and not any(sep in first[:60] for sep in (b"\t", b",", b";", b"|"))


def _refuse(path: Path, line: str) -> None:
    layout = flat_layout()
    lengths, version = layout["record_lengths"], layout["version"]
    rtype, found = line[:1], line[16:19]
    if found != version or lengths.get(rtype) != len(line):
        known = ", ".join(f"{t} {n}" for t, n in lengths.items())
        raise UsageError(
            f"{path}: line 1 is a fixed-width record of NAACCR record version {found.strip() or '(blank)'!r} "
            f"(item 50, columns 17-19), record type {rtype!r}, {len(line)} characters; this reader supports NAACCR "
            f"version 18 ({version}) fixed-width records ({known} characters by record type); export other "
            "versions as NAACCR XML")


def read_fixed(path: Path) -> pl.DataFrame:
    """One row per record line (version 18 positions); a line of another length or version is an error row."""
    layout = flat_layout()
    lengths, version = layout["record_lengths"], layout["version"]
    spans = {name: (start - 1, start - 1 + length) for name, (_, start, length) in layout["items"].items()}
    rows: list[dict[str, str]] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip(b"\r\n").decode("latin-1")  # one byte per column
            if not line.strip():
                continue  # a blank line holds no record
            if number == 1:
                _refuse(path, line)
            rtype, found = line[:1], line[16:19]
            if lengths.get(rtype) != len(line):
                rows.append({LINE_ERROR: f"line {number}: {len(line)} characters for record type {rtype!r} "
                                         f"(NAACCR version 18: {lengths.get(rtype, 'no such record type')})"})
            elif found != version:
                rows.append({LINE_ERROR: f"line {number}: NAACCR record version {found!r} (item 50, columns "
                                         f"17-19); this file is version 18 ({version})"})
            else:
                rows.append({name: value for name, (a, b) in spans.items() if (value := line[a:b].strip())})
    keys = list(dict.fromkeys([*spans, LINE_ERROR, *(k for row in rows for k in row)]))
    return pl.DataFrame(rows, schema={k: pl.String() for k in keys})


def read_flat(path: Path) -> pl.DataFrame:
    """A delimited export whose header names items by XML id or by number (numbers are renamed to ids)."""
    raw = scan(path, TableMapping()).collect()
    return raw.rename({c: ITEMS[c.strip()] for c in raw.columns if c.strip() in ITEMS})


def _col(frame: pl.DataFrame, name: str) -> pl.Expr:
    return pl.col(name).str.strip_chars() if name in frame.columns else pl.lit(None, dtype=pl.String)


def derive(frame: pl.DataFrame) -> pl.DataFrame:
    """Registry codes -> canonical source columns (``__*``); special codes to bounds and words."""
    ihc, ratio = _col(frame, "her2IhcSummary"), _col(frame, "her2IshDualProbeRatio")
    dual, single = _col(frame, "her2IshDualProbeCopyNumber"), _col(frame, "her2IshSingleProbeCopyNumber")
    ish, overall = _col(frame, "her2IshSummary"), _col(frame, "her2OverallSummary")
    site = _col(frame, "primarySite").str.to_uppercase().str.replace(".", "", literal=True)
    crosswalk = topography()

    def number(code: pl.Expr) -> pl.Expr:  # 0.0-99.9; special codes XX.n are never numbers
        return pl.when(code.str.starts_with("XX") | code.is_in(_NOT_KNOWN)).then(None).otherwise(code)

    single_only = dual.is_null() | (dual == "") | dual.is_in(_NOT_KNOWN)
    her2 = pl.when(single_only).then(number(single)).otherwise(number(dual))
    her2_bound = pl.when(single_only & (single == "XX.1")).then(pl.lit(">=100")).when(dual == "XX.1").then(
        pl.lit(">=100")).otherwise(None)
    return frame.with_columns(
        # a registry counts tumors: each primary is its own case (its own tumor type), named patient#tumor
        __patient=pl.concat_str([_col(frame, "patientIdNumber"), pl.lit("#"), pl.coalesce(
            _col(frame, "tumorRecordNumber"), _col(frame, "__tumor"),
            pl.int_range(1, pl.len() + 1).over(_col(frame, "patientIdNumber")).cast(pl.String))]),
        __oncotree=pl.coalesce(site.str.slice(0, 4).replace_strict(crosswalk, default=None, return_dtype=pl.String),
                               site.str.slice(0, 3).replace_strict(crosswalk, default=None, return_dtype=pl.String),
                               pl.when(site.is_not_null() & (site != "")).then(pl.concat_str(
                                   [pl.lit("ICD-O-3 site "), site])).otherwise(None)),
        __ihc_score=ihc.replace_strict({"0": "0", "1": "1+", "2": "2+", "3": "3+"}, default=None,
                                       return_dtype=pl.String),
        __ihc_result=pl.when(ihc == "4").then(pl.lit("negative")).otherwise(None),
        __ratio=number(ratio),
        __ratio_bound=ratio.replace_strict({"XX.2": "<2.0", "XX.3": ">=2.0"}, default=None, return_dtype=pl.String),
        __her2=her2,
        __her2_bound=her2_bound,
        __probe=pl.when(single_only & number(single).is_not_null()).then(pl.lit("single")).otherwise(None),
        __ish_result=ish.replace_strict({"0": "not_amplified", "2": "equivocal", "3": "amplified"}, default=None,
                                        return_dtype=pl.String),
        __reported=overall.replace_strict({"1": "positive", "0": "negative or equivocal"}, default=None,
                                          return_dtype=pl.String),
    )


COLUMNS = {
    "patient_id": "__patient", "oncotree_code": "__oncotree", "ihc_score": "__ihc_score",
    "ihc_result": "__ihc_result", "ish_ratio": "__ratio", "ish_ratio_bound": "__ratio_bound",
    "ish_her2_per_cell": "__her2", "ish_her2_per_cell_bound": "__her2_bound", "ish_probe": "__probe",
    "ish_result": "__ish_result", "reported_status": "__reported",
}


def read_naaccr(paths: Sequence[Path], user: TableMapping | None) -> list[Source]:
    out: list[Source] = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"--format naaccr reads NAACCR XML, delimited or fixed-width exports: {path} is not "
                             "a file")
        fixed = path.suffix.lower() != ".xml" and is_fixed_width(path)
        raw = read_xml(path) if path.suffix.lower() == ".xml" else read_fixed(path) if fixed else read_flat(path)
        if raw.height and "primarySite" not in raw.columns and "patientIdNumber" not in raw.columns:
            raise UsageError(f"{path}: no NAACCR items found (expected e.g. primarySite / 400, her2IhcSummary / 3850)")
        mapping = TableMapping(columns=COLUMNS, constants={"procedure": "resection"}).merged(user)  # D12.2
        rows = canonical_rows(derive(raw), mapping, path.name)
        if fixed and raw[LINE_ERROR].is_not_null().any():  # a line that is no version 18 record: an error row
            errors = {i + 1: e for i, e in enumerate(raw[LINE_ERROR].to_list()) if e is not None}
            rows = rows.with_columns(pl.coalesce(
                pl.col("row").replace_strict(errors, default=None, return_dtype=pl.String), pl.col("read_error"))
                .alias("read_error"))
        out.append(Source(path.name, rows))
    return out
