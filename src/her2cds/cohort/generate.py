"""Generated specimen rows for the differential test and the benchmark.

Every tumor family; IHC by score, percentages and cluster sizes; dual- and single-probe ISH with values
drawn around each knowledge-base cut point (exactly on it too); blinded recounts; NGS and plasma; missing
values; out-of-range and contradictory values; several specimens per patient. Common patterns are common and
rare ones rare, as in real cohorts, and the numbers are continuous (rounded as reports round them), so rows
that share a decision key still differ. Deterministic for a seed and vectorized (polars hashing): 10 million
rows take seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from her2cds.cohort.measures import kb_cuts
from her2cds.cohort.polars_exprs import conform
from her2cds.knowledge.loader import KnowledgeBase

_S, _F, _I, _B = pl.String(), pl.Float64(), pl.Int64(), pl.Boolean()

# (setting, histology, pd_l1_cps, kras, nras, hormone_receptor, prior_lines, prior_agents)
_CLINICAL: list[tuple[Any, ...]] = (
    [(None, None, None, None, None, None, None, None)] * 60
    + [("metastatic", None, None, None, None, None, None, None)] * 15
    + [("early", None, None, None, None, "positive", None, None)] * 5
    + [
        ("metastatic", None, None, None, None, "negative", 1, "trastuzumab;pertuzumab"),
        ("metastatic", None, 5.0, None, None, None, 0, None),
        ("metastatic", None, 1.0, None, None, None, None, None),
        ("metastatic", None, None, "wild_type", "wild_type", None, 2, "FOLFOX;bevacizumab"),
        ("metastatic", None, None, "mutant", None, None, 1, "FOLFOX"),
        ("locally_advanced", "adenocarcinoma", None, None, None, None, 0, None),
        ("metastatic", None, None, None, None, "positive", 3, "trastuzumab deruxtecan"),
        ("early", None, None, None, None, "negative", None, "not-a-drug"),
    ]
)
# (erbb2_amplified, erbb2_cn_call, erbb2_copy_number, erbb2_variants)
_NGS: list[tuple[Any, ...]] = [
    (None, "amplification", 12.0, None), (False, None, None, None), (None, "neutral", 2.0, None),
    (None, "gain", 4.5, None), (True, None, None, "S310F"), (False, None, None, "p.Y772_A775dup"),
    (None, None, None, "L755S;V777L"), (None, None, 3.0, "G776delinsVC"), (None, None, None, "D769Y"),
    (True, "gain", None, None), (None, None, None, "xyz"),
]


def _codes(kb: KnowledgeBase, per_family: int) -> list[str]:
    by_family: dict[str, list[str]] = {}
    excluded: list[str] = []
    for code in sorted(kb.tumor_types):
        family = kb.family_for(code)
        if family is None:
            excluded.append(code)
        else:
            by_family.setdefault(family.id, []).append(code)
    common = [by_family[family][0] for family in sorted(by_family)] * 25  # one common code per family
    return common + [c for family in sorted(by_family) for c in by_family[family][1:per_family]] + excluded[:1]


class _Draw:
    """Independent deterministic draws: each call uses a fresh hash seed."""

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.seed = seed * 7919
        self.index = pl.int_range(n, dtype=pl.UInt64, eager=True)

    def _hash(self) -> pl.Series:
        self.seed += 1
        return self.index.hash(self.seed)

    def pick(self, values: Sequence[Any], dtype: pl.DataType) -> pl.Series:
        return pl.Series(values=list(values), dtype=dtype).gather(self._hash() % len(values))

    def uniform(self, low: float, high: float, decimals: int) -> pl.Series:
        unit = (self._hash() % 1_000_003).cast(pl.Float64) / 1_000_003
        return (unit * (high - low) + low).round(decimals)

    def chance(self, p: float) -> pl.Series:
        return (self._hash() % 10_000) < int(p * 10_000)


def _when(mask: pl.Series, value: pl.Series | Any, otherwise: pl.Series | Any = None) -> pl.Series:
    then = value if isinstance(value, pl.Series) else pl.lit(value)
    other = otherwise if isinstance(otherwise, pl.Series) else pl.lit(otherwise)
    return pl.select(pl.when(mask).then(then).otherwise(other)).to_series()


def generate(kb: KnowledgeBase, n: int, seed: int = 12, source: str | None = "generated") -> pl.DataFrame:
    """``n`` canonical specimen rows; about 4% belong to a patient with another row."""
    d = _Draw(n, seed)
    cuts = kb_cuts(kb)
    rows = pl.int_range(1, n + 1, eager=True, dtype=pl.Int64)
    cols: dict[str, pl.Series] = {"row": rows, "source": pl.repeat(source, n, dtype=_S, eager=True)}
    patient = _when(d.chance(0.04), rows - 1, rows)
    cols["patient_id"] = "P" + patient.cast(pl.String)
    cols["oncotree_code"] = _when(d.chance(0.004), "NOT-A-CODE", d.pick(_codes(kb, 4), _S))
    clinical = d.pick(range(len(_CLINICAL)), _I)
    names = ("setting", "histology", "pd_l1_cps", "kras", "nras", "hormone_receptor", "prior_lines", "prior_agents")
    kinds = (_S, _S, _F, _S, _S, _S, _I, _S)
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        cols[name] = pl.Series([p[i] for p in _CLINICAL], dtype=kind).gather(clinical)
    cols["specimen_id"] = "S" + rows.cast(pl.String)

    ihc = d.pick(["score"] * 12 + ["none"] * 2 + ["percent", "both", "cluster"], _S)
    ish = d.pick(["none"] * 14 + ["means", "means", "ratio", "single", "percent_cells", "recount"], _S)
    ngs = d.chance(0.12)
    plasma = ngs & d.chance(0.25)
    nothing = (ihc == "none") & (ish == "none") & ~ngs
    procedure = _when(plasma, "plasma", d.pick(["resection"] * 10 + ["biopsy"] * 6 + ["cytology"], _S))
    cols["procedure"] = _when(nothing & ~d.chance(0.02), None, procedure)
    cols["site"] = _when(plasma, None, d.pick([None] * 10 + ["primary", "metastasis"], _S))
    cols["collected_on"] = d.pick([None, "2019-05-01", "2023-01-10", "2024-11-30"], _S)
    cols["after_her2_therapy"] = d.pick([None] * 60 + [True, False], _B)
    cols["reported_status"] = d.pick([None] * 60 + ["positive", "negative", "equivocal", "amplified"], _S)
    tissue = ~plasma | d.chance(0.01)  # a few plasma rows carry IHC/ISH: the input model rejects them

    with_score = tissue & ihc.is_in(["score", "both"])
    cols["ihc_score"] = _when(with_score, d.pick(["0", "0", "1+", "1+", "2+", "3+"] * 10 + ["4+"], _S))
    with_pct = tissue & ihc.is_in(["percent", "both"])
    pct_cuts = sorted(cuts.get("pct.strong_complete", set()) | cuts.get("pct.complete", set())
                      | cuts.get("pct.any_membrane", set()))
    on_cut = d.pick(pct_cuts, _F)
    strong = _when(d.chance(0.5), 0.0, _when(d.chance(0.2), on_cut, d.uniform(0, 100, 0)))
    weak = _when(d.chance(0.5), 0.0, d.uniform(0, 100, 0))
    weak = _when(d.chance(0.97), pl.select(pl.min_horizontal(weak, 100 - strong)).to_series(), weak)
    faint = pl.select(pl.min_horizontal(d.uniform(0, 30, 1), 100 - strong - weak)).to_series()
    faint = _when(d.chance(0.3), 0.0, faint)
    cols["ihc_pct_strong_complete"] = _when(with_pct, strong)
    cols["ihc_pct_weak_moderate_complete"] = _when(with_pct & d.chance(0.9), weak)
    cols["ihc_pct_faint_incomplete"] = _when(with_pct & d.chance(0.9), faint)
    cols["ihc_pct_intense_incomplete"] = _when(with_pct & d.chance(0.05), 0.0)
    with_cluster = tissue & (ihc == "cluster")
    for name in ("ihc_cluster_strong_complete", "ihc_cluster_weak_moderate_complete",
                 "ihc_cluster_faint_incomplete"):
        cols[name] = _when(with_cluster & d.chance(0.8), d.pick([0, 0, 3, 4, 5, 6, 12, 40], _I))

    means = tissue & ish.is_in(["means", "recount"])
    single = tissue & (ish == "single")
    ratio_cuts = sorted(cuts.get("ish.ratio", {2.0}))
    her2_cuts = sorted(cuts.get("ish.her2_per_cell", {4.0}))
    her2 = _when(d.chance(0.15), d.pick(her2_cuts, _F), d.uniform(0.5, 12, 2))
    cep17 = _when(d.chance(0.01), 0.0, d.uniform(0.8, 4.0, 2))
    cols["ish_probe"] = _when(single, "single", _when(means & d.chance(0.3), "dual"))
    cols["ish_her2_per_cell"] = _when(means | single, _when(d.chance(0.005), -1.0, her2))
    cols["ish_cep17_per_cell"] = _when(means, cep17)
    # reports round (or truncate) the ratio to one or two decimals: the engine reads recorded precision
    reported = _when(d.chance(0.5), (her2 / cep17).round(2), (her2 / cep17).round(1))
    reported = _when(d.chance(0.2), ((her2 / cep17) * 10).floor() / 10, reported)
    ratio = _when(d.chance(0.2), d.pick(ratio_cuts, _F), d.uniform(0.8, 4.5, 2))
    ratio = _when(d.chance(0.3), ratio.round(1), ratio)
    cols["ish_ratio"] = _when(tissue & (ish == "ratio"), ratio, _when(means & d.chance(0.5), reported))
    cols["ish_ratio"] = _when(means & d.chance(0.02), reported + 0.3, cols["ish_ratio"])  # contradicts the means
    # a ratio with CEP17 but no HER2 copies (the engine derives the copies as an interval)
    cols["ish_cep17_per_cell"] = _when(tissue & (ish == "ratio") & d.chance(0.4), cep17.round(1),
                                       cols["ish_cep17_per_cell"])
    counted = _when(d.chance(0.1), d.pick([0, 10, 19, 20, 21], _I), d.pick([None, 20, 40, 60], _I))
    cols["ish_cells_counted"] = _when(tissue & (ish != "none"), counted)
    percent_cells = _when(d.chance(0.2), d.pick(sorted(cuts.get("ish.percent_cells_amplified", {50.0})), _F),
                          d.uniform(0, 100, 0))
    cols["ish_percent_cells_amplified"] = _when(tissue & (ish == "percent_cells"), percent_cells)
    recount = tissue & (ish == "recount")
    cols["ish_recount_her2_per_cell"] = _when(recount & d.chance(0.95), d.uniform(1, 9, 1))
    cols["ish_recount_cep17_per_cell"] = _when(recount & d.chance(0.9), d.uniform(1, 3.5, 1))
    cols["ish_recount_cells_counted"] = _when(recount & d.chance(0.5), d.pick([10, 20, 30], _I))

    # results stated in words and values recorded as bounds (registries): mostly where no number is given
    words = tissue & (ihc == "none")
    cols["ihc_result"] = _when(words & d.chance(0.4), d.pick(["positive", "negative", "equivocal"], _S))
    cols["ish_result"] = _when(tissue & d.chance(0.04), d.pick(["amplified", "not_amplified", "equivocal"], _S))
    cols["ish_ratio_bound"] = _when(tissue & d.chance(0.03), d.pick(["<2.0", ">=2.0", "≥2.0"], _S))
    cols["ish_her2_per_cell_bound"] = _when(tissue & d.chance(0.02), d.pick([">=100", ">6.0", "<4.0"], _S))

    profile = d.pick(range(len(_NGS)), _I)
    for i, (name, kind) in enumerate(zip(
        ("ngs_erbb2_amplified", "ngs_erbb2_cn_call", "ngs_erbb2_copy_number", "ngs_erbb2_variants"),
        (_B, _S, _F, _S), strict=True,
    )):
        cols[name] = _when(ngs, pl.Series([p[i] for p in _NGS], dtype=kind).gather(profile))
    tf = _when(d.chance(0.3), d.pick(sorted(cuts.get("ngs.tumor_fraction", {0.01})), _F), d.uniform(0, 0.4, 3))
    cols["ngs_tumor_fraction"] = _when(plasma & d.chance(0.8), tf)
    cols["read_error"] = pl.repeat(None, n, dtype=_S, eager=True)
    return conform(pl.DataFrame(cols))


def generate_registry(kb: KnowledgeBase, n: int, seed: int = 2026, source: str | None = "registry") -> pl.DataFrame:
    """``n`` rows shaped like a registry or study export: one tumor per row, the tumor type, the setting, the IHC
    score, a dual-probe ISH ratio and HER2 copies (one decimal, continuous) for about a third, hormone receptors.
    Every row is distinct (its id and, where present, its ISH values)."""
    d = _Draw(n, seed)
    rows = pl.int_range(1, n + 1, eager=True, dtype=pl.Int64)
    breast = [c for c in ("IDC", "ILC", "BRCA", "MDLC", "IMMC") if c in kb.tumor_types]
    others = [c for c in ("STAD", "ESCA", "COAD", "READ", "LUAD", "UCS", "USC", "BLCA", "GBC") if c in kb.tumor_types]
    cols: dict[str, pl.Series] = {
        "row": rows, "source": pl.repeat(source, n, dtype=_S, eager=True),
        "patient_id": "R" + rows.cast(pl.String),
        "oncotree_code": d.pick(breast * 6 + others, _S),
        "setting": d.pick([None, "early", "early", "early", "locally_advanced", "metastatic"], _S),
        "procedure": pl.repeat("resection", n, dtype=_S, eager=True),
        "ihc_score": d.pick([None, "0", "0", "1+", "1+", "1+", "2+", "2+", "3+"], _S),
        "hormone_receptor": d.pick([None, "positive", "positive", "negative"], _S),
    }
    ish = d.chance(0.3)
    cols["ish_ratio"] = _when(ish, d.uniform(0.8, 6.0, 1))
    cols["ish_her2_per_cell"] = _when(ish & d.chance(0.8), d.uniform(1.0, 14.0, 1))
    cols["read_error"] = pl.repeat(None, n, dtype=_S, eager=True)
    return conform(pl.DataFrame(cols))
