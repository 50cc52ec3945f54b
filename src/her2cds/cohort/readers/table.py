"""Any CSV/TSV/Parquet table read through a :class:`~her2cds.cohort.mapping.TableMapping`, lazily (polars)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from her2cds.cohort.columns import BY_NAME
from her2cds.cohort.mapping import TableMapping
from her2cds.errors import UsageError

_TRUE = ("true", "yes", "y", "1", "positive", "amplified")
_FALSE = ("false", "no", "n", "0", "negative", "not amplified")


def scan(path: Path, mapping: TableMapping) -> pl.LazyFrame:
    """The raw table, every column as read (CSV/TSV: strings; Parquet: its own types)."""
    if not path.is_file():
        raise UsageError(f"cannot read {path}: not a file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.scan_parquet(path)
    separator = mapping.delimiter or ("\t" if suffix in (".tsv", ".txt", ".tab") else ",")
    return pl.scan_csv(path, separator=separator, infer_schema=False, comment_prefix="#", quote_char='"',
                       truncate_ragged_lines=False, encoding="utf8-lossy")


def _as_number(name: str, dtype: pl.DataType | None, mapping: TableMapping) -> bool:
    """A numeric source column read as the number it holds (no text parsing)."""
    return dtype is not None and dtype.is_numeric() and BY_NAME[name].kind in ("float", "int") and (
        name not in mapping.values)


def _parse(name: str, source: str | None, dtype: pl.DataType | None, mapping: TableMapping,
           text: pl.Expr, lower: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(value, error) expressions for one canonical column; ``text`` is the source column as stripped text and
    ``lower`` that in lower case (computed once, in an earlier step of the plan)."""
    kind = BY_NAME[name].kind
    if source is None:
        constant = mapping.constants[name]
        return pl.lit(constant), pl.lit(None, dtype=pl.String)
    raw = pl.col(source)
    factor = mapping.scale.get(name)
    if _as_number(name, dtype, mapping):
        number = raw.cast(pl.Float64)
        return (number * factor if factor is not None else number), pl.lit(None, dtype=pl.String)
    missing = text.is_null() | lower.is_in([w.lower() for w in mapping.missing])
    words = {k.strip().lower(): v for k, v in mapping.values.get(name, {}).items()}
    if words:
        explicit_none = lower.is_in([k for k, v in words.items() if v is None])
        missing = missing | explicit_none
        known = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in words.items() if v is not None}
        text = lower.replace_strict(known, default=text, return_dtype=pl.String) if known else text
        lower = text.str.to_lowercase()
    value: pl.Expr
    problem: str
    if kind in ("str", "list"):
        value, problem = text, ""
    elif kind == "bool":
        value = pl.when(lower.is_in(_TRUE)).then(True).when(lower.is_in(_FALSE)).then(False).otherwise(None)
        problem = "is not yes/no"
    else:
        number = text.str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)
        if factor is not None:
            number = number * factor
        value = number
        problem = "is not a number" if kind == "float" else "is not a whole number"
        if kind == "int":
            value = pl.when(number == number.floor()).then(number).otherwise(None)
    value = pl.when(missing).then(None).otherwise(value)
    error = pl.when(~missing & value.is_null()).then(
        pl.concat_str([pl.lit(f"column {source}: "), pl.lit("'"), text, pl.lit(f"' {problem}")])
    ) if problem else pl.lit(None, dtype=pl.String)
    return value, error


_SAMPLE_ROWS = 2_048  # rows read ahead to tell the text columns of few distinct values ...
_FEW_VALUES = 64  # ... (at most this many among them): those are parsed once per distinct value


