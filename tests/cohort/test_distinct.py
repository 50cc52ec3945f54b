"""Grouping rows by their decision key (cohort/local.py ``distinct``): by a hash of the key, checked against the
key itself, equal to grouping the key columns; list columns of answers built natively."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from her2cds.adapters.cli import main
from her2cds.cohort import local
from her2cds.cohort.generate import generate, generate_registry
from her2cds.cohort.local import LocalEngine, distinct, distinct_exact, repeated, repeated_patients
from her2cds.cohort.polars_exprs import conform, key_exprs, per_row
from her2cds.cohort.stages import SYSTEM
from her2cds.engine import Engine


def _partition(values: pl.DataFrame, index: pl.Series, firsts: list[int], frame: pl.DataFrame,
               cols: list[str]) -> set[tuple[object, ...]]:
    """Each group as (its key values, its rows): comparable whatever the order of the groups."""
    rows: dict[int, list[int]] = {}
    for row, group in enumerate(index.to_list()):
        rows.setdefault(group, []).append(row)
    assert len(rows) == values.height == len(firsts)
    out: set[tuple[object, ...]] = set()
    for group, members in rows.items():
        assert firsts[group] == members[0]  # the first row of each group
        key = values.row(group)
        for row in members:  # every row of a group has the group's key
            assert tuple(frame.select(cols).row(row)) == key
        out.add((key, tuple(members)))
    return out


def _keyed(engine: Engine) -> tuple[pl.DataFrame, list[str]]:
    le = LocalEngine(engine)
    frame = pl.concat([conform(generate_registry(engine.kb, 2_000, seed=5)),
                       conform(generate(engine.kb, 2_000, seed=6))])
    frame = frame.filter(~per_row(le.plan))  # as the engine: rows with non-finite numbers go one by one
    keyed = frame.with_columns(*key_exprs(le.plan), le._system)
    return keyed, [*le._keys, SYSTEM]


def test_hashed_groups_equal_exact_groups(engine: Engine) -> None:
    keyed, cols = _keyed(engine)
    fast = distinct(keyed, cols)
    exact = distinct_exact(keyed, cols)
    assert fast[0].columns == exact[0].columns == cols
    groups = _partition(*fast, keyed, cols)
    assert groups == _partition(*exact, keyed, cols)
    assert 100 < len(groups) < keyed.height
    assert fast[2] == sorted(fast[2])  # groups in the order of their first rows


def test_a_hash_collision_falls_back_to_the_columns(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    keyed, cols = _keyed(engine)
    keyed = keyed.head(500)
    exact = _partition(*distinct_exact(keyed, cols), keyed, cols)
    # every row hashed alike: one group by hash, which the check against the key columns must refuse
    monkeypatch.setattr(pl.DataFrame, "hash_rows", lambda self, *a, **k: pl.Series([7] * self.height, dtype=pl.UInt64))
    assert _partition(*distinct(keyed, cols), keyed, cols) == exact
    assert len(exact) > 1


def test_distinct_of_all_null_and_empty_frames() -> None:
    frame = pl.DataFrame({"a": [None, None, None], "b": [1, 1, 2]}, schema={"a": pl.String, "b": pl.Int64})
    values, index, firsts = distinct(frame, ["a", "b"])
    assert values.to_dicts() == [{"a": None, "b": 1}, {"a": None, "b": 2}] and index.to_list() == [0, 0, 1]
    assert firsts == [0, 2]
    values, index, firsts = distinct(frame.select("a"), ["a"])
    assert values.height == 1 and index.to_list() == [0, 0, 0] and firsts == [0]
    values, index, firsts = distinct(frame.clear(), ["a", "b"])
    assert values.height == 0 and index.len() == 0 and firsts == []


@pytest.mark.parametrize("lists", [
    [], [[]], [["a"], [], ["b", "c"]], [[""], ["", "a"]], [["x\x1fy", "z"], []],  # the separator inside a word
])
def test_list_columns_keep_every_word(lists: list[list[str]]) -> None:
    series = local._list_column("needs", lists)
    assert series.dtype == local.ANSWER_SCHEMA["needs"]
    assert series.cast(pl.List(pl.String)).to_list() == lists


def test_rows_that_fill_no_key_column_are_answered(tmp_path: Path) -> None:
    """A chunk whose rows fill no decision-key column (here no tumor code at all) is one key: every row gets its
    error row (this once stopped the run with an internal error)."""
    table = tmp_path / "blank.csv"
    table.write_text("pid,code\nA,\nB,\n", encoding="utf-8")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("columns:\n  patient_id: pid\n  oncotree_code: code\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    code = main(["cohort", "run", str(table), "--format", "table", "--mapping", str(mapping), "--out", str(out)])
    frame = pl.read_parquet(out)
    assert code == 1 and frame.get_column("id").to_list() == ["A", "B"]
    assert all("column oncotree_code" in error for error in frame.get_column("error").to_list())


def test_repeated_patient_hashes() -> None:
    assert repeated(pl.Series("h", [3, 1, 2], dtype=pl.UInt64)).to_list() == []
    assert sorted(repeated(pl.Series("h", [3, 1, 3, 2, 1, 1], dtype=pl.UInt64)).to_list()) == [1, 3]
    frame = pl.DataFrame({"row": [1, 2, 3, 4], "source": ["s", "s", "t", "s"], "patient_id": ["A", "B", "A", None]})
    again = frame.with_columns(pl.Series("row", [5, 6, 7, 8]))
    assert repeated_patients(frame).len() == 0  # A in two sources is two patients; a row without id is its own
    assert repeated_patients(pl.concat([frame, again])).len() == 3  # A@s, B@s, A@t; the id-less rows stay apart
