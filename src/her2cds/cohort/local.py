"""The local engine: polars evaluates every row's decision key column-wise; the per-case engine answers once
per distinct key (on a representative row) and for every row the vectorized path hands over."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from her2cds.cohort.cases import Row, output_id, patient_key, row_label
from her2cds.cohort.columns import ALL_COLUMNS, SLIM_COLUMNS, SLIM_LIST_COLUMNS
from her2cds.cohort.measures import KeyPlan, key_plan
from her2cds.cohort.polars_exprs import conform, key_exprs, per_row
from her2cds.cohort.slim import SlimAnswer, error_answer
from her2cds.cohort.stages import (
    SIGNATURE,
    SYSTEM,
    TUMOR_CLASS,
    UNREAD,
    accepted_values,
    system_of_codes,
    therapy_only_columns,
)
from her2cds.cohort.workers import EngineCalls
from her2cds.engine import Engine

ORDER = "__order"  # optional input column: the row's position in the whole input (Spark partitions)
# the answers' words are categorical in memory (a few hundred distinct values for millions of rows: gathering and
# writing them costs a fraction of strings'); files hold plain strings (writers.py)
_WORD = pl.Categorical()
ANSWER_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(), "tumor": _WORD, "her2_status": _WORD, "her2_category": _WORD,
    "ihc_score": _WORD, "ish_group": pl.Int64(), "erbb2_amplified": pl.Boolean(),
    **{name: pl.List(_WORD) for name in SLIM_LIST_COLUMNS},
    "kb_version": _WORD, "error": pl.String(),
}
assert tuple(ANSWER_SCHEMA) == SLIM_COLUMNS
ANSWER_COLUMNS = SLIM_COLUMNS[1:]  # the answer of a decision key: everything but the patient's id
_BATCH_PATIENTS = 5_000  # rows / patients / representatives sent to the engine per batch (bounds the Python rows held)


@dataclass
class Stats:
    """What a run did; the counts are of input rows unless named otherwise."""

    rows: int = 0
    patients: int = 0
    vectorized_rows: int = 0
    decision_keys: int = 0  # per-case engine calls for keys (patient keys, and whole keys where needed)
    specimen_keys: int = 0  # specimen-stage calls (one per distinct specimen key)
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
            "decision_keys": self.decision_keys,
            "specimen_keys": self.specimen_keys, "engine_rows": self.engine_rows,
            "engine_reasons": dict(sorted(self.engine_reasons.items())), "read_errors": self.read_errors,
            "errors": self.errors, "error_examples": self.error_examples, "criteria": self.criteria,
        }


def patient_hash_expr() -> pl.Expr:
    """A hash of :func:`her2cds.cohort.cases.patient_key` (rows with one patient id in one source are one
    patient; a row without one is its own). Equal hashes of two patients only send both to the per-case path,
    which groups them by their real key."""
    own = pl.when(pl.col("patient_id").is_null()).then(pl.col("row")).alias("__own")
    return pl.struct(pl.col("source"), pl.col("patient_id"), own).hash()


def patient_hashes(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """The patient hash (column ``h``) of every row of ``frame`` with a patient id."""
    return (frame.lazy().select("row", "source", "patient_id").filter(pl.col("patient_id").is_not_null())
            .select(patient_hash_expr().alias("h")))


def repeated(hashes: pl.Series) -> pl.Series:
    """The hashes that occur more than once (none, at the cost of counting them, when all are distinct: the usual
    case of one row per patient)."""
    if hashes.n_unique() == hashes.len():
        return hashes.clear()
    return hashes.to_frame("h").group_by("h").len().filter(pl.col("len") > 1).get_column("h")


def repeated_patients(frame: pl.DataFrame | pl.LazyFrame) -> pl.Series:
    """The patient hashes of the rows of ``frame`` that share a patient id with another row."""
    return repeated(patient_hashes(frame).collect().get_column("h"))


def output_id_expr() -> pl.Expr:
    """As :func:`her2cds.cohort.cases.output_id`."""
    label = pl.when(pl.col("source").is_not_null()).then(
        pl.concat_str([pl.col("source"), pl.lit(":"), pl.col("row").cast(pl.String)])
    ).otherwise(pl.concat_str([pl.lit("row "), pl.col("row").cast(pl.String)]))
    return pl.when(pl.col("patient_id").is_not_null()).then(pl.col("patient_id")).otherwise(label)


_SEP = "\x1f"  # (unit separator) between the words of one list while building a list column


def _list_column(name: str, lists: Sequence[list[str]]) -> pl.Series:
    """A list column from Python lists, built natively: each list as one string (every word behind a separator),
    split by polars (its nested constructor goes list by list; an Arrow round trip imports pyarrow.compute, a
    tenth of a second per run). A word holding the separator would split in two: the words are counted and such
    a column is built list by list instead."""
    joined = pl.Series(name, ["".join(_SEP + word for word in words) for words in lists], dtype=pl.String())
    split = joined.str.split(_SEP).list.slice(1)  # "" -> [""] -> []; "\x1fa\x1fb" -> ["", "a", "b"] -> [a, b]
    if split.list.len().sum() != sum(len(words) for words in lists):
        split = pl.Series(name, [list(words) for words in lists], dtype=pl.List(pl.String()))
    return split.cast(ANSWER_SCHEMA[name])


def answer_table(answers: Sequence[SlimAnswer]) -> pl.DataFrame:
    """The slim columns but ``id`` of ``answers``, one row each."""
    return pl.DataFrame([
        _list_column(name, [a[name] for a in answers]) if name in SLIM_LIST_COLUMNS
        else pl.Series(name, [a[name] for a in answers], dtype=ANSWER_SCHEMA[name])
        for name in ANSWER_COLUMNS
    ])


def answers_frame(ids: Sequence[str], answers: Sequence[SlimAnswer], seq: Sequence[int]) -> pl.DataFrame:
    return pl.concat([pl.DataFrame({"id": list(ids)}, schema={"id": pl.String()}), answer_table(answers),
                      pl.DataFrame({"__seq": list(seq)}, schema={"__seq": pl.Int64()})], how="horizontal")


class LocalEngine:
    """Evaluates canonical specimen-row frames. Keeps the answers of the decision keys it has seen during one
    run (a run's own working table, not a cache across runs). ``processes``: how many processes make the engine
    calls of new keys (cohort/workers.py); :meth:`close` stops the extra ones."""

    def __init__(self, engine: Engine, criteria: str = "current", processes: int = 1) -> None:
        self.engine = engine
        self.calls = EngineCalls(engine, processes)
        self.criteria = criteria  # not "current": each answer also gets criteria_status (cohort/criteria.py)
        self.plan: KeyPlan = key_plan(engine.kb)
        self._keys = list(self.plan.key_columns)
        self._spec_keys = [SYSTEM, *self.plan.specimen_key_columns]
        # the patient stage reads the tumor code only through its decision class (D12.7)
        # and the columns only therapy criteria read, through what the tumor's indications read of them (D12.8)
        self._therapy_only = therapy_only_columns(engine)
        self._codes = pl.Series(list(engine.kb.tumor_types), dtype=pl.String)
        self._patient_keys = [TUMOR_CLASS if c == "oncotree_code" else UNREAD + c if c in self._therapy_only else c
                              for c in self.plan.categorical] + [SIGNATURE]
        code = pl.col("oncotree_code").cast(pl.String)  # (of type null when no row has one)
        self._tumor_class = code.replace_strict(engine.tumor_classes(), default=code,
                                                return_dtype=pl.String).alias(TUMOR_CLASS)
        # what the specimen stage reads of the tumor: a function of the code, added per class (not per row)
        self._system = pl.col("oncotree_code").cast(pl.String).replace_strict(system_of_codes(engine), default=None,
                                                              return_dtype=pl.String).alias(SYSTEM)
        # the run's working tables (never shared across runs): key -> index in the answer table (None: the key's
        # representative was rejected; its rows are answered one by one)
        self._answers: dict[tuple[Any, ...], int | None] = {}  # whole decision key (single stage)
        self._patient_answers: dict[tuple[Any, ...], int | None] = {}  # patient key (two stages)
        self._signatures: dict[tuple[Any, ...], int] = {}  # specimen key -> signature id (-1: rejected)
        self._signature_ids: dict[Hashable, int] = {}
        self._stored = 0  # rows of the answer table (the answers themselves live only there)
        self._table = answer_table([])
        self.stats = Stats(criteria=criteria)
        self._offset = 0
        self._pending: list[pl.DataFrame] = []  # rows of patients with several rows, answered by finish()

    # ------------------------------------------------------------------------------------------
    def evaluate(self, frame: pl.DataFrame, grouped: Iterable[int] | None = None) -> pl.DataFrame:
        """Slim answers for the one-row patients of ``frame`` (one chunk). Rows of patients with several rows wait
        for :meth:`finish`: ``grouped`` holds the hashes of such patients in the whole input (run.grouped_patients);
        without it, the patients with several rows in this chunk."""
        stats = self.stats
        order = frame.get_column(ORDER).cast(pl.Int64) if ORDER in frame.columns else None  # a global row order
        frame = conform(frame).with_row_index("__i").with_columns(
            __seq=order if order is not None else pl.col("__i").cast(pl.Int64) + self._offset,
        )
        self._offset += frame.height
        stats.rows += frame.height
        if grouped is None:
            grouped = repeated_patients(frame)
        hashes = grouped if isinstance(grouped, pl.Series) else pl.Series("h", list(grouped), dtype=pl.UInt64)
        frame = frame.with_columns(__multi=patient_hash_expr().is_in(hashes.implode()) if hashes.len()
                                   else pl.lit(False))
        several = frame.filter(pl.col("__multi")).select([*ALL_COLUMNS, "__seq"])
        if several.height:
            self._pending.append(several)
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
        answers = pl.concat([part for part in out if part.height] or out)
        if not answers.get_column("__seq").is_sorted():  # (in order when every row was vectorized)
            answers = answers.sort("__seq")
        return self._with_criteria(answers, single)

    def finish(self) -> pl.DataFrame:
        """Patients with several specimen rows: the per-case engine, one call per patient, on the patient's rows in
        input order. The rows wait as frames (not Python rows) and are read one patient at a time."""
        pending = pl.concat(self._pending) if self._pending else None
        self._pending = []
        ids: list[str] = []
        answers: list[SlimAnswer] = []
        seq: list[int] = []
        batch: list[list[Row]] = []

        def flush() -> None:
            answers.extend(self._several_patients(batch))
            batch.clear()

        def answer(rows: list[Row]) -> None:  # the rows of one patient-key hash: one patient, or a few on collision
            by_patient: dict[str, list[Row]] = {}
            for row in rows:
                by_patient.setdefault(patient_key(row), []).append(row)
            for patient_rows in by_patient.values():
                self.stats.handed_over("several specimens", len(patient_rows))
                ids.append(output_id(patient_rows[0]))
                seq.append(min(int(r["__seq"]) for r in patient_rows))
                batch.append(patient_rows)
            if len(batch) >= _BATCH_PATIENTS:
                flush()

        if pending is not None:
            run: list[Row] = []
            for row in pending.with_columns(__h=patient_hash_expr()).sort("__h", "__seq").iter_rows(named=True):
                if run and row["__h"] != run[0]["__h"]:
                    answer(run)
                    run = []
                run.append(row)
            answer(run)
            flush()
        self.stats.patients += len(answers)
        return self._with_criteria(answers_frame(ids, answers, seq).sort("__seq"), pending)

    def close(self) -> None:
        """Stops the extra engine processes (if any were started)."""
        self.calls.close()

    def _several_patients(self, patients: list[list[Row]]) -> list[SlimAnswer]:
        """Each patient's answer: an error naming every unreadable row, else the per-case engine's."""
        out: list[SlimAnswer | None] = []
        assess: list[list[Row]] = []
        for patient_rows in patients:
            errors = [r for r in patient_rows if r.get("read_error") is not None]
            if errors:
                self.stats.read_errors += len(errors)
                out.append(error_answer(patient_rows[0].get("oncotree_code"),
                                        "; ".join(f"{row_label(r)}: {r['read_error']}" for r in errors),
                                        self.engine.kb.version))
            else:
                out.append(None)
                assess.append(patient_rows)
        assessed = iter(self.calls.answers(assess))
        answers = [answer if answer is not None else next(assessed) for answer in out]
        for answer in answers:
            self._count(answer)
        return answers

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

    def _answers_frame(self, rows: Sequence[Row], answers: list[SlimAnswer]) -> pl.DataFrame:
        for answer in answers:
            self._count(answer)
        return answers_frame([output_id(r) for r in rows], answers, [int(r["__seq"]) for r in rows])

    def _read_errors(self, rows: Iterable[Row]) -> pl.DataFrame:
        listed = list(rows)
        return self._answers_frame(listed, [self._read_error(row) for row in listed])

    def _rows_one_by_one(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Each row by the per-case engine, a batch of rows at a time (only a batch is held as Python rows)."""
        parts = [answers_frame([], [], [])]
        for start in range(0, frame.height, _BATCH_PATIENTS):
            rows = frame.slice(start, _BATCH_PATIENTS).rows(named=True)
            parts.append(self._answers_frame(rows, self.calls.answers([[row] for row in rows])))
        return pl.concat(parts)

    def _vectorized(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Rows with one decision key share the answer: one group-by over the rows finds the keys' classes; the
        stages are keyed per class (docs/decisions.md D12.1, D12.4)."""
        if frame.height == 0:
            return answers_frame([], [], [])
        nulls = frame.null_count().row(0, named=True)
        absent = frozenset(name for name, count in nulls.items() if count == frame.height)
        keyed = frame.with_columns(*key_exprs(self.plan, absent))
        classes, class_of_row, reps = distinct(keyed, self._keys)
        answer_of_class = self._answer_classes(
            classes, lambda wanted: frame[[reps[i] for i in wanted]].rows(named=True))
        answer = answer_of_class.gather(class_of_row)
        tumor = self._tumors(classes, answer_of_class).gather(class_of_row)
        decided = frame.select("__seq", "patient_id", "source", "row").with_columns(answer, tumor).filter(
            pl.col("__answer").is_not_null())
        self.stats.vectorized_rows += decided.height
        ids = pl.col("patient_id") if decided.get_column("patient_id").null_count() == 0 else output_id_expr()
        out = pl.concat([decided.select(ids.alias("id"), "__seq", "tumor"),
                         self._table.drop("tumor").gather(decided.get_column("__answer"))], how="horizontal")
        undecided = frame.filter(answer.is_null())
        self.stats.handed_over("a representative of its decision key was rejected", undecided.height)
        return pl.concat([out.select(*SLIM_COLUMNS, "__seq"), self._rows_one_by_one(undecided)])

    def _answer_classes(self, classes: pl.DataFrame, reps: Callable[[list[int]], Sequence[Row]]) -> pl.Series:
        """Each class's index in the answer table (null: its rows go to the per-case engine one by one). The
        specimen stage runs once per new specimen key, the whole engine once per new patient key; a class whose
        specimen stage rejected its representative is keyed as a whole (one engine call per decision key)."""
        classes = classes.with_columns(self._system, self._tumor_class, *self._unread(classes))
        spec_keys, spec_of_class, spec_first = distinct(classes, self._spec_keys)
        keys = spec_keys.rows()
        new = [(key, first) for key, first in zip(keys, spec_first, strict=True) if key not in self._signatures]
        found_all = _batched([first for _, first in new], lambda part: self.calls.signatures(reps(part)))
        for (key, _), found in zip(new, found_all, strict=True):
            self._signatures[key] = -1 if found is None else self._signature_ids.setdefault(
                found, len(self._signature_ids))  # ids in input order: the same whatever the processes
        self.stats.specimen_keys += len(new)
        sigs = [self._signatures[key] for key in keys]
        classes = classes.with_columns(pl.Series(SIGNATURE, sigs, dtype=pl.Int64).gather(spec_of_class))
        answers = pl.Series("__answer", [None] * classes.height, dtype=pl.Int64)
        new_answers: list[SlimAnswer] = []
        for staged, cols, known in ((True, self._patient_keys, self._patient_answers),
                                    (False, self._keys, self._answers)):
            where = classes.select((pl.col(SIGNATURE) >= 0) == staged).to_series()
            part = classes.with_row_index("__c").filter(where)
            if part.height == 0:
                continue
            part_keys, key_of_class, firsts = distinct(part, cols)
            rows = part_keys.rows()
            fresh = [(key, first) for key, first in zip(rows, firsts, strict=True) if key not in known]
            class_index = part.get_column("__c")
            computed = _batched([class_index[first] for _, first in fresh],
                                lambda part: self.calls.answers([[row] for row in reps(part)]))
            for (key, _), answer in zip(fresh, computed, strict=True):
                known[key] = self._stored + len(new_answers) if answer["error"] is None else None
                if answer["error"] is None:
                    new_answers.append(answer)
            self.stats.decision_keys += len(fresh)
            indices = [known[key] for key in rows]
            answers = answers.scatter(where.arg_true(), pl.Series(indices, dtype=pl.Int64).gather(key_of_class))
        if new_answers:
            self._stored += len(new_answers)
            # one chunk: gathering rows from a table of several chunks costs several times more
            self._table = pl.concat([self._table, answer_table(new_answers)], rechunk=True)
        return answers


    def _tumors(self, classes: pl.DataFrame, answer_of_class: pl.Series) -> pl.Series:
        """Each class's ``tumor`` column. An answer may be shared by several codes of one decision class (D12.7): a
        class whose code is a code of the tree gets that code (the engine names it as given); any other code (e.g.
        with spaces, which the input model strips) is a class of its own, whose answer names it as the engine
        read it."""
        codes = classes.get_column("oncotree_code").cast(pl.String)
        answered = self._table.get_column("tumor").cast(pl.String).gather(answer_of_class)
        own = codes.is_in(self._codes)
        return pl.select(pl.when(own).then(codes).otherwise(answered)).to_series().cast(
            ANSWER_SCHEMA["tumor"]).alias("tumor")

    def _unread(self, classes: pl.DataFrame) -> list[pl.Expr]:
        """The therapy-only columns as the patient key holds them: null where no decision on a case of the row's
        tumor reads the column and the input model accepts the value (it cannot change the answer), else the
        value (a value the model rejects stays in the key: its representative is rejected, its rows go one by
        one)."""
        code = pl.col("oncotree_code").cast(pl.String)
        out: list[pl.Expr] = []
        for column, reads in self._therapy_only.items():
            accepted = accepted_values(column, classes.get_column(column).drop_nulls().unique().to_list())
            value = pl.col(column)
            if accepted:
                unread = code.replace_strict(reads, default=True, return_dtype=pl.Boolean).not_()
                value = pl.when(unread & value.is_in(accepted)).then(None).otherwise(value)
            out.append(value.alias(UNREAD + column))
        return out


def _batched(items: list[int], call: Callable[[list[int]], list[Any]]) -> list[Any]:
    """``call`` on ``items`` a batch at a time (only a batch of representatives is held as Python rows)."""
    out: list[Any] = []
    for start in range(0, len(items), _BATCH_PATIENTS):
        out.extend(call(items[start:start + _BATCH_PATIENTS]))
    return out


def distinct(frame: pl.DataFrame, cols: Sequence[str]) -> tuple[pl.DataFrame, pl.Series, list[int]]:
    """The distinct values of ``cols`` in ``frame`` (a frame of them, in ``cols`` order and in the order of their
    first rows), the index of each row's among them, and the first row of each. Columns null in every row are left
    out of the grouping.

    Rows are grouped by a 64-bit hash of their values (one integer column to group and join: a third of the cost
    of grouping the columns themselves); every row is then compared with its group's first row, and should two
    distinct values ever share a hash, the columns themselves are grouped instead (:func:`distinct_exact`)."""
    by = [c for c in cols if frame.get_column(c).null_count() < frame.height]
    if not by or frame.height == 0:
        return distinct_exact(frame, cols)
    keys = frame.select(by)
    hashed = keys.hash_rows().to_frame("__h").with_row_index("__r")
    groups = hashed.group_by("__h").agg(pl.col("__r").first()).sort("__r").with_row_index("__g")
    index = hashed.join(groups.select("__h", "__g"), on="__h", how="left", maintain_order="left").get_column("__g")
    firsts = groups.get_column("__r")
    values = keys[firsts]
    same = values[index]
    if not all(same.get_column(c).eq_missing(keys.get_column(c)).all() for c in by):
        return distinct_exact(frame, cols)
    return (values.select(pl.col(c) if c in by else pl.lit(None).alias(c) for c in cols), index.rename("__g"),
            firsts.to_list())


def distinct_exact(frame: pl.DataFrame, cols: Sequence[str]) -> tuple[pl.DataFrame, pl.Series, list[int]]:
    """As :func:`distinct`, grouping the columns themselves (groups in no particular order)."""
    by = [c for c in cols if frame.get_column(c).null_count() < frame.height]
    # (no column left: one group of every row; a frame of no columns would have no rows)
    keys = frame.select(by) if by else pl.DataFrame({"__one": pl.repeat(True, frame.height, eager=True)})
    groups = keys.with_row_index("__r").group_by(by or ["__one"]).agg(pl.col("__r")).with_row_index("__g")
    index = groups.select("__g", "__r").explode("__r").sort("__r").get_column("__g")
    values = groups.select("__g", *(pl.col(c) if c in by else pl.lit(None).alias(c) for c in cols)).drop("__g")
    return values, index, groups.get_column("__r").list.first().to_list()
