"""The local engine: polars evaluates every row's decision key column-wise; the per-case engine answers once
per distinct key (on a representative row) and for every row the vectorized path hands over."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from her2cds.cohort.cases import Row, output_id, patient_key, row_label
from her2cds.cohort.columns import ALL_COLUMNS, SLIM_COLUMNS, SLIM_LIST_COLUMNS
from her2cds.cohort.measures import KeyPlan, key_plan
from her2cds.cohort.percase import assess_rows
from her2cds.cohort.polars_exprs import SCHEMA, conform, key_exprs, per_row
from her2cds.cohort.slim import SlimAnswer, error_answer
from her2cds.engine import Engine

ORDER = "__order"  # optional input column: the row's position in the whole input (Spark partitions)
ANSWER_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(), "tumor": pl.String(), "her2_status": pl.String(), "her2_category": pl.String(),
    "ihc_score": pl.String(), "ish_group": pl.Int64(), "erbb2_amplified": pl.Boolean(),
    **{name: pl.List(pl.String()) for name in SLIM_LIST_COLUMNS},
    "kb_version": pl.String(), "error": pl.String(),
}
assert tuple(ANSWER_SCHEMA) == SLIM_COLUMNS


@dataclass
class Stats:
    """What a run did; the counts are of input rows unless named otherwise."""

    rows: int = 0
    patients: int = 0
    vectorized_rows: int = 0
    decision_keys: int = 0
    engine_rows: int = 0  # rows answered by the per-case engine directly (the fallback)
    engine_reasons: dict[str, int] = field(default_factory=dict)
    read_errors: int = 0
    errors: int = 0  # output rows with an error (read or engine)
    error_examples: list[str] = field(default_factory=list)
    criteria: str = "current"

    def handed_over(self, reason: str, count: int) -> None:
        if count:
            self.engine_rows += count
            self.engine_reasons[reason] = self.engine_reasons.get(reason, 0) + count

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "patients": self.patients, "vectorized_rows": self.vectorized_rows,
            "decision_keys": self.decision_keys, "engine_rows": self.engine_rows,
            "engine_reasons": dict(sorted(self.engine_reasons.items())), "read_errors": self.read_errors,
            "errors": self.errors, "error_examples": self.error_examples, "criteria": self.criteria,
        }


def patient_key_expr() -> pl.Expr:
    source = pl.col("source").fill_null("")
    return (
        pl.when(pl.col("patient_id").is_not_null())
        .then(pl.concat_str([source, pl.lit("\x1f"), pl.col("patient_id")]))
        .otherwise(pl.concat_str([source, pl.lit("\x1e"), pl.col("row").cast(pl.String)]))
    )


def output_id_expr() -> pl.Expr:
    """As :func:`her2cds.cohort.cases.output_id`."""
    label = pl.when(pl.col("source").is_not_null()).then(
        pl.concat_str([pl.col("source"), pl.lit(":"), pl.col("row").cast(pl.String)])
    ).otherwise(pl.concat_str([pl.lit("row "), pl.col("row").cast(pl.String)]))
    return pl.when(pl.col("patient_id").is_not_null()).then(pl.col("patient_id")).otherwise(label)


def answers_frame(ids: Sequence[str], answers: Sequence[SlimAnswer], seq: Sequence[int]) -> pl.DataFrame:
    data: dict[str, list[Any]] = {name: [a[name] for a in answers] for name in SLIM_COLUMNS if name != "id"}
    return pl.DataFrame({"id": list(ids), **data, "__seq": list(seq)},
                        schema={**ANSWER_SCHEMA, "__seq": pl.Int64()})


class LocalEngine:
    """Evaluates canonical specimen-row frames. Keeps the answers of the decision keys it has seen during one
    run (a run's own working table, not a cache across runs)."""

    def __init__(self, engine: Engine, criteria: str = "current") -> None:
        self.engine = engine
        self.criteria = criteria  # not "current": each answer also gets criteria_status (cohort/criteria.py)
        self.plan: KeyPlan = key_plan(engine.kb)
        self._keys = list(self.plan.key_columns)
        self._answers: dict[tuple[Any, ...], SlimAnswer | None] = {}  # None: answer row by row
        self.stats = Stats(criteria=criteria)
        self._offset = 0
        self._pending: list[Row] = []  # rows of patients with several rows, answered by finish()

    # ------------------------------------------------------------------------------------------
    def evaluate(self, frame: pl.DataFrame, grouped: Iterable[int] = ()) -> pl.DataFrame:
        """Slim answers for the one-row patients of ``frame`` (one chunk). Rows of patients with several rows (in
        this chunk, or whose patient-key hash is in ``grouped``: run.grouped_patients) wait for :meth:`finish`."""
        stats = self.stats
        order = frame.get_column(ORDER).cast(pl.Int64) if ORDER in frame.columns else None  # a global row order
        frame = conform(frame).with_row_index("__i").with_columns(
            __pk=patient_key_expr(),
            __seq=order if order is not None else pl.col("__i").cast(pl.Int64) + self._offset,
        )
        self._offset += frame.height
        stats.rows += frame.height
        multi = pl.col("__pk").hash().is_in(list(grouped)) | (pl.len().over("__pk") > 1)
        frame = frame.with_columns(__multi=multi)
        self._pending.extend(frame.filter(pl.col("__multi")).select([*ALL_COLUMNS, "__seq"]).iter_rows(named=True))
        single = frame.filter(~pl.col("__multi"))
        out: list[pl.DataFrame] = []
        bad = single.filter(pl.col("read_error").is_not_null())
        if bad.height:
            out.append(self._read_errors(bad.iter_rows(named=True)))
        good = single.filter(pl.col("read_error").is_null()).with_columns(__per_row=per_row(self.plan))
        handed = good.filter(pl.col("__per_row"))
        stats.handed_over("values the input model may reject", handed.height)
        out.append(self._rows_one_by_one(handed))
        out.append(self._vectorized(good.filter(~pl.col("__per_row"))))
        stats.patients += sum(part.height for part in out)
        return self._with_criteria(pl.concat(out).sort("__seq"), single)

    def finish(self) -> pl.DataFrame:
        """Patients with several specimen rows: the per-case engine, one call per patient."""
        by_patient: dict[str, list[Row]] = {}
        for row in self._pending:
            by_patient.setdefault(patient_key(row), []).append(row)
        pending = pl.DataFrame(self._pending, schema={**SCHEMA, "__seq": pl.Int64()}, orient="row") \
            if self._pending else None
        self._pending = []
        ids, answers, seq = [], [], []
        for patient_rows in by_patient.values():
            self.stats.handed_over("several specimens", len(patient_rows))
            ids.append(output_id(patient_rows[0]))
            seq.append(min(int(r["__seq"]) for r in patient_rows))
            errors = [r for r in patient_rows if r.get("read_error") is not None]
            if errors:
                self.stats.read_errors += len(errors)
                answer = error_answer(patient_rows[0].get("oncotree_code"),
                                      "; ".join(f"{row_label(r)}: {r['read_error']}" for r in errors),
                                      self.engine.kb.version)
            else:
                answer = assess_rows(self.engine, patient_rows)
            self._count(answer)
            answers.append(answer)
        self.stats.patients += len(answers)
        return self._with_criteria(answers_frame(ids, answers, seq), pending)

    def _with_criteria(self, answers: pl.DataFrame, rows: pl.DataFrame | None) -> pl.DataFrame:
        if self.criteria == "current":
            return answers
        from her2cds.cohort.criteria import attach

        return attach(answers, rows, self.engine.ck, self.criteria, output_id_expr())

    # ------------------------------------------------------------------------------------------
    def _count(self, answer: SlimAnswer) -> None:
        if answer["error"] is not None:
            self.stats.errors += 1
            if len(self.stats.error_examples) < 20:
                self.stats.error_examples.append(answer["error"])

    def _read_error(self, row: Row) -> SlimAnswer:
        self.stats.read_errors += 1
        return error_answer(row.get("oncotree_code"), f"{row_label(row)}: {row['read_error']}", self.engine.kb.version)

    def _each_row(self, rows: Iterable[Row], answer_of: Callable[[Row], SlimAnswer]) -> pl.DataFrame:
        ids, answers, seq = [], [], []
        for row in rows:
            answer = answer_of(row)
            self._count(answer)
            ids.append(output_id(row))
            answers.append(answer)
            seq.append(int(row["__seq"]))
        return answers_frame(ids, answers, seq)

    def _read_errors(self, rows: Iterable[Row]) -> pl.DataFrame:
        return self._each_row(rows, self._read_error)

    def _rows_one_by_one(self, frame: pl.DataFrame) -> pl.DataFrame:
        return self._each_row(frame.iter_rows(named=True), lambda row: assess_rows(self.engine, [row]))

    def _vectorized(self, frame: pl.DataFrame) -> pl.DataFrame:
        if frame.height == 0:
            return answers_frame([], [], [])
        keyed = frame.with_columns(key_exprs(self.plan))
        classes = keyed.group_by(self._keys).agg(pl.col("__i").first().alias("__rep")).with_row_index("__kid")
        reps = frame.join(classes.select("__rep", "__kid"), left_on="__i", right_on="__rep").sort("__kid")
        class_keys = classes.select(self._keys).rows()
        per_class: list[SlimAnswer | None] = []
        for key, rep in zip(class_keys, reps.select(list(ALL_COLUMNS)).iter_rows(named=True), strict=True):
            if key not in self._answers:
                answer = assess_rows(self.engine, [rep])
                self._answers[key] = answer if answer["error"] is None else None
                self.stats.decision_keys += 1
            per_class.append(self._answers[key])
        ok_ids = [i for i, a in enumerate(per_class) if a is not None]
        table = pl.DataFrame(
            {"__kid": ok_ids, **{name: [per_class[i][name] for i in ok_ids]  # type: ignore[index]
                                 for name in SLIM_COLUMNS if name != "id"}},
            schema={"__kid": pl.UInt32(), **{k: v for k, v in ANSWER_SCHEMA.items() if k != "id"}},
        )
        assigned = keyed.join(classes.select([*self._keys, "__kid"]), on=self._keys, nulls_equal=True)
        decided = assigned.select("__kid", "__seq", "patient_id", "source", "row").join(table, on="__kid")
        self.stats.vectorized_rows += decided.height
        for answer in table.get_column("error").to_list():
            assert answer is None
        out = decided.select(output_id_expr().alias("id"), *[n for n in SLIM_COLUMNS if n != "id"], "__seq")
        undecided = assigned.filter(~pl.col("__kid").is_in(ok_ids)).select(frame.columns)
        self.stats.handed_over("a representative of its decision key was rejected", undecided.height)
        return pl.concat([out, self._rows_one_by_one(undecided)])
