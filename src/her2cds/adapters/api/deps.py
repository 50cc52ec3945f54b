"""FastAPI dependencies. Tests replace them with ``app.dependency_overrides``."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request

from her2cds.adapters.api.errors import ServiceError
from her2cds.adapters.api.state import AppState, Assessor
from her2cds.knowledge.loader import KnowledgeBase, default_knowledge_base


def app_state(request: Request) -> AppState:
    """The application's state. A plain function, not a dependency: the hot routes call it directly, because
    every dependency FastAPI resolves costs the event loop a few microseconds per request."""
    state: AppState = request.app.state.her2cds
    return state


async def get_state(request: Request) -> AppState:
    return app_state(request)


async def get_assessor() -> Assessor:
    """The library's ``assess``: the same code path as the CLI."""
    from her2cds import assess

    return assess


async def get_knowledge_base() -> KnowledgeBase:
    return default_knowledge_base()


async def require_api_token(request: Request) -> None:
    """Bearer-token check for /v1 when ``HER2CDS_API_TOKEN`` is set (constant-time comparison)."""
    expected = app_state(request).settings.api_token
    if expected is None:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ServiceError(
            401,
            "unauthorized",
            "this endpoint needs an Authorization: Bearer <token> header",
            headers={"WWW-Authenticate": 'Bearer realm="her2cds"'},
        )
    if not secrets.compare_digest(token.strip().encode(), expected.get_secret_value().encode()):
        raise ServiceError(
            401,
            "unauthorized",
            "the bearer token is not valid",
            headers={"WWW-Authenticate": 'Bearer realm="her2cds", error="invalid_token"'},
        )


StateDep = Annotated[AppState, Depends(get_state)]
AssessorDep = Annotated[Assessor, Depends(get_assessor)]
KnowledgeBaseDep = Annotated[KnowledgeBase, Depends(get_knowledge_base)]
