"""The cohort job on Apache Spark (``--engine spark``; the ``spark`` extra).

The readers write canonical specimen rows to Parquet; Spark reads them, hash-partitions by patient (the only
shuffle: every row of a patient lands in one partition) and maps each partition, as Arrow batches, through the
same :class:`~her2cds.cohort.local.LocalEngine` the local engine uses: decision keys computed column-wise from
the knowledge base, the per-case engine once per key and for the rows it hands over. Answers are therefore the
local engine's answers by construction (the differential test checks both against the per-case engine).
A cluster recipe: docs/cohort.md.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from her2cds.cohort.columns import ALL_COLUMNS, SLIM_COLUMNS
from her2cds.cohort.local import ANSWER_SCHEMA, ORDER, LocalEngine, Stats, answers_frame
from her2cds.cohort.polars_exprs import SCHEMA
from her2cds.cohort.writers import SlimWriter
from her2cds.engine import Engine, default_engine

if TYPE_CHECKING:
    import pyarrow as pa

    from her2cds.cohort.run import Options
    from her2cds.cohort.sources import Source

_STATS_ID = "\x00stats"
_ALWAYS = ("row", "source", "read_error", "patient_id")  # read by the partitioning and the pre-pass


def _spark_type(dtype: pl.DataType) -> str:
    if dtype == pl.Int64():
        return "bigint"
    if dtype == pl.Boolean():
        return "boolean"
    if isinstance(dtype, pl.List):
        return "array<string>"
    return "string"


def output_ddl(extra: tuple[str, ...]) -> str:
    columns = [*(f"`{n}` {_spark_type(t)}" for n, t in ANSWER_SCHEMA.items()), *(f"`{c}` string" for c in extra)]
    return ", ".join([*columns, f"`{ORDER}` bigint"])


def evaluate_partition(batches: Iterator[pa.RecordBatch], criteria: str = "current") -> Iterator[pa.RecordBatch]:
    """One partition: canonical rows (Arrow) -> slim answers (Arrow), plus one row carrying the counts."""
    local = LocalEngine(default_engine(), criteria)
    extra = () if criteria == "current" else ("criteria_status",)
    frames = [pl.from_arrow(batch) for batch in batches]
    if frames:
        rows = pl.concat([f for f in frames if isinstance(f, pl.DataFrame)], how="vertical_relaxed")
        if rows.height:
            for part in (local.evaluate(rows), local.finish()):
                if part.height:
                    yield _arrow(part.rename({"__seq": ORDER}), extra)
    stats = answers_frame([_STATS_ID], [_stats_answer(local.stats)], [-1]).rename({"__seq": ORDER})
    yield _arrow(stats.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in extra), extra)


def _arrow(frame: pl.DataFrame, extra: tuple[str, ...] = ()) -> pa.RecordBatch:
    """Arrow types Spark reads (plain string and list, not the large/view variants polars writes)."""
    import pyarrow as pa

    def kind(dtype: pl.DataType) -> pa.DataType:
        if isinstance(dtype, pl.List):
            return pa.list_(pa.string())
        return {"bigint": pa.int64(), "boolean": pa.bool_()}.get(_spark_type(dtype), pa.string())

    schema = pa.schema([*((n, kind(t)) for n, t in ANSWER_SCHEMA.items()), *((c, pa.string()) for c in extra),
                        (ORDER, pa.int64())])
    table = frame.select([*SLIM_COLUMNS, *extra, ORDER]).to_arrow().cast(schema)
    return table.combine_chunks().to_batches()[0]


def _stats_answer(stats: Stats) -> dict[str, Any]:
    answer: dict[str, Any] = {name: None for name in SLIM_COLUMNS if name != "id"}
    answer.update({name: [] for name in ("activating_mutations", "flags", "recommendations",
                                         "eligible_therapies", "needs")})
    answer["error"] = json.dumps(stats.as_dict())
    return answer


def _merge(total: Stats, part: dict[str, Any]) -> None:
    for name in ("rows", "patients", "vectorized_rows", "decision_keys", "specimen_keys", "engine_rows", "read_errors",
                 "errors"):
        setattr(total, name, getattr(total, name) + int(part[name]))
    for reason, count in part["engine_reasons"].items():
        total.engine_reasons[reason] = total.engine_reasons.get(reason, 0) + int(count)
    total.error_examples.extend(part["error_examples"][: max(0, 20 - len(total.error_examples))])


def session(master: str) -> Any:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)  # type: ignore[attr-defined]
    return (SparkSession.builder.master(master).appName("her2cds-cohort")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", str(max(2, _cores(master))))
            .getOrCreate())


def _cores(master: str) -> int:
    if master.startswith("local[") and master[6:-1].isdigit():
        return int(master[6:-1])
    return os.cpu_count() or 2


def run_spark(sources: list[Source], options: Options, engine: Engine) -> Stats:
    spark = session(options.spark_master)
    total = Stats(criteria=options.criteria)
    from her2cds.cohort.run import extra_columns, versions

    extra = extra_columns(options)
    with tempfile.TemporaryDirectory(prefix="her2cds-cohort-") as tmp, \
            SlimWriter(options.out, versions(engine), extra) as writer:
        offset = 0
        for index, source in enumerate(sources):
            path = Path(tmp) / f"rows-{index}.parquet"
            lazy = source.frame
            names = lazy.collect_schema().names()
            exprs = [(pl.col(n).cast(t) if n in names else pl.lit(None, dtype=t)).alias(n) for n, t in SCHEMA.items()]
            lazy.select(exprs).with_row_index(ORDER, offset=offset).with_columns(
                pl.col(ORDER).cast(pl.Int64)).sink_parquet(path)
            counts = pl.scan_parquet(path).select(pl.len().alias("__rows"), pl.all().null_count()).collect()
            rows = int(counts.get_column("__rows")[0])
            offset += rows
            # only the columns the input fills cross the shuffle and the Arrow transfer (the partition's local
            # engine adds the others as nulls, as it does for any chunk)
            present = [c for c in ALL_COLUMNS if c in _ALWAYS or int(counts.get_column(c)[0]) < rows]
            frame = spark.read.parquet(str(path))
            from pyspark.sql import functions as F  # noqa: N812

            patient = F.coalesce(F.concat(F.lit("p"), F.col("patient_id")), F.concat(F.lit("r"), F.col("row")))
            partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))
            answers = (frame.select(*present, ORDER).repartition(partitions, patient)
                       .mapInArrow(functools.partial(evaluate_partition, criteria=options.criteria),
                                   output_ddl(extra)))
            written = Path(tmp) / f"answers-{index}.parquet"
            answers.write.parquet(str(written))  # no pandas needed: Spark writes, polars reads
            result = pl.read_parquet(written / "*.parquet")
            counts = result.filter(pl.col("id") == _STATS_ID)
            for text in counts.get_column("error").to_list():
                _merge(total, json.loads(text))
            writer.write(result.filter(pl.col("id") != _STATS_ID).sort(ORDER))
    if options.report is not None:
        from her2cds.cohort.report import write_report

        write_report(options.out, options.report, total, versions(engine))
    return total
