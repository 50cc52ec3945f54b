"""Per-application state of the web app and /v1/cases: the case store (opened on first use), users, demo."""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request

from her2cds.adapters.api.settings import Settings
from her2cds.store import CaseStore, open_store
from her2cds.store.users import Account, Users

LOCAL_USER = "local"
DEMO_USER = "demo"


@dataclass
class AppContext:
    settings: Settings
    loopback: bool
    _store: CaseStore | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def login_required(self) -> bool:
        if self.settings.login_required is not None:
            return self.settings.login_required
        return not self.loopback

    @property
    def auto_user(self) -> str | None:
        """The user requests act as without signing in (loopback only), or None when sign-in is required."""
        if self.login_required:
            return None
        return DEMO_USER if self.settings.demo else LOCAL_USER

    def store(self) -> CaseStore:
        with self._lock:
            if self._store is None:
                url = self.settings.database_url
                if url is None and self.settings.demo:
                    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='her2cds-demo-')) / 'demo.db'}"
                store = open_store(url)
                if self.settings.demo:
                    from her2cds.app.demo import seed

                    seed(store)
                self._store = store
            return self._store

    def close(self) -> None:
        """Close the store's connections (tests; the server process ends with them)."""
        with self._lock:
            if self._store is not None:
                self._store.engine.dispose()
                self._store = None

    def users(self) -> Users:
        return Users(self.store())

    def auto_account(self) -> Account | None:
        name = self.auto_user
        if name is None:
            return None
        return self.users().ensure(name, "clinician")

    def cached(self, key: Any, make: Any) -> Any:
        """A value computed once per application (e.g. ISH plot zones per scoring system and KB version)."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.her2cds_app
    return ctx
