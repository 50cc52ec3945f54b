"""In-memory store of CDS Hooks feedback, one per application instance (bounded; never logged: a user
comment may mention the patient)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from dataclasses import dataclass

from her2cds.adapters.cdshooks.models import Feedback


@dataclass(frozen=True)
class StoredFeedback:
    service_id: str
    received_at: dt.datetime
    client: str | None  # the verified JWT issuer, when CDS client authentication is on
    feedback: Feedback


class FeedbackStore:
    def __init__(self, max_items: int = 10_000) -> None:
        self._items: deque[StoredFeedback] = deque(maxlen=max_items)
        self._lock = threading.Lock()

    def add(self, service_id: str, items: list[Feedback], client: str | None = None) -> int:
        now = dt.datetime.now(dt.UTC)
        with self._lock:
            for item in items:
                self._items.append(StoredFeedback(service_id, now, client, item))
        return len(items)

    def items(self, service_id: str | None = None) -> list[StoredFeedback]:
        with self._lock:
            return [item for item in self._items if service_id is None or item.service_id == service_id]

    def __len__(self) -> int:
        return len(self._items)
