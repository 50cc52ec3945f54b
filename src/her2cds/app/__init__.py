"""The clinician's web app (server-rendered pages under ``/app``) and the ``/v1/cases`` REST API.

Mounted into the service's application factory by :func:`mount`; the case store is opened on first use.
"""

from __future__ import annotations

from fastapi import FastAPI

from her2cds.adapters.api.settings import Settings
from her2cds.app.context import AppContext


def mount(app: FastAPI, settings: Settings, *, loopback: bool) -> None:
    """Attach the web app's state and its pages (``/app``) to ``app`` (``/v1/cases`` is mounted by the
    factory under /v1 with the other REST routers)."""
    from her2cds.app.pages import create_pages

    ctx = AppContext(settings=settings, loopback=loopback)
    app.state.her2cds_app = ctx
    pages = create_pages()
    pages.state.her2cds_app = ctx
    app.mount("/app", pages)


__all__ = ["mount"]
