"""Local user accounts (argon2id password hashes, roles) and login sessions.

A session cookie holds a random token; the database keeps only its SHA-256, so a copy of the database does not
let anyone sign in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from her2cds.errors import InvalidInputError, NotFoundError
from her2cds.store.models import SessionRecord, User
from her2cds.store.repository import CaseStore, utcnow

Role = Literal["viewer", "clinician", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "clinician", "admin")
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,80}$")
MIN_PASSWORD = 10
SESSION_HOURS = 12


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: Role
    disabled: bool
    created_at: dt.datetime

    def can_edit(self) -> bool:
        return self.role in ("clinician", "admin")


def _account(row: User) -> Account:
    role: Role = "viewer"
    for known in ROLES:
        if row.role == known:
            role = known
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
    return Account(id=row.id, username=row.username, role=role, disabled=row.disabled, created_at=created)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Users:
    """User accounts and sessions in the case store's database."""

    def __init__(self, store: CaseStore, hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self.hasher = hasher or PasswordHasher()

    def add(self, username: str, password: str, role: str) -> Account:
        if not USERNAME.match(username):
            raise InvalidInputError.single(
                "username", "use 1-80 letters, digits and . _ @ - only", username
            )
        if role not in ROLES:
            raise InvalidInputError.single("role", f"must be one of {', '.join(ROLES)}", role)
        if len(password) < MIN_PASSWORD:
            raise InvalidInputError.single(
                "password", f"must have at least {MIN_PASSWORD} characters", None, has_value=False
            )
        with self.store.session() as session:
            if session.scalars(select(User).where(User.username == username)).first() is not None:
                raise InvalidInputError.single("username", "this user already exists", username)
            row = User(
                username=username, password_hash=self.hasher.hash(password), role=role, disabled=False,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return _account(row)

    def all(self) -> list[Account]:
        with self.store.session() as session:
            return [_account(row) for row in session.scalars(select(User).order_by(User.username))]

    def get(self, username: str) -> Account | None:
        with self.store.session() as session:
            row = session.scalars(select(User).where(User.username == username)).first()
            return _account(row) if row else None

    def disable(self, username: str) -> Account:
        with self.store.session() as session:
            row = session.scalars(select(User).where(User.username == username)).first()
            if row is None:
                raise NotFoundError(f"no user {username!r}")
            row.disabled = True
            session.execute(delete(SessionRecord).where(SessionRecord.user_id == row.id))
            return _account(row)

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account if the password matches and the account is enabled; else None (same time either way)."""
        with self.store.session() as session:
            row = session.scalars(select(User).where(User.username == username)).first()
            stored = row.password_hash if row is not None else self.hasher.hash("not-a-real-password")
            try:
                self.hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return None
            if row is None or row.disabled:
                return None
            if self.hasher.check_needs_rehash(row.password_hash):
                row.password_hash = self.hasher.hash(password)
            return _account(row)

    def start_session(self, account: Account) -> str:
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.store.session() as session:
            session.add(
                SessionRecord(
                    token_hash=_token_hash(token), user_id=account.id, created_at=now,
                    expires_at=now + dt.timedelta(hours=SESSION_HOURS),
                )
            )
        return token

    def session_account(self, token: str) -> Account | None:
        with self.store.session() as session:
            found = session.get(SessionRecord, _token_hash(token))
            if found is None:
                return None
            expires = found.expires_at if found.expires_at.tzinfo else found.expires_at.replace(tzinfo=dt.UTC)
            if expires <= utcnow():
                session.delete(found)
                return None
            row = session.get(User, found.user_id)
            if row is None or row.disabled:
                return None
            return _account(row)

    def end_session(self, token: str) -> None:
        with self.store.session() as session:
            session.execute(delete(SessionRecord).where(SessionRecord.token_hash == _token_hash(token)))

    def ensure(self, username: str, role: str) -> Account:
        """The account ``username``, created with a random unusable password if missing (loopback / demo)."""
        found = self.get(username)
        return found if found is not None else self.add(username, secrets.token_urlsafe(24), role)
