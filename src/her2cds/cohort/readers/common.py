"""Helpers shared by the real-format readers: tab-separated files with ``#`` metadata lines, candidate
column names, and turning a raw string table plus a default mapping into canonical rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import polars as pl

from her2cds.cohort.mapping import TableMapping
from her2cds.cohort.readers import table
from her2cds.errors import UsageError


def read_tsv(path: Path) -> pl.DataFrame:
    """A tab-separated file, every column a string; lines starting with ``#`` (cBioPortal/MAF metadata) skipped."""
    try:
        return pl.read_csv(path, separator="\t", comment_prefix="#", infer_schema=False, quote_char=None,
                           truncate_ragged_lines=True, encoding="utf8-lossy")
    except (OSError, pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def first_present(columns: Iterable[str], candidates: Sequence[str]) -> str | None:
    """The first candidate present in ``columns`` (case-insensitive), as spelled in the file."""
    by_lower = {c.lower(): c for c in columns}
    for name in candidates:
        found = by_lower.get(name.lower())
        if found is not None:
            return found
    return None


def resolve(frame: pl.DataFrame, candidates: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """canonical column -> the source column found for it among its candidate names."""
    out: dict[str, str] = {}
    for canonical, names in candidates.items():
        found = first_present(frame.columns, names)
        if found is not None:
            out[canonical] = found
    return out


def canonical_rows(frame: pl.DataFrame, mapping: TableMapping, source: str) -> pl.LazyFrame:
    """Canonical rows from a raw string table and its (default + user) mapping."""
    return table.canonical(frame.lazy(), mapping, source)


def find_one(folder: Path, patterns: Sequence[str]) -> Path | None:
    for pattern in patterns:
        hits = sorted(folder.glob(pattern))
        if hits:
            return hits[0]
    return None
