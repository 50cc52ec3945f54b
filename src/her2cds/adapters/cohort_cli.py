"""``her2cds cohort run``: registered by adapters/cli.py; errors are mapped to exit codes there."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from her2cds.errors import UsageError

EXIT_OK, EXIT_SOME_ERRORS = 0, 1
FORMATS = ("table", "cbioportal", "oncokb", "naaccr", "tcga-biotab")


EXAMPLES = """examples:
  her2cds cohort run tests/fixtures/cohort/table/extract.csv --format table \\
      --mapping tests/fixtures/cohort/table/extract.yaml --out answers.csv --report report.html
  her2cds cohort run path/to/study_folder --format cbioportal --out answers.parquet
  her2cds cohort run registry.xml --format naaccr --out answers.parquet --engine spark"""


def register(sub: Any) -> None:
    from her2cds.adapters.cli_help import EXIT_CODES, HelpFormatter

    epilog = f"{EXAMPLES}\n\n{EXIT_CODES}"
    text = "cohort mode: tables, registries and studies in, one slim row per patient out"
    c = sub.add_parser("cohort", help=text, description=text, epilog=epilog, formatter_class=HelpFormatter)
    csub = c.add_subparsers(dest="cohort_command", required=True, parser_class=type(c))
    text = "assess every patient of the inputs (docs/cohort.md)"
    r = csub.add_parser("run", help=text, description=text, epilog=epilog, formatter_class=HelpFormatter)
    r.add_argument("inputs", nargs="+", metavar="INPUT", help="input files or folders")
    r.add_argument("--format", dest="cohort_format", required=True, choices=FORMATS, help="input format")
    r.add_argument("--mapping", metavar="FILE.yaml", help="column mapping (required for --format table)")
    r.add_argument("--out", required=True, metavar="OUT", help="slim output: .parquet, .csv, .tsv or .jsonl")
    r.add_argument("--report", metavar="REPORT.html", help="also write an HTML report")
    r.add_argument("--engine", choices=("local", "spark"), default="local", help="local (polars) or spark")
    r.add_argument("--criteria", choices=("current", "asco-cap-2007", "asco-cap-2013", "by-date"),
                   default="current",
                   help="also re-read each patient under superseded criteria, or under the guideline in effect on "
                        "each specimen's collected_on (column criteria_status)")
    r.add_argument("--include-unverified", action="store_true",
                   help="let --criteria use knowledge-base entries marked unverified (e.g. ASCO/CAP 2013)")
    r.add_argument("--spark-master", default="local[2]", help="Spark master URL for --engine spark (default local[2])")
    r.add_argument("--chunk-rows", type=int, default=250_000, help="rows read per chunk (bounds memory)")
    r.add_argument("--processes", type=int, metavar="N",
                   help="processes for the engine calls of new decision keys (default: the cores available)")
    r.add_argument("--summary", metavar="FILE.json", help="write the run summary as JSON")
    r.add_argument("--full", metavar="FILE.jsonl",
                   help="also write every patient's whole assessment as JSON Lines (per-case engine speed)")
    r.set_defaults(func=cmd_cohort)


def cmd_cohort(args: argparse.Namespace) -> int:
    try:
        from her2cds.cohort import run as cohort_run
        from her2cds.cohort.criteria import UNVERIFIED
        from her2cds.cohort.mapping import load_mapping
    except ImportError as exc:  # the cohort extra is not installed
        raise UsageError(f'cohort mode needs the cohort extra: pip install "her2cds[cohort]" ({exc.name})') from None
    if args.chunk_rows < 1:
        raise UsageError(f"--chunk-rows must be at least 1: {args.chunk_rows}")
    if args.processes is not None and args.processes < 1:
        raise UsageError(f"--processes must be at least 1: {args.processes}")
    criteria = args.criteria + (UNVERIFIED if args.include_unverified else "")
    options = cohort_run.Options(
        inputs=args.inputs, fmt=args.cohort_format, out=Path(args.out),
        mapping=load_mapping(args.mapping) if args.mapping else None,
        report=Path(args.report) if args.report else None, engine=args.engine, chunk_rows=args.chunk_rows,
        progress=sys.stderr, spark_master=args.spark_master, criteria=criteria,
        full=Path(args.full) if args.full else None, processes=args.processes,
    )
    stats = cohort_run.run(options)
    summary = stats.as_dict()
    if args.summary:
        try:
            Path(args.summary).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.summary}: {exc.strerror or exc}") from None
    sys.stderr.write(
        f"her2cds cohort: {summary['rows']} rows -> {summary['patients']} patients in {args.out}; "
        f"{summary['vectorized_rows']} rows vectorized ({summary['specimen_keys']} specimen keys, "
        f"{summary['decision_keys']} decision keys), "
        f"{summary['engine_rows']} by the per-case engine, {summary['errors']} error rows "
        f"({summary['read_errors']} unreadable)\n"
    )
    for reason, count in summary["engine_reasons"].items():
        sys.stderr.write(f"  per-case engine: {count} rows: {reason}\n")
    for example in summary["error_examples"][:5]:
        sys.stderr.write(f"  error: {example}\n")
    return EXIT_SOME_ERRORS if summary["errors"] else EXIT_OK
