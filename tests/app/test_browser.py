"""The full clinician flow in a real browser (Playwright driving Debian's Chromium by executable path) against a
real ``her2cds serve`` process: sign in, enter a gastric case with two specimens (errors shown in place), see
the result and plots, save, edit with a new biopsy, see the revision and the changed result, print the PDF
(first page rendered with pdftoppm and checked not blank), sign out. Accessibility basics and two layouts.

Screenshots of every page go to ``test-artifacts/screenshots`` (or ``$HER2CDS_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "browser test password"


def artifacts() -> Path:
    target = Path(os.environ.get("HER2CDS_TEST_ARTIFACTS", REPO / "test-artifacts")) / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cli(*args: str, stdin: str | None = None, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "her2cds.adapters.cli", *args], input=stdin, text=True, check=True,
                   env=env, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server on loopback with sign-in required, a clinician account, and an empty SQLite store."""
    db = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'cases.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HER2CDS_")}
    env["HER2CDS_LOGIN_REQUIRED"] = "true"
    _cli("users", "add", "dr.lee", "--role", "clinician", "--password-stdin", "--db", db, stdin=PASSWORD + "\n",
         env=env)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "her2cds.adapters.cli", "serve", "--port", str(port), "--db", db],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError(f"the server did not start: {proc.communicate()[1][-2000:]}")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium package is in .ci/apt-packages.txt"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def _shot(page: object, name: str) -> None:
    page.screenshot(path=str(artifacts() / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def _not_blank(png: Path) -> float:
    """Share of pixels that are not (near) white."""
    from PIL import Image

    with Image.open(png) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
    return sum(histogram[:200]) / max(1, sum(histogram))


def _unlabelled_controls(page: object) -> list[str]:
    script = """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button'))
        .filter(el => !el.closest('[aria-hidden=true]'))
        .filter(el => el.tagName === 'BUTTON' ? !(el.textContent.trim() || el.getAttribute('aria-label'))
                                             : !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map(el => el.name || el.id || el.outerHTML.slice(0, 80))"""
    found: list[str] = page.evaluate(script)  # type: ignore[attr-defined]
    return found


def test_full_clinician_flow(server: str, browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    # sign in
    page.goto(f"{server}/app/cases")
    expect(page).to_have_url(f"{server}/app/login?next=/app/cases")
    _shot(page, "01-login")
    assert _unlabelled_controls(page) == []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"  # keyboard: skip link first
    page.fill("#username", "dr.lee")
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("not right")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    expect(page).to_have_url(f"{server}/app/cases")
    expect(page.locator("h1")).to_have_text("Cases")
    _shot(page, "02-case-list-empty")

    # enter a gastric case with two specimens
    page.click("text=New case")
    page.fill("#tumor-oncotree_code", "STAD")
    page.locator("#tumor-oncotree_code").dispatch_event("change")  # the form adapts to the tumor type
    expect(page.locator("#scoring-system")).to_contain_text("Gastroesophageal adenocarcinoma")
    page.fill("#label", "Tumor board: gastric")
    page.select_option("#tumor-setting", "metastatic")
    page.fill("#specimens-0-id", "B1")
    page.select_option("#specimens-0-procedure", "biopsy")
    expect(page.locator("#specimens-0-ihc-cluster_cells-strong_complete")).to_be_visible()
    expect(page.locator("#specimens-0-ihc-percent-strong_complete")).to_be_hidden()
    page.select_option("#specimens-0-site", "primary")
    page.fill("#specimens-0-collected_on", "2026-03-02")
    page.select_option("#specimens-0-ihc-score", "2+")
    page.fill("#specimens-0-ish-her2_per_cell", "six")  # a typo: shown in place while typing
    expect(page.locator("#specimens-0-ish-her2_per_cell-error")).to_contain_text("enter a number")
    page.fill("#specimens-0-ish-her2_per_cell", "6.2")
    page.fill("#specimens-0-ish-cep17_per_cell", "2.1")
    page.fill("#specimens-0-ish-cells_counted", "20")
    expect(page.locator("#specimens-0-ish-her2_per_cell-error")).to_have_text("")
    expect(page.locator("#specimens-0-ish-preview")).to_contain_text("Ratio 2.95")
    page.click("#add-specimen")
    page.fill("#specimens-1-id", "M1")
    page.select_option("#specimens-1-procedure", "resection")
    expect(page.locator("#specimens-1-ihc-percent-strong_complete")).to_be_visible()
    page.select_option("#specimens-1-site", "metastasis")
    page.fill("#specimens-1-site_detail", "liver")
    page.fill("#specimens-1-collected_on", "2026-03-20")
    page.fill("#specimens-1-ihc-percent-strong_complete", "5")
    page.fill("#specimens-1-ihc-percent-faint_incomplete", "150")
    expect(page.locator("#specimens-1-ihc-percent-faint_incomplete-error")).to_contain_text("100 or less")
    page.fill("#specimens-1-ihc-percent-faint_incomplete", "10")
    page.fill("#biomarkers-pd_l1_cps", "5")
    expect(page.locator("#live-result")).to_contain_text("Preview: HER2-positive")
    assert _unlabelled_controls(page) == []
    _shot(page, "03-case-entry")
    page.click("#save")

    # the result
    expect(page.locator("#headline")).to_contain_text("HER2-positive")
    assert page.locator("svg.plot").count() == 2
    expect(page.locator("svg.plot").first.locator("g.specimen")).to_have_count(2)
    expect(page.locator("svg.plot").nth(1).locator("g.ish-point")).to_have_count(1)
    expect(page.locator("#therapy-h")).to_be_visible()
    expect(page.locator("footer .disclaimer")).to_contain_text("Decision support")
    _shot(page, "04-result")
    result_url = page.url
    assert "/app/cases/" in result_url

    # edit with a new biopsy: a new revision with a changed result
    page.click("#edit")
    expect(page.locator("h1")).to_contain_text("saving makes revision 2")
    page.fill("#specimens-0-ish-her2_per_cell", "")
    page.fill("#specimens-0-ish-cep17_per_cell", "")
    page.fill("#specimens-0-ish-cells_counted", "")
    page.select_option("#specimens-0-ihc-score", "1+")
    page.click("#add-specimen")
    page.fill("#specimens-2-id", "B2")
    page.select_option("#specimens-2-procedure", "biopsy")
    page.select_option("#specimens-2-site", "primary")
    page.fill("#specimens-2-collected_on", "2026-09-01")
    page.select_option("#specimens-2-ihc-score", "0")
    # treatment history: a regimen with its dates
    page.fill("#history-regimens-0-agents", "trastuzumab, capecitabine, oxaliplatin")
    page.select_option("#history-regimens-0-setting", "metastatic")
    page.fill("#history-regimens-0-line", "1")
    page.fill("#history-regimens-0-start", "2026-04-01")
    page.select_option("#history-regimens-0-progressed", "yes")
    page.fill("#history-regimens-0-progression_date", "2026-08-15")
    page.fill("#note", "new biopsy after progression")
    _shot(page, "05-edit")
    page.click("#save")
    expect(page.locator("#changes-h")).to_have_text("Changed since revision 1")
    expect(page.locator("#headline")).to_contain_text("HER2-negative")
    expect(page.locator("nav.revisions [aria-current=page]")).to_have_text("r2")
    expect(page.locator("svg.plot").first.locator("g.specimen")).to_have_count(3)
    _shot(page, "06-result-revision-2")
    page.click("#edit")  # the regimen comes back in the form
    expect(page.locator("#history-regimens-0-start")).to_have_value("2026-04-01")
    expect(page.locator("#history-regimens-0-agents")).to_have_value("trastuzumab, capecitabine, oxaliplatin")
    page.go_back()
    page.click("nav.revisions >> text=r1")
    expect(page.locator("#headline")).to_contain_text("HER2-positive")

    # tablet width: readable, no horizontal scrolling
    for width, height, name in ((1280, 800, "07-desktop"), (768, 1024, "08-tablet")):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(result_url)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (name, overflow)
        _shot(page, name)
    page.set_viewport_size({"width": 1280, "height": 800})

    # printable report and PDF
    page.click("#report")
    expect(page.locator("h1")).to_contain_text("tumor board report")
    _shot(page, "09-report")
    pdf_url = page.url.replace("/report?", "/report.pdf?")
    response = page.request.get(pdf_url)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.body())
    assert shutil.which("pdftoppm"), "poppler-utils is in .ci/apt-packages.txt"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=60)
    first = next(tmp_path.glob("page*.png"))
    shutil.copy(first, artifacts() / "10-pdf-page-1.png")
    assert _not_blank(first) > 0.01, "the PDF's first page is blank"

    # sign out
    page.goto(result_url)
    page.click("#logout")
    expect(page).to_have_url(f"{server}/app/login")
    page.goto(result_url)
    expect(page).to_have_url(f"{server}/app/login?next=" + result_url.replace(server, ""))
    assert [e for e in errors if "status of 401" not in e] == [], errors  # 401: the wrong password, on purpose
    context.close()


def test_form_errors_in_place_without_javascript(server: str, browser: object) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{server}/app/login")
    page.fill("#username", "dr.lee")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{server}/app/cases/new?tumor=STAD")
    page.fill("#specimens-0-id", "B1")
    page.select_option("#specimens-0-procedure", "biopsy")
    page.fill("#specimens-0-ish-her2_per_cell", "6,2.1")
    page.fill("#specimens-0-ish-cep17_per_cell", "2.1")
    page.click("#save")
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("#specimens-0-ish-her2_per_cell-error")).to_contain_text("enter a number")
    expect(page.locator("#specimens-0-ish-her2_per_cell")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#specimens-0-ish-her2_per_cell")).to_have_value("6,2.1")
    _shot(page, "11-form-errors-no-js")
    context.close()
