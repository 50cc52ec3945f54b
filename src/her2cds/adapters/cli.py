"""Command-line interface. The only place (with the HTTP layer) that turns errors into exit codes.

Exit codes (also under every ``--help``, from ``cli_help.EXIT_CODES``): 0 success; 1 batch finished but some
lines were invalid (or ``kb validate`` found the knowledge base invalid); 2 invalid input or usage; 3
knowledge-base error; 4 internal error. Help texts and completion are in ``cli_help``, output shapes in
``cli_output``, ``kb show`` in ``cli_kb``, the batch progress bar in ``progress``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NoReturn

from her2cds._version import __version__
from her2cds.adapters import cli_store
from her2cds.adapters.batch_jobs import jobs_option
from her2cds.adapters.cohort_cli import register as register_cohort
from her2cds.errors import (
    Her2CdsError,
    InvalidInputError,
    KnowledgeBaseError,
    MalformedInputError,
    UsageError,
)

EXIT_OK, EXIT_BATCH_ERRORS, EXIT_INVALID, EXIT_KB, EXIT_INTERNAL = 0, 1, 2, 3, 4


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors: exit 2 with one line, like invalid input
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise MalformedInputError.single("", f"{path} is not UTF-8 text ({exc.reason})", has_value=False) from None


def _dump(obj: Any, out: IO[str]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, indent=2))
    out.write("\n")


# -- commands ------------------------------------------------------------------------------------
def _therapy_text() -> Any:
    try:
        from her2cds.therapy import render_therapies_text
    except ImportError:  # therapy matching not installed in this build
        return None
    return render_therapies_text


def _check_assess_options(args: argparse.Namespace) -> None:
    """Every option either applies or is a usage error that says why (never silently ignored)."""
    shaped = "--summary" if args.summary else "--fields" if args.fields is not None else None
    if args.jobs != 1 and not args.batch:
        raise UsageError("--jobs applies to --batch (many cases); one case runs in one process")
    if args.batch:
        if args.example is not None or args.fhir:
            raise UsageError("--batch reads JSON Lines (one case per line); it cannot be combined with --example "
                             "or --fhir")
        if args.format == "text":
            raise UsageError("--format text is for one case; --batch writes one JSON line per case "
                             "(use --summary for short lines)")
        if args.output != "json":
            raise UsageError("--output fhir is for one case (one Bundle); --batch writes one JSON line per case")
    if shaped and args.format == "text":
        raise UsageError(f"{shaped} shapes JSON output; it cannot be combined with --format text")
    if shaped and args.output != "json":
        raise UsageError(f"{shaped} shapes JSON output; it cannot be combined with --output fhir")
    if args.no_trace and args.output != "json":
        raise UsageError("--no-trace applies to JSON and text output; a FHIR Bundle carries no rule trace")
    if args.no_trace and args.summary:
        raise UsageError("--summary has no trace; --no-trace is not needed")
    if args.expand and (args.summary or args.format == "text" or args.output != "json"):
        raise UsageError("--expand shows therapy options in full in JSON output; it cannot be combined with "
                         "--summary, --format text or --output fhir")


@contextmanager
def _start_up() -> Iterator[None]:
    """No garbage collection while the engine starts: importing the models and loading the knowledge base
    create only long-lived objects (``default_engine()`` then freezes them, D14.2), and the collections the
    allocations would trigger are about a tenth of the start-up time of ``assess`` (D14.4)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def cmd_assess(args: argparse.Namespace) -> int:
    _check_assess_options(args)
    with _start_up():
        from her2cds import examples
        from her2cds.adapters.cli_output import OutputShape
        from her2cds.engine import default_engine

        shape = OutputShape(summary=args.summary, fields=args.fields, trace=not args.no_trace, expand=args.expand)
        engine: Any = default_engine()
    if args.batch:
        from her2cds.adapters.batch_jobs import batch_assessor, jobs_wanted
        from her2cds.adapters.progress import progress_for

        path = args.file or "-"
        return _batch(batch_assessor(engine, args.criteria, args.region), path, sys.stdout, shape=shape,
                      progress=progress_for(sys.stderr, path), jobs=jobs_wanted(args.jobs),
                      spec=(args.criteria, args.region))
    if args.criteria is not None:
        from her2cds.adapters.cli_criteria import CriteriaEngine

        engine = CriteriaEngine(engine, args.criteria)
    if args.example is not None:
        if args.file:
            raise UsageError("give either FILE or --example, not both")
        data: Any = examples.load(args.example or examples.DEFAULT)
    elif args.file is None:
        raise UsageError("give a case FILE (or - for stdin), or --example [NAME]")
    else:
        from her2cds.reading import parse_document

        data = parse_document(_read_text(args.file), "<stdin>" if args.file == "-" else args.file)
    if isinstance(data, list):
        raise UsageError(f"the input is a JSON array of {len(data)} item(s), not one case: to assess many cases use "
                         "--batch with JSON Lines (one case per line), e.g. jq -c '.[]' FILE | her2cds assess "
                         "--batch -")
    source_observations: dict[str, list[str]] = {}
    specimen_refs: dict[str, str] = {}
    patient_ref: str | None = None
    warnings: list[Any] = []
    if args.fhir:
        from her2cds.adapters.fhir.inbound import bundle_to_case

        conversion = bundle_to_case(data)
        patient_ref = conversion.patient_ref or _patient_ref(data)
        data, warnings = conversion.case, list(conversion.warnings)
        source_observations, specimen_refs = conversion.source_observations, conversion.specimen_refs
    if args.region:
        from her2cds.adapters.region import with_region

        data = with_region(data, args.region)
    assessment = engine.assess(data)
    if warnings:
        assessment = assessment.model_copy(update={"warnings": [*assessment.warnings, *warnings]})
    if args.output in ("fhir", "fhir-transaction"):
        from her2cds.adapters.fhir.outbound import assessment_to_bundle

        _dump(assessment_to_bundle(assessment, source_observations=source_observations, specimen_refs=specimen_refs,
                                   patient_ref=patient_ref,
                                   bundle_type="transaction" if args.output == "fhir-transaction" else "collection"),
              sys.stdout)
    elif args.format == "text":
        import shutil

        from her2cds.render.terminal import escape_controls
        from her2cds.render.text import render_text

        width = max(shutil.get_terminal_size((100, 24)).columns, 60)
        sys.stdout.write(escape_controls(render_text(assessment, _therapy_text(), trace=not args.no_trace,
                                                     width=width)))
    else:
        sys.stdout.write(shape.text(assessment))
    return EXIT_OK


