"""Input formats -> lazily read canonical specimen rows, one frame per input."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from her2cds.cohort.mapping import TableMapping
from her2cds.cohort.readers import table
from her2cds.errors import UsageError


@dataclass(frozen=True)
class Source:
    name: str
    frame: pl.LazyFrame


Reader = Callable[[Sequence[Path], TableMapping | None], list[Source]]


def _table(paths: Sequence[Path], mapping: TableMapping | None) -> list[Source]:
    if mapping is None:
        raise UsageError("--format table needs --mapping FILE.yaml (which column is which; see docs/cohort.md)")
    return [Source(p.name, table.canonical(table.scan(p, mapping), mapping, p.name)) for p in paths]


def readers() -> dict[str, Reader]:
    """Format name -> reader (imported here: the readers import :class:`Source` from this module)."""
    from her2cds.cohort.readers.cbioportal import read_study
    from her2cds.cohort.readers.naaccr import read_naaccr
    from her2cds.cohort.readers.oncokb import read_oncokb
    from her2cds.cohort.readers.tcga_biotab import read_biotab

    return {"table": _table, "cbioportal": read_study, "oncokb": read_oncokb, "naaccr": read_naaccr,
            "tcga-biotab": read_biotab}


def open_sources(paths: Sequence[str], fmt: str, mapping: TableMapping | None) -> list[Source]:
    reader = readers().get(fmt)
    if reader is None:
        raise UsageError(f"unknown --format {fmt!r}; choose one of {', '.join(sorted(readers()))}")
    resolved: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"cannot read {raw}: no such file or directory")
        resolved.append(path)
    return reader(resolved, mapping)
