"""The web app's pages in-process on both databases: sign-in, CSRF, roles, entry form with errors in place,
result, revisions, report and PDF, paste-in, knowledge currency, loopback and SSO-proxy sign-in."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from her2cds import examples
from her2cds.adapters.api import Settings, create_app
from her2cds.knowledge.loader import default_knowledge_base
from her2cds.store import CaseStore
from her2cds.store.users import Users
from tests.app.browser import PageClient

PASSWORD = "a long test password"


@pytest.fixture
def site(db_url: str) -> Iterator[PageClient]:
    app = create_app(Settings(database_url=db_url))
    client = PageClient(app)
    store: CaseStore = app.state.her2cds_app.store()
    Users(store).add("dr.lee", PASSWORD, "clinician")
    Users(store).add("watcher", PASSWORD, "viewer")
    yield client
    app.state.her2cds_app.close()


def _store(client: PageClient) -> CaseStore:
    store: CaseStore = client.app.state.her2cds_app.store()
    return store


def gastric_form(csrf: str) -> dict[str, str]:
    return {
        "csrf": csrf, "action": "save", "label": "Board 2026-11", "specimen_count": "2",
        "tumor-oncotree_code": "stad", "tumor-setting": "metastatic",
        "specimens-0-id": "B1", "specimens-0-procedure": "biopsy", "specimens-0-site": "primary",
        "specimens-0-collected_on": "2026-03-02", "specimens-0-ihc-score": "2+",
        "specimens-0-ish-probe": "dual", "specimens-0-ish-her2_per_cell": "6.2",
        "specimens-0-ish-cep17_per_cell": "2.1", "specimens-0-ish-cells_counted": "20",
        "specimens-1-id": "M1", "specimens-1-procedure": "biopsy", "specimens-1-site": "metastasis",
        "specimens-1-site_detail": "liver", "specimens-1-collected_on": "2026-03-20",
        "specimens-1-ihc-cluster_cells-strong_complete": "3",
        "specimens-1-ihc-cluster_cells-weak_moderate_complete": "3",
        "specimens-1-ihc-cluster_cells-faint_incomplete": "12",
        "biomarkers-pd_l1_cps": "5", "history-prior_lines": "0",
    }


def _error_of(html: str, name: str) -> str:
    match = re.search(rf'<p class="error[^"]*" id="{re.escape(name)}-error"[^>]*>([^<]*)</p>', html)
    assert match, f"no error slot for {name}"
    return match.group(1)


def test_sign_in_is_required_off_loopback_and_audited(site: PageClient) -> None:
    response = site.get("/app/cases")
    assert response.status_code == 303 and response.headers["location"] == "/app/login?next=/app/cases"
    wrong = site.login("dr.lee", "not the password")
    assert wrong.status_code == 401 and "not right" in wrong.text
    ok = site.login("dr.lee", PASSWORD)
    assert ok.status_code == 303 and ok.headers["location"] == "/app/cases"
    page = site.get("/app/cases")
    assert page.status_code == 200 and "dr.lee" in page.text
    assert [e.action for e in _store(site).audit_events(actor="dr.lee")] == ["login"]
    logout = site.post("/app/logout", data={"csrf": site.csrf("/app/cases")})
    assert logout.status_code == 303
    assert site.get("/app/cases").status_code == 303
    assert [e.action for e in _store(site).audit_events(actor="dr.lee")] == ["login", "logout"]


def test_forms_without_the_csrf_token_are_refused(site: PageClient) -> None:
    site.login("dr.lee", PASSWORD)
    form = gastric_form("forged")
    response = site.post("/app/cases/new", data=form)
    assert response.status_code == 403 and "Form expired" in response.text
    del form["csrf"]
    assert site.post("/app/cases/new", data=form).status_code == 403
    assert _store(site).count() == 0


def test_viewer_can_read_but_not_change(site: PageClient) -> None:
    site.login("dr.lee", PASSWORD)
    saved = site.post("/app/cases/new", data=gastric_form(site.csrf("/app/cases/new")))
    case_url = saved.headers["location"]
    viewer = PageClient(site.app)
    viewer.login("watcher", PASSWORD)
    assert viewer.get(case_url).status_code == 200
    assert "Edit (new revision)" not in viewer.get(case_url).text
    assert viewer.get("/app/cases/new").status_code == 403
    assert viewer.get(f"{case_url}/edit").status_code == 403


def test_form_errors_are_shown_next_to_their_field_in_plain_words(site: PageClient) -> None:
    site.login("dr.lee", PASSWORD)
    form = gastric_form(site.csrf("/app/cases/new"))
    form["specimens-0-ish-her2_per_cell"] = "six"
    form["specimens-1-collected_on"] = "20/03/2026"
    response = site.post("/app/cases/new", data=form)
    assert response.status_code == 422
    html = response.text
    assert "enter a number" in _error_of(html, "specimens-0-ish-her2_per_cell")
    assert "“six”" in _error_of(html, "specimens-0-ish-her2_per_cell")
    assert "YYYY-MM-DD" in _error_of(html, "specimens-1-collected_on")
    assert _error_of(html, "specimens-0-ish-cep17_per_cell") == ""
    assert 'value="six"' in html  # what was typed is kept
    assert "Traceback" not in html and _store(site).count() == 0

    form = gastric_form(site.csrf("/app/cases/new"))
    form["specimens-0-ish-cells_counted"] = "0"
    html = site.post("/app/cases/new", data=form).text
    assert "1 or more" in _error_of(html, "specimens-0-ish-cells_counted")
    assert "cells_counted" not in _error_of(html, "specimens-0-ish-cells_counted")
    form = gastric_form(site.csrf("/app/cases/new"))
    form["tumor-oncotree_code"] = "NOTATUMOR"
    html = site.post("/app/cases/new", data=form).text
    assert "Unknown tumor type code: pick one from the list" in _error_of(html, "tumor-oncotree_code")
    assert "NOTATUMOR" in _error_of(html, "tumor-oncotree_code")
    assert _store(site).count() == 0


def test_gastric_case_result_revision_report_and_pdf(site: PageClient, tmp_path: Path) -> None:
    site.login("dr.lee", PASSWORD)
    saved = site.post("/app/cases/new", data=gastric_form(site.csrf("/app/cases/new")))
    assert saved.status_code == 303, saved.text
    url = saved.headers["location"]
    html = site.get(url).text
    assert "HER2-positive" in html and "POSITIVE" in html
    assert html.count("<svg") == 2  # timeline + ISH plot
    assert 'data-specimen="B1"' in html and 'data-specimen="M1"' in html
    assert "ratio 2" in html  # the guideline's ratio cut-off drawn on the ISH plot
    assert "Fits (eligible)" in html and "trastuzumab" in html
    assert 'href="https://' in html  # rule sources are links
    kb = default_knowledge_base()
    assert f"knowledge base <strong>{kb.version}</strong>" in html
    assert "Decision support, not a decision" in html
    assert "Changed since" not in html

    case_id = url.rsplit("/", 1)[1]
    edit = site.get(f"{url}/edit").text
    assert 'name="specimens-0-ish-her2_per_cell" value="6.2"' in edit.replace("\n", " ").replace("  ", " ") or (
        'value="6.2"' in edit
    )
    form = gastric_form(re.search(r'name="csrf" value="([^"]+)"', edit).group(1))  # type: ignore[union-attr]
    form.update({"specimen_count": "3", "expected_revision": "1", "note": "new biopsy after progression",
                 "specimens-0-ish-her2_per_cell": "", "specimens-0-ish-cep17_per_cell": "",
                 "specimens-0-ish-cells_counted": "", "specimens-0-ihc-score": "1+",
                 "specimens-2-id": "B2", "specimens-2-procedure": "biopsy", "specimens-2-site": "primary",
                 "specimens-2-collected_on": "2026-09-01", "specimens-2-ihc-score": "0"})
    revised = site.post(f"{url}/edit", data=form)
    assert revised.status_code == 303 and revised.headers["location"] == url
    html = site.get(url).text
    assert "Changed since revision 1" in html and "HER2 status" in html
    assert "r1</a>" in html and 'aria-current="page">r2' in html
    assert "HER2-negative" in html
    assert "HER2-positive" in site.get(f"{url}?rev=1").text
    case = _store(site).get(case_id)
    assert [r.number for r in case.revisions] == [1, 2]
    assert case.revision(2).note == "new biopsy after progression"

    stale = site.post(f"{url}/edit", data=form)  # expected_revision 1 again
    assert stale.status_code == 400 and "revision 2, not 1" in stale.text

    report = site.get(f"{url}/report")
    assert report.status_code == 200 and "tumor board report" in report.text and "<svg" in report.text
    pdf = site.get(f"{url}/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    target = tmp_path / "report.pdf"
    target.write_bytes(pdf.content)
    assert shutil.which("pdftotext"), "poppler-utils (pdftotext) is in .ci/apt-packages.txt"
    text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True, check=True).stdout
    assert f"Knowledge base {kb.version}, as of {kb.meta.as_of.isoformat()}" in text
    assert "HER2-negative" in text
    actions = [e.action for e in _store(site).audit_events(case_id=case_id)]
    assert actions[0] == "create" and "edit" in actions and actions.count("view_report") == 2
    assert {e.detail for e in _store(site).audit_events(case_id=case_id, action="view_report")} == {"html", "pdf"}


def test_paste_a_case_or_a_fhir_bundle(site: PageClient) -> None:
    import json

    from her2cds.adapters.api.examples import FHIR_BUNDLE

    site.login("dr.lee", PASSWORD)
    csrf = site.csrf("/app/paste")
    bad = site.post("/app/paste", data={"csrf": csrf, "document": "{\"tumor\": "})
    assert bad.status_code == 422 and "not valid JSON" in bad.text and "document-error" in bad.text
    case = examples.load(examples.DEFAULT)
    filled = site.post("/app/paste", data={"csrf": csrf, "document": json.dumps(case)})
    assert filled.status_code == 200 and "check the fields below" in filled.text
    assert 'value="STAD"' in filled.text and 'value="B1"' in filled.text and 'value="M1"' in filled.text
    fhir = site.post("/app/paste", data={"csrf": csrf, "document": json.dumps(FHIR_BUNDLE)})
    assert fhir.status_code == 200 and 'value="STAD"' in fhir.text
    assert _store(site).count() == 0  # nothing is saved before the clinician checks and saves


def test_preview_gives_ratio_group_and_errors_while_typing(site: PageClient) -> None:
    site.login("dr.lee", PASSWORD)
    form = gastric_form(site.csrf("/app/cases/new"))
    data = site.post("/app/preview", data=form).json()
    assert data["errors"] == {}
    assert data["specimens"][0]["ratio"] == pytest.approx(6.2 / 2.1, abs=0.01)
    assert data["specimens"][0]["ish_status"] == "positive" and data["headline"] == "HER2-positive"
    form["specimens-1-ngs-erbb2_variants"] = "p.S310F"
    form["specimens-0-ish-her2_per_cell"] = "-1"
    data = site.post("/app/preview", data=form).json()
    assert "0 or more" in data["errors"]["specimens-0-ish-her2_per_cell"]


def test_case_list_search_filter_sort(site: PageClient) -> None:
    site.login("dr.lee", PASSWORD)
    store = _store(site)
    from her2cds.store.service import save_case

    gastric, _, _ = save_case(store, examples.load(examples.DEFAULT), actor="t", label="Zeta gastric")
    breast, _, _ = save_case(store, examples.load("breast-her2-low"), actor="t", label="alpha breast")
    page = site.get("/app/cases").text
    assert page.index("alpha breast") < page.index("Zeta gastric")  # newest change first
    page = site.get("/app/cases", params={"sort": "-label"}).text
    assert page.index("Zeta gastric") < page.index("alpha breast")
    page = site.get("/app/cases", params={"q": "zeta"}).text
    assert "Zeta gastric" in page and "alpha breast" not in page
    page = site.get("/app/cases", params={"family": "family.breast"}).text
    assert "alpha breast" in page and "Zeta gastric" not in page
    page = site.get("/app/cases", params={"status": "positive"}).text
    assert gastric in page and breast not in page


def test_a_newer_knowledge_base_reassesses_and_says_what_changed(site: PageClient) -> None:
    site.login("dr.lee", PASSWORD)
    store = _store(site)
    old = {"her2": {"status": "negative"}, "tumor": {"family": "family.gastroesophageal"},
           "versions": {"engine": "0.0.1", "knowledge_base": "2024.1.0", "as_of": "2024-01-01"},
           "therapies": []}
    case_id, _ = store.save(examples.load(examples.DEFAULT), old, actor="t")
    html = site.get(f"/app/cases/{case_id}").text
    kb = default_knowledge_base()
    assert f"Re-assessed under knowledge base {kb.version}: what changed" in html
    assert re.search(r"<td>HER2 status</td><td>negative</td><td>positive</td>", html)
    assert "Re-assessed" not in site.get(f"/app/cases/{case_id}").text  # stored now
    assert len(store.get(case_id).latest.assessments) == 2


def test_loopback_acts_as_local_clinician_and_sso_header_signs_in(db_url: str) -> None:
    app = create_app(Settings(database_url=db_url), loopback=True)
    try:
        page = PageClient(app).get("/app/cases")
        assert page.status_code == 200 and "local" in page.text and "Sign out" not in page.text
    finally:
        app.state.her2cds_app.close()
    app = create_app(Settings(database_url=db_url, remote_user_header="X-Remote-User"))
    try:
        Users(app.state.her2cds_app.store()).add("sso.user", PASSWORD, "viewer")
        assert PageClient(app).get("/app/cases").status_code == 303
        signed = PageClient(app, headers={"X-Remote-User": "sso.user"}).get("/app/cases")
        assert signed.status_code == 200 and "sso.user" in signed.text
        assert PageClient(app, headers={"X-Remote-User": "stranger"}).get("/app/cases").status_code == 303
    finally:
        app.state.her2cds_app.close()


def test_open_redirects_are_refused(site: PageClient) -> None:
    token = site.csrf("/app/login")
    response = site.post("/app/login", data={"csrf": token, "username": "dr.lee", "password": PASSWORD,
                                             "next": "https://evil.example/"})
    assert response.headers["location"] == "/app/cases"


def test_headline_names_what_is_needed_to_decide(site: PageClient) -> None:
    site.login("dr.lee", PASSWORD)
    from her2cds.store.service import save_case

    case = {"tumor": {"oncotree_code": "BRCA"}, "specimens": [{"id": "B7", "procedure": "biopsy",
                                                                 "ihc": {"score": "2+"}}]}
    case_id, _, result = save_case(_store(site), case, actor="t")
    html = site.get(f"/app/cases/{case_id}").text
    assert result["her2"]["needs"], "the engine names what is missing"
    assert "Needed to decide" in html and "(specimen B7)" in html
    assert "reflex ISH" in html


def test_pages_carry_a_strict_content_security_policy(site: PageClient) -> None:
    response = site.get("/app/login")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert "<script>" not in html and " style=" not in html and "onclick" not in html