def _parsed_once_per_value(column: str, value: pl.Expr, error: pl.Expr, text: str, lower: str,
                           dtype: pl.DataType) -> pl.Expr:
    """The (value, error) struct of a text column, parsed once per distinct value of each batch and gathered
    back by each row's index among them (the same expressions as :func:`_parse`, on a few rows)."""
    parse = pl.struct(value.alias("value"), error.alias("error"))

    def apply(raw: pl.Series) -> pl.Series:
        strings = raw.cast(pl.String)
        distinct = strings.unique().drop_nulls()
        parsed = distinct.to_frame(column).lazy().with_columns(
            pl.col(column).str.strip_chars().alias(text)).with_columns(
            pl.col(text).str.to_lowercase().alias(lower)).select(parse).collect().to_series()
        index = strings.cast(pl.Enum(distinct)).to_physical()
        return parsed.gather(index).cast(dtype)  # (a null value: a null index, a null struct, null fields)

    return pl.col(column).map_batches(apply, return_dtype=dtype, is_elementwise=True)


def canonical(lf: pl.LazyFrame, mapping: TableMapping, source: str) -> pl.LazyFrame:
    """Canonical specimen rows (plus ``row``, ``source``, ``read_error``) from a raw table."""
    schema = lf.collect_schema()
    absent = sorted({col for col in mapping.columns.values() if col not in schema})
    if absent:
        raise UsageError(f"{source}: mapped column(s) {absent} not in the file (columns: {list(schema)[:30]})")
    exprs: list[pl.Expr] = [pl.col("__row").cast(pl.Int64).alias("row"), pl.lit(source).alias("source")]
    errors: list[pl.Expr] = []
    names = list(dict.fromkeys([*mapping.columns, *mapping.constants]))
    # text columns are stripped, then lower-cased, once each in their own step (polars does not share the repeated
    # sub-expressions of one select: computing them in place cost a third more)
    texts = [(i, column) for i, name in enumerate(names) if (column := mapping.columns.get(name)) is not None
             and not _as_number(name, schema.get(column), mapping)]
    few = _few_values(lf, [column for _, column in texts])
    per_row = [(i, column) for i, column in texts if column not in few]
    once: list[pl.Expr] = []
    for i, name in enumerate(names):
        column = mapping.columns.get(name)
        value, error = _parse(name, column, schema.get(column) if column else None, mapping,
                              pl.col(f"__text{i}"), pl.col(f"__lower{i}"))
        if column is not None and column in few:
            dtype = pl.DataFrame(schema={column: pl.String(), f"__text{i}": pl.String(), f"__lower{i}": pl.String()}
                                 ).select(pl.struct(value.alias("value"), error.alias("error"))).to_series().dtype
            once.append(_parsed_once_per_value(column, value, error, f"__text{i}", f"__lower{i}", dtype)
                        .alias(f"__parsed{i}"))
            value = pl.col(f"__parsed{i}").struct.field("value")
            if not error.meta.is_literal():  # (a column that cannot be wrong keeps its literal null error)
                error = pl.col(f"__parsed{i}").struct.field("error")
        exprs.append(value.alias(name))
        errors.append(error)
    read_error = pl.concat_str(errors, separator="; ", ignore_nulls=True) if errors else pl.lit(None, pl.String)
    exprs.append(pl.when(read_error == "").then(None).otherwise(read_error).alias("read_error"))
    return (lf.with_row_index("__row", offset=1)
            .with_columns(pl.col(column).cast(pl.String).str.strip_chars().alias(f"__text{i}")
                          for i, column in per_row)
            .with_columns(*(pl.col(f"__text{i}").str.to_lowercase().alias(f"__lower{i}") for i, _ in per_row), *once)
            .select(exprs))


def _few_values(lf: pl.LazyFrame, columns: list[str]) -> set[str]:
    """The columns with few distinct values in the first rows (a guess that decides only how, not what, is
    computed)."""
    if not columns:
        return set()
    wanted = list(dict.fromkeys(columns))
    try:
        counts = lf.select(wanted).head(_SAMPLE_ROWS).select(pl.all().n_unique()).collect()
    except pl.exceptions.PolarsError:  # (an unreadable file: the run itself reports it, where it reports it)
        return set()
    return {c for c in wanted if counts.get_column(c)[0] <= _FEW_VALUES}
