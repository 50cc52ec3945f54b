"""CLI commands of the case store: ``cases``, ``users``, ``audit`` (registered by :mod:`her2cds.adapters.cli`).

Every command takes ``--db URL`` (default ``HER2CDS_DATABASE_URL``, else a SQLite file in the user's data
directory). They need the ``service`` extra (SQLAlchemy, Alembic, argon2).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from her2cds.errors import Her2CdsError, InvalidInputError, UsageError

if TYPE_CHECKING:
    from her2cds.store import CaseStore

EXIT_OK, EXIT_SOME_FAILED = 0, 1


def _store(args: argparse.Namespace) -> CaseStore:
    try:
        from her2cds.store import open_store
    except ImportError as exc:
        raise UsageError(f"the case store needs the 'service' extra (pip install 'her2cds[service]'): {exc}") from None
    return open_store(args.db)


def _actor(args: argparse.Namespace) -> str:
    if getattr(args, "actor", None):
        return str(args.actor)
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _kb_version() -> str:
    from her2cds.knowledge.loader import default_knowledge_base

    return default_knowledge_base().version


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def _summary_dict(s: Any) -> dict[str, Any]:
    return {
        "id": s.id, "label": s.label, "oncotree_code": s.oncotree_code, "tumor_family": s.tumor_family,
        "status": s.status, "latest_revision": s.latest_revision, "created_at": s.created_at.isoformat(),
        "updated_at": s.updated_at.isoformat(), "created_by": s.created_by,
    }


def case_export(case: Any) -> dict[str, Any]:
    """One case with every revision and every stored assessment (the export and REST representation)."""
    return {
        **_summary_dict(case.summary),
        "revisions": [
            {
                "number": rev.number,
                "created_at": rev.created_at.isoformat(),
                "created_by": rev.created_by,
                "note": rev.note,
                "document": rev.document,
                "assessments": [
                    {
                        "engine_version": a.engine_version, "kb_version": a.kb_version, "as_of": a.kb_as_of,
                        "status": a.status, "category": a.category, "created_at": a.created_at.isoformat(),
                        "result": a.result,
                    }
                    for a in rev.assessments
                ],
            }
            for rev in case.revisions
        ],
    }


# -- cases ---------------------------------------------------------------------------------------
def _with_store(command: Callable[[CaseStore, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Open the store for one command and close its connections afterwards."""

    def run(args: argparse.Namespace) -> int:
        store = _store(args)
        try:
            return command(store, args)
        finally:
            store.engine.dispose()

    return run


def _cases(store: CaseStore, args: argparse.Namespace) -> int:
    if args.cases_command == "list":
        rows = store.cases(search=args.search, family=args.family, status=args.status, sort=args.sort,
                          limit=args.limit)
        if args.json:
            _print_json([_summary_dict(s) for s in rows])
        else:
            for s in rows:
                print(f"{s.id}  r{s.latest_revision}  {s.updated_at:%Y-%m-%d %H:%M}  {s.status or '-':<13} "
                      f"{s.oncotree_code:<8} {s.label}")
        return EXIT_OK
    if args.cases_command == "show":
        case = store.get(args.id)
        rev = case.revision(args.revision) if args.revision else case.latest
        store.audit(_actor(args), "view", kb_version=_kb_version(), case_id=case.id, revision=rev.number,
                    detail="cli show")
        if args.json:
            _print_json(case_export(case))
            return EXIT_OK
        assessment = rev.latest_assessment
        print(f"case {case.id}  {case.summary.label}  revision {rev.number} of {case.summary.latest_revision}")
        note = f"  ({rev.note})" if rev.note else ""
        print(f"saved {rev.created_at:%Y-%m-%d %H:%M} UTC by {rev.created_by}{note}")
        if assessment is not None:
            basis = (assessment.result.get("her2") or {}).get("basis") or ""
            category = f", {assessment.category}" if assessment.category else ""
            print(f"HER2 {assessment.status or 'unknown'}{category}")
            if basis:
                print(basis)
            print(f"assessed by engine {assessment.engine_version}, knowledge base {assessment.kb_version} "
                  f"(as of {assessment.kb_as_of})")
        return EXIT_OK
    if args.cases_command == "export":
        ids = args.ids or [s.id for s in store.cases(limit=1_000_000, sort="label")]
        out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
        try:
            kb = _kb_version()
            for cid in ids:
                case = store.get(cid)
                out.write(json.dumps(case_export(case), ensure_ascii=False, sort_keys=True) + "\n")
                store.audit(_actor(args), "export", kb_version=kb, case_id=cid, revision=case.latest.number)
        finally:
            if out is not sys.stdout:
                out.close()
        return EXIT_OK
    return _import(store, args)


