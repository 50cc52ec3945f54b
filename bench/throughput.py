"""Assessment throughput: cases per second in-process (her2cds.assess) and through `her2cds assess --batch`.

Run: python bench/throughput.py [--cases N] [--seed S]
Prints figures; it asserts nothing (machines are noisy: compare ratios measured in one run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Any

FAMILIES = ["IDC", "ILC", "STAD", "GEJ", "ESCA", "COAD", "READ", "LUAD", "LUSC", "IHCH", "GBC", "USC", "BLCA",
            "THYC", "SDCA"]


def _ihc(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.4:
        return {"score": rng.choice(["0", "1+", "2+", "3+"])}
    strong = rng.choice([0, 0, 5, 10, 30, 60])
    weak = rng.choice([0, 10, 20, 50])
    faint = rng.choice([0, 5, 10, 30])
    weak = min(weak, 100 - strong)
    faint = min(faint, 100 - strong - weak)
    return {"percent": {"strong_complete": strong, "weak_moderate_complete": weak, "faint_incomplete": faint}}


def make_case(rng: random.Random, i: int) -> dict[str, Any]:
    code = rng.choice(FAMILIES)
    specimens: list[dict[str, Any]] = []
    for j in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.random()
        spec: dict[str, Any] = {"id": f"S{j}", "collected_on": f"202{rng.randint(0, 6)}-0{rng.randint(1, 9)}-1{j}"}
        if kind < 0.15:
            spec.update(procedure="plasma", ngs={"erbb2_variants": rng.choice([[], ["p.Y772_A775dup"], ["S310F"]]),
                                                 "tumor_fraction": rng.choice([0.001, 0.05, None])})
        else:
            spec.update(procedure=rng.choice(["biopsy", "resection"]), site=rng.choice(["primary", "metastasis"]),
                        ihc=_ihc(rng))
            if rng.random() < 0.5:
                her2 = round(rng.uniform(1.5, 12), 2)
                cep17 = round(rng.uniform(1.5, 4), 2)
                spec["ish"] = {"her2_per_cell": her2, "cep17_per_cell": cep17, "cells_counted": 20,
                               "percent_cells_amplified": rng.choice([10, 60])}
            if rng.random() < 0.2:
                spec["ngs"] = {"erbb2_amplified": rng.random() < 0.3, "erbb2_variants": []}
        specimens.append(spec)
    return {"id": f"bench-{i}", "tumor": {"oncotree_code": code, "setting": "metastatic"}, "specimens": specimens,
            "biomarkers": {"pd_l1_cps": rng.choice([0, 1, 10]), "kras": "wild_type", "nras": "wild_type",
                           "hormone_receptor": rng.choice(["positive", "negative"])},
            "history": {"prior_lines": rng.randint(0, 3),
                        "prior_agents": rng.choice([[], ["FOLFOX"], ["trastuzumab"]])}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cases = [make_case(rng, i) for i in range(args.cases)]

    from her2cds.engine import default_engine

    engine = default_engine()
    engine.assess(cases[0])  # warm-up
    t0 = time.perf_counter()
    for case in cases:
        engine.assess(case)
    in_process = len(cases) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for case in cases:  # same cases again: specimen and therapy memos hit (repetitive cohort data)
        engine.assess(case)
    repeat = len(cases) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(200_000):
        sum(range(100))
    calibration = 200_000 / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    for case in cases:
        engine.assess_json(case)
    with_json = len(cases) / (time.perf_counter() - t0)

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        for case in cases:
            fh.write(json.dumps(case) + "\n")
        path = fh.name
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "her2cds.adapters.cli", "assess", "--batch", path],
                          stdout=subprocess.PIPE, check=False)
    batch = len(cases) / (time.perf_counter() - t0)
    os.unlink(path)
    lines = proc.stdout.count(b"\n")
    print(f"cases: {len(cases)} (mix of {len(FAMILIES)} tumor types, 1-3 specimens)")
    print(f"machine calibration: {calibration:,.0f} sum(range(100)) calls/s (compare runs by this)")
    print(f"in-process her2cds assess (Assessment objects): {in_process:,.0f} cases/s (first pass, cold memos)")
    print(f"in-process, same cases again (warm memos):      {repeat:,.0f} cases/s")
    print(f"in-process assess + model_dump(json):          {with_json:,.0f} cases/s")
    print(f"her2cds assess --batch (JSON Lines, 1 process): {batch:,.0f} cases/s "
          f"(exit {proc.returncode}, {lines} output lines)")
    print(f"ratio in-process / batch: {in_process / batch:.1f}x")


if __name__ == "__main__":
    main()
