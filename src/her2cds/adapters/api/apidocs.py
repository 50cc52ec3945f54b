"""The interactive API documentation (Swagger UI) served from this service: its script and style come from the
``swagger-ui-py`` package installed with the ``service`` extra, never from a third-party CDN, and the page has no
inline script, so the strict Content-Security-Policy (``script-src 'self'``) holds on it too."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from her2cds.adapters.api.errors import ServiceError

router = APIRouter(include_in_schema=False)

_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
_INIT = (
    'window.onload = function () {\n'
    '  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,\n'
    '    presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});\n'
    '};\n'
)
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>her2cds API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
"""


@router.get("/docs")
async def docs_page() -> HTMLResponse:
    return HTMLResponse(_PAGE)


@router.get("/docs/assets/{name}")
async def docs_asset(name: str) -> Response:
    if name == "init.js":
        return Response(_INIT, media_type="text/javascript; charset=utf-8")
    media = _ASSETS.get(name)
    if media is None:
        raise ServiceError(404, "not_found", "no such documentation asset")
    try:
        data = (resources.files("swagger_ui") / "static" / name).read_bytes()
    except (ModuleNotFoundError, OSError):
        raise ServiceError(404, "not_found", "the API documentation assets are not installed") from None
    return Response(data, media_type=media, headers={"cache-control": "public, max-age=86400"})
