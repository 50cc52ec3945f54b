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


Reader = Callable[[Path, TableMapping | None], list[Source]]


def _table(path: Path, mapping: TableMapping | None) -> list[Source]:
    if mapping is None:
        raise UsageError("--format table needs --mapping FILE.yaml (which column is which; see docs/cohort.md)")
    return [Source(path.name, table.canonical(table.scan(path, mapping), mapping, path.name))]


def readers() -> dict[str, Reader]:
    return {"table": _table}


FORMAT_NAMES = ("table",)


def open_sources(paths: Sequence[str], fmt: str, mapping: TableMapping | None) -> list[Source]:
    reader = readers().get(fmt)
    if reader is None:
        raise UsageError(f"unknown --format {fmt!r}; choose one of {', '.join(sorted(readers()))}")
    out: list[Source] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"cannot read {raw}: no such file or directory")
        out.extend(reader(path, mapping))
    return out
