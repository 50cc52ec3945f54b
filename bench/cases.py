"""Distinct generated cases with a realistic mix, shared by the benchmarks.

Every case is different (its id, and findings drawn from wide value ranges: IHC percentages, ISH counts with
two decimals, dates, prior lines and agents), so that no memo of a whole earlier answer can explain a figure.
The mix: 15 tumor types weighted towards breast and gastroesophageal (the bulk of HER2 testing), 1-3 specimens
(biopsy, resection, some plasma), IHC reported as a score or as staining percentages, reflex ISH in about half,
tissue NGS in a fifth, settings from early to metastatic (sometimes missing), PD-L1/KRAS/NRAS/HR and history
sometimes missing. ``distinct(cases)`` checks the no-repeat property.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

#: (OncoTree code, weight): breast and gastroesophageal first, then the rest of the HER2 tumor types
TUMORS: tuple[tuple[str, int], ...] = (
    ("IDC", 20), ("ILC", 5), ("BRCA", 3), ("STAD", 10), ("GEJ", 6), ("ESCA", 3), ("COAD", 6), ("READ", 3),
    ("LUAD", 8), ("LUSC", 2), ("IHCH", 2), ("GBC", 2), ("USC", 3), ("BLCA", 3), ("THYC", 1), ("SDCA", 1),
)
_CODES = [code for code, _ in TUMORS]
_WEIGHTS = [weight for _, weight in TUMORS]
_VARIANTS: tuple[list[str], ...] = ([], [], [], ["p.Y772_A775dup"], ["S310F"], ["L755S"], ["V777L"], ["p.G776delinsVC"])
_AGENTS: tuple[list[str], ...] = ([], [], ["FOLFOX"], ["trastuzumab"], ["trastuzumab", "pertuzumab", "docetaxel"],
           ["trastuzumab deruxtecan"], ["capecitabine", "oxaliplatin"], ["paclitaxel"], ["Enhertu"])


def _ihc(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.4:
        return {"score": rng.choice(["0", "1+", "2+", "3+"])}
    strong = rng.choice([0, 0, 0, 1, 5, 8, 10, 15, 30, 60, 90])
    weak = min(rng.randint(0, 60), 100 - strong)
    faint = min(rng.randint(0, 40), 100 - strong - weak)
    return {"percent": {"strong_complete": strong, "weak_moderate_complete": weak, "faint_incomplete": faint}}


def _specimen(rng: random.Random, j: int) -> dict[str, Any]:
    date = f"20{rng.randint(18, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    spec: dict[str, Any] = {"id": f"S{j}-{rng.randint(1, 99999)}", "collected_on": date}
    if rng.random() < 0.1:
        spec.update(procedure="plasma", ngs={"erbb2_variants": rng.choice(_VARIANTS),
                                             "tumor_fraction": rng.choice([0.001, 0.004, 0.05, 0.2, None])})
        return spec
    spec.update(procedure=rng.choice(["biopsy", "biopsy", "resection"]),
                site=rng.choice(["primary", "primary", "metastasis"]), ihc=_ihc(rng))
    if rng.random() < 0.5:
        spec["ish"] = {"her2_per_cell": round(rng.uniform(1.0, 14.0), 2),
                       "cep17_per_cell": round(rng.uniform(1.0, 4.5), 2),
                       "cells_counted": rng.choice([20, 20, 40, 60]),
                       "percent_cells_amplified": rng.choice([0, 5, 10, 40, 60, 90])}
    if rng.random() < 0.2:
        spec["ngs"] = {"erbb2_amplified": rng.random() < 0.3, "erbb2_variants": rng.choice(_VARIANTS)}
    return spec


def make_case(rng: random.Random, i: int) -> dict[str, Any]:
    code = rng.choices(_CODES, _WEIGHTS)[0]
    tumor: dict[str, Any] = {"oncotree_code": code}
    setting = rng.choice(["metastatic", "metastatic", "locally_advanced", "early", None])
    if setting:
        tumor["setting"] = setting
    if code in ("LUAD", "LUSC") and rng.random() < 0.5:
        tumor["histology"] = rng.choice(["adenocarcinoma", "squamous cell carcinoma", "NOS"])
    case: dict[str, Any] = {"id": f"bench-{i}", "tumor": tumor,
                            "specimens": [_specimen(rng, j) for j in range(rng.choice([1, 1, 1, 2, 3]))]}
    if rng.random() < 0.8:
        markers: dict[str, Any] = {"pd_l1_cps": rng.choice([0, 1, 3, 5, 10, 25, None]),
                                   "kras": rng.choice(["wild_type", "mutant", None]),
                                   "nras": rng.choice(["wild_type", None]),
                                   "hormone_receptor": rng.choice(["positive", "negative", None])}
        case["biomarkers"] = {k: v for k, v in markers.items() if v is not None}
    if rng.random() < 0.85:
        case["history"] = {"prior_lines": rng.randint(0, 4), "prior_agents": rng.choice(_AGENTS)}
    return case


def generate(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(n):
        yield make_case(rng, i)


def distinct(cases: list[dict[str, Any]]) -> bool:
    """True when no two cases have the same content, ids aside."""
    seen = {json.dumps({k: v for k, v in case.items() if k != "id"}, sort_keys=True) for case in cases}
    return len(seen) == len(cases)