def _import_lines(path: str) -> Iterable[str]:
    if path == "-":
        yield from sys.stdin
        return
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n{" not in stripped.strip():
        yield text.replace("\n", " ")  # one pretty-printed JSON case
        return
    yield from text.splitlines()


def _import(store: CaseStore, args: argparse.Namespace) -> int:
    from her2cds.store.service import save_case

    actor = _actor(args)
    failed = 0
    result: dict[str, Any]
    for number, line in enumerate(_import_lines(args.file), start=1):
        if not line.strip():
            continue
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError.single("", f"line is not valid JSON: {exc.msg}", has_value=False) from None
            if not isinstance(record, dict):
                raise InvalidInputError.single("", "each line must be a JSON object", type(record).__name__)
            if "revisions" in record:  # an exported case: replay its revisions in order
                revisions = record["revisions"]
                if not isinstance(revisions, list) or not revisions:
                    raise InvalidInputError.single("revisions", "an exported case needs at least one revision",
                                                   revisions)
                cid: str | None = None
                for rev in revisions:
                    note = f"imported: {record.get('id')} revision {rev.get('number')}"
                    cid, rev_no, _ = save_case(store, rev.get("document") or {}, actor=actor, case_id=cid,
                                               label=record.get("label"), note=note)
                result = {"line": number, "ok": True, "id": cid, "revisions": len(revisions)}
            else:
                cid, rev_no, _ = save_case(store, record, actor=actor, note="imported")
                result = {"line": number, "ok": True, "id": cid, "revisions": rev_no}
            store.audit(actor, "import", kb_version=_kb_version(), case_id=cid, detail=f"line {number}")
        except Her2CdsError as exc:
            failed += 1
            field = exc.field if isinstance(exc, InvalidInputError) else ""
            result = {"line": number, "ok": False,
                      "error": {"code": exc.code, "message": str(exc), "field": field}}
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    return EXIT_SOME_FAILED if failed else EXIT_OK


# -- users ---------------------------------------------------------------------------------------
def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise UsageError("give the password on standard input with --password-stdin (no terminal to prompt on)")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the passwords differ")
    return first


def _users(store: CaseStore, args: argparse.Namespace) -> int:
    from her2cds.store.users import Users

    users = Users(store)
    kb = _kb_version()
    if args.users_command == "add":
        account = users.add(args.username, _password(args), args.role)
        store.audit(_actor(args), "user_add", kb_version=kb, detail=f"{account.username} ({account.role})")
        print(f"added {account.username} ({account.role})")
    elif args.users_command == "disable":
        account = users.disable(args.username)
        store.audit(_actor(args), "user_disable", kb_version=kb, detail=account.username)
        print(f"disabled {account.username}")
    else:
        accounts = users.all()
        if args.json:
            _print_json([{"username": a.username, "role": a.role, "disabled": a.disabled,
                          "created_at": a.created_at.isoformat()} for a in accounts])
        else:
            for a in accounts:
                print(f"{a.username:<24} {a.role:<10} {'disabled' if a.disabled else 'active'}")
    return EXIT_OK


# -- audit ---------------------------------------------------------------------------------------
def _since(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since: not an ISO date or date-time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _audit(store: CaseStore, args: argparse.Namespace) -> int:
    events = store.audit_events(case_id=args.case, actor=args.actor_filter, action=args.action,
                                since=_since(args.since) if args.since else None, limit=args.limit)
    if args.json:
        _print_json([e.as_dict() for e in events])
    else:
        for e in events:
            where = f"{e.case_id} r{e.revision}" if e.case_id else "-"
            print(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.actor:<20} {e.action:<12} {where:<20} KB {e.kb_version}"
                  + (f"  {e.detail}" if e.detail else ""))
    return EXIT_OK


cmd_cases = _with_store(_cases)
cmd_users = _with_store(_users)
cmd_audit = _with_store(_audit)


# -- registration --------------------------------------------------------------------------------
def _db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", help="database URL (default: HER2CDS_DATABASE_URL or a SQLite file "
                        "in the user's data directory)")


def _add(sub: Any, name: str, help_text: str, examples: list[str]) -> argparse.ArgumentParser:
    from her2cds.adapters.cli_help import EXIT_CODES, HelpFormatter

    text = "examples:\n" + "\n".join(f"  {line}" for line in examples) + f"\n\n{EXIT_CODES}"
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text, epilog=text,
                                                     formatter_class=HelpFormatter)
    return parser


