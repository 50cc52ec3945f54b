"""The Spark engine (local[2]) against the per-case engine on the same ≥100,000 generated rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from her2cds.cohort.columns import BY_NAME
from her2cds.cohort.mapping import TableMapping
from her2cds.cohort.report import read_slim
from her2cds.cohort.run import Options, run
from her2cds.engine import Engine
from tests.cohort.conftest import DIFFERENTIAL_ROWS
from tests.cohort.test_differential import differences


@pytest.mark.slow
def test_spark_engine_matches_the_per_case_engine(
    tmp_path: Path, generated: pl.DataFrame, reference: dict[str, dict[str, Any]]
) -> None:
    source = tmp_path / "generated.parquet"
    generated.drop("row", "source", "read_error").write_parquet(source)
    mapping = TableMapping.model_validate(
        yaml.safe_load(yaml.safe_dump({"columns": {c: c for c in generated.columns if c in BY_NAME}})))
    out = tmp_path / "spark.parquet"
    stats = run(Options(inputs=[str(source)], fmt="table", out=out, mapping=mapping, engine="spark",
                        spark_master="local[2]"), Engine())
    frame = read_slim(out)
    # error messages name file and row: the same rows, read from a file named generated.parquet
    expected = {pid: {**a, "error": a["error"].replace("generated:", "generated.parquet:") if a["error"] else None}
                for pid, a in reference.items()}
    assert generated.height >= DIFFERENTIAL_ROWS and stats.rows == generated.height
    assert differences(frame, expected)[:20] == []
    assert frame.height == len(reference) == stats.patients
    assert stats.vectorized_rows > generated.height / 2  # the partitions decided most rows by decision key
