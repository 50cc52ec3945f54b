"""The evaluate stage's shortcuts give what the slower forms they replace give (issue 14, in-process throughput).

* Ranking: :func:`evaluate_options` evaluates each lineage's indications in a precomputed order (sort rank, then
  id) and only partitions them by outcome; the result must equal a sort by the documented key (outcome, sort
  rank, id), and each option's alternatives the documented rule, on every golden case and on generated cases.
* The gastric-criteria reading of IHC percentages or cluster sizes (D8.3) is read straight from the matching
  rule (:func:`derived_reading`); it must equal a full interpretation of the same data without a score.
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from bench.cases import generate

from her2cds.engine import default_engine, parse_case
from her2cds.errors import Her2CdsError, InvalidInputError
from her2cds.model.case import ClusterCells, Ihc, IhcPercent
from her2cds.model.enums import Procedure
from her2cds.rules.collector import Collector
from her2cds.rules.ihc import derived_reading, interpret_ihc
from her2cds.therapy.board import MAX_ALTERNATIVES
from tests.therapy.engine_cases import engine_cases

_RANK = {"eligible": 0, "insufficient_data": 1, "not_eligible": 2}


def test_options_are_ranked_and_given_alternatives_as_documented() -> None:
    engine = default_engine()
    seen: Counter[str] = Counter()
    for case in engine_cases(800, 2026):
        try:
            evaluation = engine.evaluate(case)
        except Her2CdsError:
            continue
        options = evaluation.options
        expected = sorted(options, key=lambda o: (_RANK[o.outcome], *o.ind.sort_rank, o.id))
        assert [o.id for o in options] == [o.id for o in expected]
        eligible = [o for o in expected if o.outcome == "eligible"]
        setting = parse_case(case).tumor.setting
        for option in options:
            if option.outcome == "eligible" or not eligible:
                assert option.alternatives == ()
                continue
            wanted = {setting.value} if setting is not None else set(option.ind.entry.setting)
            covering = [o.id for o in eligible if o.id != option.id and wanted & set(o.ind.entry.setting)]
            assert option.alternatives == tuple(covering[:MAX_ALTERNATIVES])
            seen["alternatives"] += bool(option.alternatives)
        seen["mixed outcomes"] += len({o.outcome for o in options}) > 1
        seen["unverified"] += any(o.ind.entry.status == "unverified" for o in options)
    assert min(seen.values()) >= 100, seen


def _ihc_data() -> list[Ihc]:
    data = []
    for case in generate(400, 31):
        for spec in case["specimens"]:
            ihc = spec.get("ihc")
            if ihc and "percent" in ihc:
                data.append(Ihc(percent=IhcPercent(**ihc["percent"])))
    sizes = (0, 1, 4, 5, 6, 12)
    for strong, moderate, faint in itertools.product(sizes, sizes, sizes):
        data.append(Ihc(cluster_cells=ClusterCells(strong_complete=strong, weak_moderate_complete=moderate,
                                                   faint_incomplete=faint)))
    data.append(Ihc(percent=IhcPercent(strong_complete=3, intense_incomplete=20),
                    cluster_cells=ClusterCells(weak_moderate_complete=7)))
    return data


@pytest.mark.parametrize("procedure", [Procedure.BIOPSY, Procedure.RESECTION])
def test_derived_reading_equals_a_full_interpretation_without_a_score(procedure: Procedure) -> None:
    engine = default_engine()
    seen: Counter[str] = Counter()
    for ihc in _ihc_data():
        for system in engine.ck.systems.values():
            try:
                fast: object = derived_reading(ihc, procedure, system, "ihc")
            except InvalidInputError as exc:
                fast = exc.problems
            try:
                full = interpret_ihc(ihc, procedure, system, Collector(engine.kb), "-", "ihc")
                slow: object = (full.score, full.outcome, full.intensity)
            except InvalidInputError as exc:
                slow = exc.problems
            assert fast == slow, (system.id, ihc)
            seen[fast[1] if isinstance(fast, tuple) else "refused"] += 1
    assert {"positive", "negative", "equivocal"} <= set(seen), seen