def register(sub: Any) -> None:
    """Add ``cases``, ``users`` and ``audit`` to the CLI's subcommands."""
    c = _add(sub, "cases", "the case store: list, show, export, import",
             ["her2cds cases list --status positive", "her2cds cases show 3f2a9c1b7d4e",
              "her2cds cases export --out cases.jsonl", "her2cds cases import cases.jsonl --db sqlite:///other.db"])
    csub = c.add_subparsers(dest="cases_command", required=True, parser_class=type(c))
    cl = _add(csub, "list", "list stored cases (newest change first)",
             ["her2cds cases list", "her2cds cases list --search board --family family.breast --json"])
    cl.add_argument("--search", help="part of a case id or label")
    cl.add_argument("--family", help="tumor family id, e.g. family.gastroesophageal")
    cl.add_argument("--status", help="HER2 status of the latest assessment, e.g. positive")
    cl.add_argument("--sort", choices=("updated", "-updated", "label", "-label"), default="-updated")
    cl.add_argument("--limit", type=int, default=200)
    cl.add_argument("--json", action="store_true")
    cs = _add(csub, "show", "show one case (latest revision unless --revision)",
             ["her2cds cases show 3f2a9c1b7d4e", "her2cds cases show 3f2a9c1b7d4e --revision 1 --json"])
    cs.add_argument("id")
    cs.add_argument("--revision", type=int)
    cs.add_argument("--json", action="store_true", help="every revision and assessment as JSON")
    ce = _add(csub, "export", "export cases as JSON Lines (every revision and assessment)",
             ["her2cds cases export > all.jsonl", "her2cds cases export 3f2a9c1b7d4e --out one.jsonl"])
    ce.add_argument("ids", nargs="*", help="case ids (default: all)")
    ce.add_argument("--out", help="output file (default: stdout)")
    ci = _add(csub, "import", "import case documents or exported cases (JSON Lines, or one JSON case)",
             ["her2cds cases import cases.jsonl", "her2cds examples gastric-her2-positive | her2cds cases import -"])
    ci.add_argument("file", help="file, or - for stdin")
    for p in (cl, cs, ce, ci):
        _db(p)
        p.add_argument("--actor", help="name recorded in the audit trail (default cli:<login>)")
    c.set_defaults(func=cmd_cases)

    u = _add(sub, "users", "local user accounts of the web app: add, list, disable",
            ["her2cds users add dr.lee --role clinician", "her2cds users list", "her2cds users disable dr.lee"])
    usub = u.add_subparsers(dest="users_command", required=True, parser_class=type(u))
    ua = _add(usub, "add", "add a user (password prompted, or read from stdin with --password-stdin)",
             ["her2cds users add dr.lee --role clinician",
              "her2cds users add reader --role viewer --password-stdin < password.txt"])
    ua.add_argument("username")
    ua.add_argument("--role", choices=("viewer", "clinician", "admin"), default="clinician")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    ul = _add(usub, "list", "list users", ["her2cds users list", "her2cds users list --json"])
    ul.add_argument("--json", action="store_true")
    ud = _add(usub, "disable", "disable a user and end their sessions", ["her2cds users disable dr.lee"])
    ud.add_argument("username")
    for p in (ua, ul, ud):
        _db(p)
        p.add_argument("--actor", help="name recorded in the audit trail (default cli:<login>)")
    u.set_defaults(func=cmd_users)

    a = _add(sub, "audit", "query the audit trail (who did what, when, under which KB)",
            ["her2cds audit --case 3f2a9c1b7d4e", "her2cds audit --action view_report --since 2026-11-01 --json"])
    a.add_argument("--case", help="only events of this case id")
    a.add_argument("--actor", dest="actor_filter", help="only events by this user")
    a.add_argument("--action", help="only this action (create, edit, assess, view, view_report, export, ...)")
    a.add_argument("--since", help="only events at or after this ISO date / date-time (UTC if no zone)")
    a.add_argument("--limit", type=int, default=1000)
    a.add_argument("--json", action="store_true")
    _db(a)
    a.set_defaults(func=cmd_audit)


def serve_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for ``run`` from ``serve --db/--demo`` (settings from the environment, overridden)."""
    if not (args.db or args.demo):
        return {}
    from her2cds.adapters.api.settings import Settings

    overrides: dict[str, Any] = {"demo": bool(args.demo)}
    if args.db:
        overrides["database_url"] = args.db
    return {"settings": Settings(**overrides)}


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    """``serve --db URL --demo``."""
    _db(parser)
    parser.add_argument("--demo", action="store_true",
                        help="start the web app on a fresh example database with demo cases (loopback: signed in "
                        "as a demo clinician)")
