"""The web app's pages (a sub-application mounted at ``/app``): case list, entry form, paste-in, result,
printable report and PDF, sign-in. Server-rendered; the small script only adds live previews."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import FormData

from her2cds import __version__
from her2cds.app import auth, forms, views
from her2cds.app.context import AppContext, context
from her2cds.errors import Her2CdsError, InvalidInputError, NotFoundError
from her2cds.store.repository import StoredCase
from her2cds.store.service import currency, save_case

STATIC = Path(__file__).parent / "static"
#: The pages' own policy: nothing inline, nothing from elsewhere (the service may add stricter headers).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
SORTS = {"-updated": "last change, newest first", "updated": "last change, oldest first", "label": "label A-Z",
         "-label": "label Z-A"}
STATUSES = ("positive", "negative", "equivocal", "indeterminate")


def _kb() -> Any:
    from her2cds.knowledge.loader import default_knowledge_base

    return default_knowledge_base()


def environment(ctx: AppContext) -> Environment:
    def make() -> Environment:
        env = Environment(loader=PackageLoader("her2cds.app", "templates"), autoescape=select_autoescape(),
                          trim_blocks=True, lstrip_blocks=True)
        env.globals["label_of"] = forms.label_of
        env.globals["CHOICES"] = forms.CHOICES
        return env

    found: Environment = ctx.cached("jinja", make)
    return found


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    ctx = context(request)
    kb = _kb()
    page = environment(ctx).get_template(template).render(
        request=request,
        account=getattr(request.state, "account", None),
        login_required=ctx.login_required,
        csrf=auth.csrf_token(request),
        versions={"engine": __version__, "knowledge_base": kb.version, "as_of": kb.meta.as_of.isoformat()},
        disclaimer=kb.meta.disclaimer,
        **values,
    )
    response = HTMLResponse(page, status_code=status)
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    auth.set_cookies(request, response)
    return response


async def _form(request: Request) -> dict[str, str]:
    data: FormData = await request.form()
    values = {key: str(value) for key, value in data.items() if isinstance(value, str)}
    auth.check_csrf(request, values.get("csrf"))
    return values


def _tumor_options(ctx: AppContext) -> list[tuple[str, str]]:
    def make() -> list[tuple[str, str]]:
        kb = _kb()
        return sorted(((t.code, t.name) for t in kb.tumor_types.values()), key=lambda item: item[1].lower())

    found: list[tuple[str, str]] = ctx.cached(("tumors", _kb().version), make)
    return found


def _family(code: str) -> Any:
    kb = _kb()
    if not code or code not in kb.tumor_types:
        return None
    return kb.family_for(code)


def _form_context(ctx: AppContext, state: forms.FormState) -> dict[str, Any]:
    """What the entry form needs to adapt to the tumor type (from the knowledge base, not hard-coded)."""
    kb = _kb()
    code = state.value("tumor-oncotree_code").strip().upper()
    family = _family(code)
    system = None
    if family is not None:
        system = kb.systems.get(getattr(family, "scoring_system", "") or "")
    quantities = {t.quantity for t in system.thresholds} if system is not None else set()
    return {
        "state": state,
        "tumors": _tumor_options(ctx),
        "family": family,
        "system": system,
        "cluster_procedures": list(getattr(system, "cluster_procedures", []) or []),
        "percent_amplified": "percent_cells_amplified" in quantities,
        "regimens_supported": forms.regimens_supported(),
        "optional_fields": forms.case_fields(),
    }


def _first(values: Mapping[str, str], *names: str) -> str | None:
    return next((n for n in names if n in values), None)


def create_pages() -> FastAPI:
    pages = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    pages.mount("/static", StaticFiles(directory=STATIC), name="static")

    @pages.exception_handler(auth.LoginRequiredError)
    async def _login(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/app/login?next={target}", status_code=303)

    @pages.exception_handler(auth.ForbiddenError)
    async def _forbidden(request: Request, exc: Exception) -> Response:
        return render(request, "message.html", 403, title="Not allowed",
                      message="Your role can view cases but not change them. Ask an administrator.")

    @pages.exception_handler(auth.CsrfFailedError)
    async def _csrf(request: Request, exc: Exception) -> Response:
        return render(request, "message.html", 403, title="Form expired",
                      message="This form is out of date or was not sent by this app. Go back, reload and try again.")

    @pages.exception_handler(NotFoundError)
    async def _missing(request: Request, exc: Exception) -> Response:
        return render(request, "message.html", 404, title="Not found", message=str(exc))

    @pages.exception_handler(Her2CdsError)
    async def _error(request: Request, exc: Exception) -> Response:
        return render(request, "message.html", 400, title="Could not do that", message=str(exc))

    @pages.get("/")
    def home() -> Response:
        return RedirectResponse("/app/cases", status_code=303)

    # --- sign-in -------------------------------------------------------------------------------------------
    @pages.get("/login")
    def login_page(request: Request, next: str = "/app/cases") -> Response:
        return render(request, "login.html", next=_safe_next(next), error="")

    @pages.post("/login")
    async def login(request: Request) -> Response:
        values = await _form(request)
        ctx = context(request)
        account = ctx.users().authenticate(values.get("username", ""), values.get("password", ""))
        target = _safe_next(values.get("next", "/app/cases"))
        if account is None:
            return render(request, "login.html", 401, next=target, username=values.get("username", ""),
                          error="The user name or password is not right, or the account is disabled.")
        response = RedirectResponse(target, status_code=303)
        auth.start_session(request, response, account)
        ctx.store().audit(account.username, "login", kb_version=_kb().version)
        return response

    @pages.post("/logout")
    async def logout(request: Request) -> Response:
        await _form(request)
        account = auth.current_account(request)
        response = RedirectResponse("/app/login", status_code=303)
        auth.end_session(request, response)
        if account is not None:
            context(request).store().audit(account.username, "logout", kb_version=_kb().version)
        return response

    # --- case list -----------------------------------------------------------------------------------------
    @pages.get("/cases")
    def case_list(
        request: Request, q: str = "", family: str = "", status: str = "", sort: str = "-updated"
    ) -> Response:
        auth.require_account(request)
        store = context(request).store()
        sort_key = sort if sort in SORTS else "-updated"
        rows = store.cases(search=q or None, family=family or None, status=status or None, sort=sort_key)  # type: ignore[arg-type]
        families = {f.id: f.name for f in _kb().families}
        return render(request, "cases.html", rows=rows, q=q, family=family, status_filter=status, sort=sort_key,
                      sorts=SORTS, statuses=STATUSES, families=families, used_families=store.families())

    # --- entry ---------------------------------------------------------------------------------------------
    @pages.get("/cases/new")
    def new_case(request: Request, tumor: str = "") -> Response:
        auth.require_editor(request)
        state = forms.FormState(values={"tumor-oncotree_code": tumor.upper(), "specimen_count": "1"})
        return render(request, "case_form.html", **_form_context(context(request), state), case=None)

    @pages.post("/cases/new")
    async def create(request: Request) -> Response:
        account = auth.require_editor(request)
        values = await _form(request)
        return _submit(request, account.username, values, None)

    @pages.get("/cases/{case_id}/edit")
    def edit_case(request: Request, case_id: str) -> Response:
        auth.require_editor(request)
        case = context(request).store().get(case_id)
        state = forms.from_document(case.latest.document)
        state.values["expected_revision"] = str(case.latest.number)
        state.label = case.summary.label
        return render(request, "case_form.html", **_form_context(context(request), state), case=case)

    @pages.post("/cases/{case_id}/edit")
    async def update(request: Request, case_id: str) -> Response:
        account = auth.require_editor(request)
        values = await _form(request)
        case = context(request).store().get(case_id)
        return _submit(request, account.username, values, case)

    def _submit(request: Request, actor: str, values: dict[str, str], case: StoredCase | None) -> Response:
        ctx = context(request)
        count = forms.specimen_count(values)
        action = values.get("action", "save")
        if action == "add_specimen":
            values["specimen_count"] = str(min(count + 1, forms.MAX_SPECIMENS))
        if action == "add_regimen":
            values["regimen_count"] = str(min(forms.regimen_count(values) + 1, forms.MAX_REGIMENS))
        state = forms.FormState(values=values, specimens=forms.specimen_count(values),
                                regimens=max(1, forms.regimen_count(values)), label=values.get("label", ""))
        if action != "save":
            return render(request, "case_form.html", **_form_context(ctx, state), case=case)
        document, errors = forms.parse(values)
        if not errors:
            try:
                expected = int(values["expected_revision"]) if values.get("expected_revision") else None
                cid, _, _ = save_case(
                    ctx.store(), document, actor=actor, case_id=case.id if case else None,
                    expected_revision=expected, label=values.get("label") or None, note=values.get("note") or None,
                )
                return RedirectResponse(f"/app/cases/{cid}", status_code=303)
            except InvalidInputError as exc:
                errors = forms.place_errors(exc.problems, values)
        state.errors = errors
        return render(request, "case_form.html", 422, **_form_context(ctx, state), case=case)

    @pages.post("/preview")
    async def preview(request: Request) -> Response:
        """Live checks while typing: errors in place, and each specimen's ratio, ISH group and status."""
        auth.require_account(request)
        values = await _form(request)
        document, errors = forms.parse(values)
        specimens: list[dict[str, Any]] = []
        status = None
        if not errors:
            from her2cds.store.service import default_assess

            try:
                result = default_assess(document)
                status = views.headline(result)["words"]
                for index, spec in enumerate(result.get("specimens") or []):
                    ish = spec.get("ish") or {}
                    specimens.append({"index": index, "status": spec.get("status"), "ratio": ish.get("ratio"),
                                      "group": ish.get("group"), "ish_status": ish.get("status"),
                                      "ihc_score": spec.get("ihc_score")})
            except InvalidInputError as exc:
                errors = forms.place_errors(exc.problems, values)
        return JSONResponse({"errors": errors, "specimens": specimens, "headline": status})

    # --- paste-in ------------------------------------------------------------------------------------------
    @pages.get("/paste")
    def paste_page(request: Request) -> Response:
        auth.require_editor(request)
        return render(request, "paste.html", text="", error="")

    @pages.post("/paste")
    async def paste(request: Request) -> Response:
        auth.require_editor(request)
        values = await _form(request)
        text = values.get("document", "")
        try:
            document = _pasted(text)
        except InvalidInputError as exc:
            words = "; ".join(forms.clinician_words(p) if p.field else p.message for p in exc.problems)
            return render(request, "paste.html", 422, text=text, error=words)
        state = forms.from_document(document)
        ctx = context(request)
        return render(request, "case_form.html", **_form_context(ctx, state), case=None,
                      notice="Pasted: check the fields below, then save.")

    # --- result, report, PDF -------------------------------------------------------------------------------
    @pages.get("/cases/{case_id}")
    def result(request: Request, case_id: str, rev: int | None = None) -> Response:
        account = auth.require_account(request)
        page = _result_context(request, case_id, rev, account.username, "view")
        return render(request, "result.html", **page)

    @pages.get("/cases/{case_id}/report")
    def report(request: Request, case_id: str, rev: int | None = None) -> Response:
        account = auth.require_account(request)
        page = _result_context(request, case_id, rev, account.username, "view_report", detail="html")
        return render(request, "report.html", **page, printable=True)

    @pages.get("/cases/{case_id}/report.pdf")
    def report_pdf(request: Request, case_id: str, rev: int | None = None) -> Response:
        account = auth.require_account(request)
        page = _result_context(request, case_id, rev, account.username, "view_report", detail="pdf")
        from her2cds.app.report import pdf_bytes

        html = render(request, "report.html", **page, printable=True, pdf=True).body
        pdf = pdf_bytes(bytes(html).decode("utf-8"))
        name = f"her2cds-{case_id}-r{page['revision'].number}.pdf"
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}"'})

    def _result_context(request: Request, case_id: str, rev: int | None, actor: str, action: str,
                        detail: str | None = None) -> dict[str, Any]:
        ctx = context(request)
        store = ctx.store()
        kb = _kb()
        case = store.get(case_id)
        revision = case.revision(rev) if rev else case.latest
        changed = currency(store, case, revision, actor=actor)
        if changed is not None:
            case = store.get(case_id)
            revision = case.revision(revision.number)
        stored = revision.latest_assessment
        if stored is None:
            raise NotFoundError(f"case {case_id} revision {revision.number} has no assessment")
        assessment = stored.result
        store.audit(actor, action, kb_version=kb.version, case_id=case.id, revision=revision.number, detail=detail)
        code = str((revision.document.get("tumor") or {}).get("oncotree_code") or "")
        previous = case.revision(revision.number - 1) if revision.number > 1 else None
        prev_assessment = previous.latest_assessment if previous else None
        return {
            "case": case,
            "revision": revision,
            "stored": stored,
            "a": assessment,
            "head": views.headline(assessment),
            "timeline": views.timeline(assessment),
            "ish": views.ish_plot(ctx, kb, assessment, code),
            "therapies": views.therapy_groups(assessment),
            "trace": views.trace_rows(kb, assessment),
            "currency": changed,
            "since_previous": (
                views_changes(prev_assessment.result, assessment) if prev_assessment is not None else None
            ),
            "now": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }

    return pages


def views_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> Any:
    from her2cds.store.service import what_changed

    return what_changed(before, after)


def _pasted(text: str) -> dict[str, Any]:
    """A case document from pasted JSON: a case, or a FHIR R4 Bundle converted to one."""
    if not text.strip():
        raise InvalidInputError.single("document", "paste a case (JSON) or a FHIR Bundle first", has_value=False)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError.single(
            "", f"this is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", has_value=False
        ) from None
    if not isinstance(data, dict):
        raise InvalidInputError.single("", "paste one JSON object (a case or a FHIR Bundle)", has_value=False)
    if data.get("resourceType") == "Bundle":
        from her2cds.adapters.fhir.inbound import bundle_to_case

        return dict(bundle_to_case(data).case)
    if "tumor" not in data:
        raise InvalidInputError.single("tumor", "a case needs a tumor (with its OncoTree code)", has_value=False)
    return data


def _safe_next(target: str) -> str:
    """Only local /app paths (no open redirect)."""
    if target.startswith("/app/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/app/cases"
