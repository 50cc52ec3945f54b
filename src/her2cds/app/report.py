"""The tumor-board report as PDF (WeasyPrint): the printable HTML page with the same SVG plots."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def pdf_bytes(html: str) -> bytes:
    """Render the report page to PDF. Its stylesheet is read from the package; nothing is fetched."""
    from weasyprint import CSS, HTML

    def no_fetch(url: str, timeout: int = 10, ssl_context: object = None) -> dict[str, object]:
        raise ValueError(f"the PDF renderer fetches nothing ({url})")

    document = HTML(string=html, base_url=str(STATIC), url_fetcher=no_fetch)
    stylesheets = [CSS(filename=str(STATIC / "app.css")), CSS(filename=str(STATIC / "print.css"))]
    result: bytes = document.write_pdf(stylesheets=stylesheets)
    return result
