"""Who is asking: session cookies, the SSO proxy header, loopback auto sign-in; CSRF tokens for every form.

* A signed-in user has a random session token in an HttpOnly, SameSite=Lax cookie (Secure over https); the
  database keeps only its hash.
* CSRF: a random token in a SameSite=Strict cookie must come back in every form's ``csrf`` field
  (double-submit, compared in constant time); POSTs without it are refused.
* Bound beyond loopback, every page needs sign-in (unless ``HER2CDS_REMOTE_USER_HEADER`` names the header an
  SSO proxy sets). On loopback the app acts as a local clinician (``--demo``: the demo clinician).
"""

from __future__ import annotations

import secrets

from fastapi import Request, Response

from her2cds.app.context import context
from her2cds.store.users import Account

SESSION_COOKIE = "her2cds_session"
CSRF_COOKIE = "her2cds_csrf"


class LoginRequiredError(Exception):
    """The page needs a signed-in user."""


class ForbiddenError(Exception):
    """The user's role does not allow this."""


class CsrfFailedError(Exception):
    """A form came back without the right CSRF token."""


def current_account(request: Request) -> Account | None:
    ctx = context(request)
    token = request.cookies.get(SESSION_COOKIE)
    users = ctx.users()
    if token:
        account = users.session_account(token)
        if account is not None:
            return account
    header = ctx.settings.remote_user_header
    if header:
        name = request.headers.get(header, "").strip()
        if name:
            found = users.get(name)
            return found if found is not None and not found.disabled else None
    return ctx.auto_account()


def require_account(request: Request) -> Account:
    account = current_account(request)
    if account is None:
        raise LoginRequiredError()
    request.state.account = account
    return account


def require_editor(request: Request) -> Account:
    account = require_account(request)
    if not account.can_edit():
        raise ForbiddenError()
    return account


def csrf_token(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.new_csrf = token
    return str(token)


def set_cookies(request: Request, response: Response) -> None:
    """Send a new CSRF cookie if this request created one."""
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_https(request),
                            path="/app")


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.cookies.get(CSRF_COOKIE)
    if not expected or not submitted or not secrets.compare_digest(expected, submitted):
        raise CsrfFailedError()


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


def start_session(request: Request, response: Response, account: Account) -> None:
    token = context(request).users().start_session(account)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_https(request), path="/",
                        max_age=12 * 3600)


def end_session(request: Request, response: Response) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        context(request).users().end_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/")
