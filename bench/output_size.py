"""Where the bytes of the default output are: size per case and per field, on distinct generated cases.

Run: python bench/output_size.py [--cases 2000] [--seed 7]

Prints the default document's size per case (mean, median, p90, max; compact JSON as ``--batch`` writes it), the
expanded document's (``--expand``) for comparison, the mean bytes per case of each top-level field and of each
field inside therapy options, trace entries and specimens, and the mean size by tumor family (breast cases reach
two dozen therapy options). Sizes are UTF-8 bytes of compact JSON; a field's share counts its key and value.
Asserts nothing (figures for docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cases import distinct, generate


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _spread(sizes: list[int]) -> str:
    ordered = sorted(sizes)
    n = len(ordered)
    return (f"mean {statistics.mean(ordered):7,.0f} B   median {ordered[n // 2]:7,} B   "
            f"p90 {ordered[int(n * 0.9)]:7,} B   max {ordered[-1]:7,} B")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    cases = list(generate(args.cases, args.seed))
    assert distinct(cases), "generated cases must be distinct"

    from her2cds.engine import default_engine
    from her2cds.errors import InvalidInputError

    engine = default_engine()
    compact: list[int] = []
    expanded: list[int] = []
    top: Counter[str] = Counter()
    inner: Counter[str] = Counter()
    by_family: dict[str, list[int]] = defaultdict(list)
    options = ruled_out = entries = 0
    for case in cases:
        try:
            assessment = engine.assess(case)
        except InvalidInputError:
            continue
        text = assessment.model_dump_json()
        compact.append(len(text.encode()))
        expanded.append(len(assessment.expanded().model_dump_json().encode()))
        doc = json.loads(text)
        by_family[doc["tumor"]["family"]].append(compact[-1])
        for key, value in doc.items():
            top[key] += _size({key: value}) - 2
        for part in ("therapies", "trace", "specimens"):
            for item in doc[part]:
                for key, value in item.items():
                    inner[f"{part}[].{key}"] += _size({key: value}) - 2
        options += len(doc["therapies"])
        ruled_out += len(doc.get("ruled_out", ()))  # D14.9: options not eligible, by id
        entries += len(doc["trace"])
    n = len(compact)
    print(f"{n:,} distinct generated cases (bench/cases.py, seed {args.seed}); "
          f"{(options + ruled_out) / n:.1f} therapy options ({ruled_out / n:.1f} of them in ruled_out) and "
          f"{entries / n:.1f} trace entries per case")
    print(f"default output : {_spread(compact)}")
    print(f"expanded output: {_spread(expanded)}")
    print("mean bytes per case by top-level field:")
    for key, total in top.most_common():
        print(f"  {key:34s} {total / n:7,.0f}  ({total / sum(compact):5.1%})")
    print("mean bytes per case inside therapies / trace / specimens (top 15):")
    for key, total in inner.most_common(15):
        print(f"  {key:34s} {total / n:7,.0f}  ({total / sum(compact):5.1%})")
    print("default output by tumor family (mean):")
    for family, sizes in sorted(by_family.items(), key=lambda kv: -len(kv[1])):
        print(f"  {family:34s} {statistics.mean(sizes):7,.0f} B  ({len(sizes)} cases)")


if __name__ == "__main__":
    main()
