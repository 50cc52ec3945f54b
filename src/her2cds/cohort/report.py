"""The cohort HTML report: counts and plots (inline SVG, no scripts) read back from the slim output."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from her2cds.cohort.local import Stats
from her2cds.errors import UsageError

_COLORS = ("#1f77b4", "#d62728", "#ff7f0e", "#7f7f7f", "#2ca02c", "#9467bd", "#8c564b", "#17becf")


def read_slim(path: Path) -> pl.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix == ".jsonl":
        return pl.read_ndjson(path)
    frame = pl.read_csv(path, separator="\t" if suffix == ".tsv" else ",", infer_schema=False)
    lists = ("activating_mutations", "flags", "recommendations", "eligible_therapies", "needs")
    return frame.with_columns(pl.col(c).fill_null("").str.split(";").list.eval(pl.element().filter(pl.element() != ""))
                              for c in lists)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bar_chart(title: str, counts: Mapping[str, int], width: int = 640) -> str:
    """A horizontal bar chart as inline SVG (label, bar, count)."""
    if not counts:
        return f"<p><em>{_e(title)}: none.</em></p>"
    top = max(counts.values()) or 1
    row_h, label_w = 22, 260
    height = row_h * len(counts) + 30
    parts = [f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{_e(title)}</title>']
    for i, (label, count) in enumerate(counts.items()):
        y = 20 + i * row_h
        bar = int((width - label_w - 70) * count / top)
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">{_e(label)[:40]}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{max(bar, 1)}" height="{row_h - 6}" '
                     f'fill="{_COLORS[i % len(_COLORS)]}"/>'
                     f'<text x="{label_w + bar + 4}" y="{y + 14}" font-size="12">{count:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _counts(frame: pl.DataFrame, column: str, explode: bool = False, limit: int = 25) -> dict[str, int]:
    series = frame.get_column(column)
    if explode:
        series = series.explode()
    counted = series.drop_nulls().value_counts(sort=True).head(limit)
    return {str(value): int(n) for value, n in counted.iter_rows()}


def _crosstab(frame: pl.DataFrame, rows: str, cols: str, limit: int = 30) -> tuple[list[str], list[list[Any]]]:
    data = frame.select(pl.col(rows).cast(pl.String).fill_null("(none)"), pl.col(cols).cast(pl.String)
                        .fill_null("(none)"))
    values = sorted(data.get_column(cols).unique().to_list())
    pivot = data.group_by(rows, cols).len().pivot(on=cols, index=rows, values="len").fill_null(0)
    pivot = pivot.with_columns(pl.sum_horizontal(values).alias("total")).sort("total", descending=True).head(limit)
    return [rows, *values, "total"], [list(r) for r in pivot.select([rows, *values, "total"]).iter_rows()]


def criteria_name(stats: Stats) -> str:
    return stats.criteria if stats.criteria != "current" else "the criteria"


def render(frame: pl.DataFrame, stats: Stats, versions: Mapping[str, str],
           extra_sections: Sequence[tuple[str, str]] = ()) -> str:
    ok = frame.filter(pl.col("error").is_null())
    errors = frame.filter(pl.col("error").is_not_null())
    s = stats.as_dict()
    sections: list[tuple[str, str]] = [
        ("Run", _table(("what", "count"), [
            ("input rows", s["rows"]), ("patients (output rows)", frame.height), ("answered", ok.height),
            ("error rows", errors.height), ("unreadable rows", s["read_errors"]),
            ("rows decided by the vectorized path", s["vectorized_rows"]),
            ("distinct specimen keys (specimen-stage calls for them)", s["specimen_keys"]),
            ("distinct decision keys (per-case engine calls for them)", s["decision_keys"]),
            ("rows handed to the per-case engine", s["engine_rows"]),
            *((f"  … {reason}", n) for reason, n in s["engine_reasons"].items()),
        ])),
        ("HER2 status", bar_chart("HER2 status", _counts(ok, "her2_status"))),
        ("HER2 status by tumor type", _table(*_crosstab(ok, "tumor", "her2_status"))),
        ("HER2 category (breast) by tumor type",
         _table(*_crosstab(ok.filter(pl.col("her2_category").is_not_null()), "tumor", "her2_category"))),
        ("IHC score vs ISH group", _table(*_crosstab(ok, "ihc_score", "ish_group"))),
        ("Testing gaps: what to fetch from the pathology reports (needs)",
         bar_chart("needs", _counts(ok, "needs", explode=True))),
        ("Recommendations", bar_chart("recommendations", _counts(ok, "recommendations", explode=True))),
        ("Flags (discordance between specimens or tests, legacy criteria, …)",
         bar_chart("flags", _counts(ok, "flags", explode=True))),
        ("Eligible therapies", bar_chart("eligible therapies", _counts(ok, "eligible_therapies", explode=True))),
        *(((f"Reclassification: current status vs {criteria_name(stats)} (criteria_status)",
             _table(*_crosstab(ok, "her2_status", "criteria_status"))),) if "criteria_status" in frame.columns else ()),
        *extra_sections,
        ("Errors (first 50)", _table(("id", "error"), errors.select("id", "error").head(50).rows())),
    ]
    body = "".join(f"<section><h2>{_e(title)}</h2>{content}</section>" for title, content in sections)
    stamp = ", ".join(f"{k} {v}" for k, v in versions.items())
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>her2cds cohort report</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;"
        "margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}td:first-child,"
        "th:first-child{text-align:left}h2{margin-top:2rem;font-size:1.15rem}</style></head><body>"
        f"<h1>her2cds cohort report</h1><p>{_e(stamp)}. Decision support, not a diagnosis: every answer is "
        "what the per-case engine gives for the recorded values.</p>"
        f"{body}</body></html>\n"
    )


def write_report(out: Path, report: Path, stats: Stats, versions: Mapping[str, str],
                 extra_sections: Sequence[tuple[str, str]] = ()) -> None:
    text = render(read_slim(out), stats, versions, extra_sections)
    try:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {report}: {exc.strerror or exc}") from None