def _patient_ref(bundle: Any) -> str | None:
    """``Patient/<id>`` of the first Patient in a FHIR Bundle, if any."""
    if not isinstance(bundle, dict):
        return None
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient" and resource.get("id"):
            return f"Patient/{resource['id']}"
    return None


def _lines(path: str) -> Iterator[bytes | str]:
    """The raw lines of ``path`` (``-``: stdin), as bytes when the stream has them: each line is decoded on
    its own, so one undecodable line cannot stop the batch."""
    if path == "-":
        stream: Any = getattr(sys.stdin, "buffer", sys.stdin)
        yield from stream
        return
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below; a generator cannot use `with` around a raise
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        yield from fh


def _line_error(number: int, field: str, message: str, case_id: str | None = None) -> str:
    record: dict[str, Any] = {"line": number}
    if case_id is not None:  # the case's own id, when the line had one (issue 8)
        record["id"] = case_id
    record["error"] = {"field": field, "message": message}
    return json.dumps(record, ensure_ascii=False)


def _case_id(data: Any) -> str | None:
    value = data.get("id") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value)[:128]


def batch_line_result(engine: Any, number: int, line: bytes | str, shape: Any = None) -> tuple[str, bool]:
    """One JSON Lines record -> (one output line of JSON, ok); ``shape`` (an OutputShape) picks what is written.
    Never raises for a bad record: whatever the line holds, it gets exactly one answer."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _line_error(number, "", f"line is not UTF-8 text (byte {exc.start} of the line)"), False
    if not line.strip():
        return _line_error(number, "", "empty line: expected one JSON case"), False
    from her2cds.reading import parse_json

    case_id: str | None = None
    try:
        data = parse_json(line, f"line {number}")
        case_id = _case_id(data)
        if shape is None or shape.default:  # the default document, written directly from the engine's data
            return engine.assess_json(data), True
        return shape.line(engine.assess(data)), True
    except InvalidInputError as exc:
        first = exc.problems[0]
        return _line_error(number, first.field, first.describe(), case_id), False
    except Her2CdsError as exc:
        return _line_error(number, "", f"{exc.code}: {exc}", case_id), False
    except Exception as exc:  # a bug: reported on this line; the batch goes on
        return _line_error(number, "", f"internal error ({type(exc).__name__})", case_id), False


def _batch(engine: Any, path: str, out: IO[str], *, shape: Any = None, progress: Any = None, jobs: int = 1,
           spec: tuple[str | None, str | None] = (None, None)) -> int:
    """Every input line gets exactly one output line, in input order, written whole (one write, then a flush;
    a SIGINT or SIGTERM during a write waits for the end of the line: :mod:`~her2cds.adapters.line_out`), so a
    consumer or a kill never sees half a record. ``progress`` (a terminal only) counts lines, nothing of their
    content. ``jobs`` > 1: answered by that many worker processes (``batch_jobs``), each building the assessor
    from ``spec`` (criteria, region) as ``engine`` was built."""
    from her2cds.adapters.line_out import LineOut

    failures = 0
    numbered = ((number, line.rstrip(b"\r\n") if isinstance(line, bytes) else line.rstrip("\r\n"))
                for number, line in enumerate(_lines(path), start=1))
    try:
        with LineOut(out, progress).stopping_between_lines() as answers:
            if jobs > 1:
                from her2cds.adapters.batch_jobs import parallel_batch

                failures = parallel_batch(numbered, answers, assessor=engine, criteria=spec[0], region=spec[1],
                                          shape=shape, jobs=jobs)
            for number, line in numbered:  # (nothing left after the workers)
                failures += not answers.write(*batch_line_result(engine, number, line, shape))
    finally:
        if progress is not None:
            progress.close()
    return EXIT_BATCH_ERRORS if failures else EXIT_OK


def _all_entries(kb: Any, code_map: Any) -> list[dict[str, Any]]:
    return [*kb.entries(), *code_map.entries()]


def cmd_kb(args: argparse.Namespace) -> int:
    from her2cds.adapters.fhir.codes import default_code_map, load_code_map
    from her2cds.knowledge.loader import default_knowledge_base, load_knowledge_base

    if args.kb_command == "validate":
        root = Path(args.path) if args.path else None
        try:
            kb = load_knowledge_base(root)
            code_map = load_code_map(root)
            if kb.therapy is not None:  # compiling the criteria checks their values (D11.1)
                from her2cds.therapy.knowledge import compile_therapy

                compile_therapy(kb.therapy)
        except KnowledgeBaseError as exc:
            sys.stderr.write(f"her2cds: knowledge base is NOT valid: {exc}\n")
            return EXIT_BATCH_ERRORS
        entries = _all_entries(kb, code_map)
        ids = [e["id"] for e in entries]
        if len(ids) != len(set(ids)):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            sys.stderr.write(f"her2cds: knowledge base is NOT valid: duplicate entry ids {dupes[:10]}\n")
            return EXIT_BATCH_ERRORS
        unverified = sum(1 for e in entries if e.get("status") == "unverified")
        print(f"knowledge base {kb.version} (as of {kb.meta.as_of}) is valid: {len(entries)} entries, "
              f"{unverified} unverified")
        return EXIT_OK
    kb = default_knowledge_base()
    every = _all_entries(kb, default_code_map())
    from her2cds.adapters import cli_kb

    if args.kb_command == "list":
        cli_kb.check_kind(every, args.kind)
        entries = [e for e in every if args.kind is None or e["kind"] == args.kind]
        if args.json:
            _dump(entries, sys.stdout)
        else:
            for e in entries:
                print(f"{e['id']}\t{e['kind']}\t{e['status']}")
        return EXIT_OK
    _dump(cli_kb.show(kb, every, args.id), sys.stdout)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from her2cds.model.assessment import Assessment, ExpandedAssessment
    from her2cds.model.case import Case

    output = ExpandedAssessment if args.expand else Assessment
    schemas = {"input": Case.model_json_schema(), "output": output.model_json_schema(mode="serialization")}
    _dump(schemas[args.which] if args.which else schemas, sys.stdout)
    return EXIT_OK


def cmd_examples(args: argparse.Namespace) -> int:
    from her2cds import examples

    if args.name:
        _dump(examples.load(args.name), sys.stdout)
    else:
        names = examples.names()
        width = max(len(n) for n in names)
        print("\n".join(f"{n:<{width}}  {examples.describe(n)}".rstrip() for n in names))
    return EXIT_OK


def cmd_completion(args: argparse.Namespace) -> int:
    from her2cds.adapters.cli_help import completion_script

    sys.stdout.write(completion_script(args.shell, build_parser()))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from her2cds.adapters.api import run
    except ImportError as exc:
        raise UsageError("the service needs the 'service' extra; from the checkout: "
                         f"pip install -c constraints.txt -e '.[service]' ({exc})") from None
    run(host=args.host, port=args.port, insecure=args.insecure, **cli_store.serve_options(args))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from her2cds.adapters.cli_help import HelpFormatter, epilog

    def add(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text,
                                                         epilog=epilog(name), formatter_class=HelpFormatter)
        return parser

    parser = _Parser(prog="her2cds", description="HER2 testing and HER2-targeted therapy decision support.",
                     epilog=epilog("her2cds"), formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version",
                        version=f"her2cds {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = add(sub, "assess", "assess a case (JSON or YAML), or a batch of JSON Lines")
    p.add_argument("file", nargs="?", help="case file, or - for stdin (with --batch: JSON Lines; default stdin)")
    p.add_argument("--example", nargs="?", const="", metavar="NAME",
                   help="assess an embedded example case (default gastric-her2-positive; see: her2cds examples)")
    p.add_argument("--format", choices=("json", "text"), default="json", help="output format")
    p.add_argument("--no-trace", action="store_true", help="omit the rule trace (JSON and text output)")
    p.add_argument("--batch", action="store_true",
                   help="read JSON Lines; write one JSON line per input line, in order (a progress bar on stderr "
                        "when it is a terminal)")
    p.add_argument("--jobs", type=jobs_option, default=1, metavar="N",
                   help="with --batch: answer lines in N worker processes (0: one per core; default 1), output "
                        "still in input order")
    p.add_argument("--summary", action="store_true",
                   help="a short summary per case: status, category, scores, flags, recommendation codes, eligible "
                        "therapy ids, needs, versions (with --batch at most 300 bytes a line)")
    p.add_argument("--fields", metavar="F1,F2",
                   help="only these output fields, dotted for nested ones (e.g. id,her2.status,specimens.status); "
                        "versions is always kept")
    p.add_argument("--fhir", action="store_true", help="the input is a FHIR R4 Bundle")
    p.add_argument("--output", choices=("json", "fhir", "fhir-transaction"), default="json",
                   help="json, a FHIR Bundle (collection, with a DiagnosticReport), or a FHIR transaction Bundle to "
                        "POST to a FHIR server")
    p.add_argument("--criteria", choices=("current", "asco-cap-2007", "asco-cap-2013", "by-date"),
                   help="also re-read breast results under superseded ASCO/CAP criteria, or by each specimen's "
                        "date (output block criteria; sets the case's criteria field)")
    p.add_argument("--expand", action="store_true",
                   help="JSON: therapy options in full (regulatory status, evidence, sources inline)")
    p.add_argument("--region", choices=("us", "eu"),
                   help="whose regulatory status therapies show: us (FDA, the default) or eu (European Commission "
                        "decisions); a case's own region field wins")
    p.set_defaults(func=cmd_assess)

    k = add(sub, "kb", "inspect and validate the knowledge base")
    ksub = k.add_subparsers(dest="kb_command", required=True, parser_class=_Parser)
    kv = add(ksub, "validate", "validate the knowledge base (exit 0 valid, 1 invalid)")
    kv.add_argument("--path", help="a knowledge-base directory (default: the packaged one)")
    kl = add(ksub, "list", "list all entries (id, kind, status)")
    kl.add_argument("--json", action="store_true", help="a JSON array of every entry")
    kl.add_argument("--kind", help="only entries of this kind (e.g. rule, threshold, indication; an unknown kind "
                                   "is an error listing the kinds)")
    ks = add(ksub, "show", "show one entry (thresholds with their values), or how an OncoTree code is scored")
    ks.add_argument("id", help="an entry id (see: her2cds kb list) or an OncoTree code such as IDC")
    k.set_defaults(func=cmd_kb)

    s = add(sub, "schema", "print the JSON Schema of input and output")
    s.add_argument("which", nargs="?", choices=("input", "output"), help="one of them (default: both)")
    s.add_argument("--expand", action="store_true", help="the output schema with therapy options in full")
    s.set_defaults(func=cmd_schema)

    e = add(sub, "examples", "list the embedded example cases with a description, or print one")
    e.add_argument("name", nargs="?", help="print this example case as JSON")
    e.set_defaults(func=cmd_examples)

    v = add(sub, "serve", "start the HTTP service (REST, CDS Hooks, FHIR)")
    v.add_argument("--host", default="127.0.0.1", help="address to listen on")
    v.add_argument("--port", type=int, default=8080, help="port to listen on")
    v.add_argument("--insecure", action="store_true",
                   help="allow serving beyond loopback without HER2CDS_API_TOKEN and CDS client JWTs")
    v.set_defaults(func=cmd_serve)
    cli_store.add_serve_options(v)
    cli_store.register(sub)

    c = add(sub, "completion", "print a shell completion script")
    c.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell")
    c.set_defaults(func=cmd_completion)
    register_cohort(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except InvalidInputError as exc:
        sys.stderr.write(f"her2cds: invalid input: {exc}\n")
        return EXIT_INVALID
    except UsageError as exc:
        sys.stderr.write(f"her2cds: {exc}\n")
        return EXIT_INVALID
    except KnowledgeBaseError as exc:
        sys.stderr.write(f"her2cds: knowledge base error: {exc}\n")
        return EXIT_KB
    except Her2CdsError as exc:
        sys.stderr.write(f"her2cds: internal error: {exc}\n")
        return EXIT_INTERNAL
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt as exc:  # Ctrl-C; a batch stopped by SIGINT/SIGTERM after a whole line
        signum = getattr(exc, "signum", None)
        if isinstance(signum, int):
            return 128 + signum
        return 130
    except Exception as exc:  # a bug: report it in one line, never a traceback
        sys.stderr.write(f"her2cds: internal error ({type(exc).__name__}): {exc}\n")
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
