"""Reading and writing cases, revisions, assessments and audit events.

Every write is one transaction: a new revision and its assessment are committed together or not at all, so
a crash (even ``kill -9``) never leaves a revision without its assessment or a half-written revision.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from her2cds.errors import ConflictError, NotFoundError, UsageError
from her2cds.store.models import AssessmentRecord, AuditEvent, CaseRecord, Revision

AUDIT_ACTIONS = ("create", "edit", "assess", "view", "view_report", "export", "import", "login", "logout",
                 "user_add", "user_disable", "archive")
SortKey = Literal["updated", "-updated", "label", "-label"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class StoredAssessment:
    id: int
    revision: int
    engine_version: str
    kb_version: str
    kb_as_of: str
    status: str | None
    category: str | None
    result: dict[str, Any]
    created_at: dt.datetime


@dataclass(frozen=True)
class StoredRevision:
    number: int
    document: dict[str, Any]
    note: str | None
    created_at: dt.datetime
    created_by: str
    assessments: tuple[StoredAssessment, ...]

    @property
    def latest_assessment(self) -> StoredAssessment | None:
        return self.assessments[-1] if self.assessments else None


@dataclass(frozen=True)
class CaseSummary:
    id: str
    label: str
    oncotree_code: str
    tumor_family: str | None
    status: str | None
    latest_revision: int
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by: str


@dataclass(frozen=True)
class StoredCase:
    summary: CaseSummary
    revisions: tuple[StoredRevision, ...]

    @property
    def id(self) -> str:
        return self.summary.id

    @property
    def latest(self) -> StoredRevision:
        return self.revisions[-1]

    def revision(self, number: int) -> StoredRevision:
        for rev in self.revisions:
            if rev.number == number:
                return rev
        raise NotFoundError(f"case {self.id} has no revision {number}")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    case_id: str | None
    revision: int | None
    kb_version: str
    detail: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "case_id": self.case_id,
            "revision": self.revision,
            "kb_version": self.kb_version,
            "detail": self.detail,
        }


def _summary(row: CaseRecord) -> CaseSummary:
    return CaseSummary(
        id=row.id,
        label=row.label,
        oncotree_code=row.oncotree_code,
        tumor_family=row.tumor_family,
        status=row.status,
        latest_revision=row.latest_revision,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
        created_by=row.created_by,
    )


def _assessment(row: AssessmentRecord, revision: int) -> StoredAssessment:
    return StoredAssessment(
        id=row.id,
        revision=revision,
        engine_version=row.engine_version,
        kb_version=row.kb_version,
        kb_as_of=row.kb_as_of,
        status=row.status,
        category=row.category,
        result=json.loads(row.result),
        created_at=_aware(row.created_at),
    )


def _label(document: Mapping[str, Any], label: str | None) -> str:
    if label and label.strip():
        return label.strip()[:128]
    given = document.get("id")
    return str(given)[:128] if given else "unnamed case"


class CaseStore:
    """The case store on one database (an SQLAlchemy engine whose schema is at the newest migration)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # --- writes -------------------------------------------------------------------------------------------
    def save(
        self,
        document: Mapping[str, Any],
        assessment: Mapping[str, Any],
        *,
        actor: str,
        case_id: str | None = None,
        expected_revision: int | None = None,
        label: str | None = None,
        note: str | None = None,
        family: str | None = None,
    ) -> tuple[str, int]:
        """Save ``document`` as a new case (``case_id`` None) or as the next revision of ``case_id``, with its
        assessment and an audit event, in one transaction. Returns (case id, revision number)."""
        now = utcnow()
        versions = assessment.get("versions") or {}
        her2 = assessment.get("her2") or {}
        code = str((document.get("tumor") or {}).get("oncotree_code") or "")
        try:
            with self.session() as session:
                if case_id is None:
                    case_id = uuid.uuid4().hex[:12]
                    row = CaseRecord(
                        id=case_id,
                        label=_label(document, label),
                        oncotree_code=code,
                        created_at=now,
                        created_by=actor,
                        latest_revision=0,
                        updated_at=now,
                    )
                    session.add(row)
                    action = "create"
                else:
                    found = session.get(CaseRecord, case_id, with_for_update=True)
                    if found is None or found.archived_at is not None:
                        raise NotFoundError(f"no case with id {case_id!r}")
                    row = found
                    if expected_revision is not None and expected_revision != row.latest_revision:
                        raise ConflictError(
                            f"case {case_id} is at revision {row.latest_revision}, not {expected_revision}: "
                            "reload it and apply the change again"
                        )
                    if label:
                        row.label = _label(document, label)
                    action = "edit"
                number = row.latest_revision + 1
                row.latest_revision = number
                row.oncotree_code = code
                row.tumor_family = family or (assessment.get("tumor") or {}).get("family")
                row.status = her2.get("status")
                row.updated_at = now
                revision = Revision(
                    case_id=case_id,
                    number=number,
                    document=json.dumps(document, sort_keys=True),
                    note=note,
                    created_at=now,
                    created_by=actor,
                )
                session.add(revision)
                session.flush()
                session.add(self._assessment_row(revision.id, assessment, now))
                session.add(self._event(actor, action, case_id, number, str(versions.get("knowledge_base", "")), now))
        except IntegrityError as exc:
            raise ConflictError(f"case {case_id} was changed by someone else while saving; reload it") from exc
        return case_id, number

    def add_assessment(self, case_id: str, number: int, assessment: Mapping[str, Any], *, actor: str) -> None:
        """Store a new assessment of an existing revision (e.g. under a newer knowledge base)."""
        now = utcnow()
        with self.session() as session:
            revision = session.scalars(
                select(Revision).where(Revision.case_id == case_id, Revision.number == number)
            ).one_or_none()
            if revision is None:
                raise NotFoundError(f"case {case_id!r} has no revision {number}")
            session.add(self._assessment_row(revision.id, assessment, now))
            row = session.get(CaseRecord, case_id)
            if row is not None and row.latest_revision == number:
                row.status = (assessment.get("her2") or {}).get("status")
            kb = str((assessment.get("versions") or {}).get("knowledge_base", ""))
            session.add(self._event(actor, "assess", case_id, number, kb, now))

    @staticmethod
    def _assessment_row(revision_id: int, assessment: Mapping[str, Any], now: dt.datetime) -> AssessmentRecord:
        versions = assessment.get("versions") or {}
        her2 = assessment.get("her2") or {}
        return AssessmentRecord(
            revision_id=revision_id,
            engine_version=str(versions.get("engine", "")),
            kb_version=str(versions.get("knowledge_base", "")),
            kb_as_of=str(versions.get("as_of", "")),
            status=her2.get("status"),
            category=her2.get("category"),
            result=json.dumps(assessment, sort_keys=True),
            created_at=now,
        )

    @staticmethod
    def _event(
        actor: str, action: str, case_id: str | None, revision: int | None, kb_version: str, now: dt.datetime,
        detail: str | None = None,
    ) -> AuditEvent:
        if action not in AUDIT_ACTIONS:
            raise UsageError(f"unknown audit action {action!r}")
        return AuditEvent(
            at=now, actor=actor[:80], action=action, case_id=case_id, revision=revision,
            kb_version=kb_version[:40], detail=detail[:500] if detail else None,
        )

    def audit(
        self, actor: str, action: str, *, kb_version: str, case_id: str | None = None, revision: int | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one audit event (views, exports, logins; saves are audited by :meth:`save`)."""
        with self.session() as session:
            session.add(self._event(actor, action, case_id, revision, kb_version, utcnow(), detail))

    # --- reads --------------------------------------------------------------------------------------------
    def get(self, case_id: str) -> StoredCase:
        with self.session() as session:
            row = session.get(CaseRecord, case_id)
            if row is None or row.archived_at is not None:
                raise NotFoundError(f"no case with id {case_id!r}")
            revisions = session.scalars(
                select(Revision).where(Revision.case_id == case_id).order_by(Revision.number)
            ).all()
            ids = {rev.id: rev.number for rev in revisions}
            by_revision: dict[int, list[StoredAssessment]] = {rev.id: [] for rev in revisions}
            for a in session.scalars(
                select(AssessmentRecord).where(AssessmentRecord.revision_id.in_(ids)).order_by(AssessmentRecord.id)
            ):
                by_revision[a.revision_id].append(_assessment(a, ids[a.revision_id]))
            return StoredCase(
                summary=_summary(row),
                revisions=tuple(
                    StoredRevision(
                        number=rev.number,
                        document=json.loads(rev.document),
                        note=rev.note,
                        created_at=_aware(rev.created_at),
                        created_by=rev.created_by,
                        assessments=tuple(by_revision[rev.id]),
                    )
                    for rev in revisions
                ),
            )

    def cases(
        self,
        *,
        search: str | None = None,
        family: str | None = None,
        status: str | None = None,
        sort: SortKey = "-updated",
        limit: int = 200,
        offset: int = 0,
    ) -> list[CaseSummary]:
        query: Select[CaseRecord] = select(CaseRecord).where(CaseRecord.archived_at.is_(None))
        if search:
            pattern = f"%{search.strip().lower()}%"
            query = query.where(
                or_(func.lower(CaseRecord.id).like(pattern), func.lower(CaseRecord.label).like(pattern))
            )
        if family:
            query = query.where(CaseRecord.tumor_family == family)
        if status:
            query = query.where(CaseRecord.status == status)
        order = {
            "updated": (CaseRecord.updated_at, CaseRecord.id),
            "-updated": (CaseRecord.updated_at.desc(), CaseRecord.id.desc()),
            "label": (func.lower(CaseRecord.label), CaseRecord.id),
            "-label": (func.lower(CaseRecord.label).desc(), CaseRecord.id.desc()),
        }.get(sort)
        if order is None:
            raise UsageError(f"unknown sort {sort!r}: use updated, -updated, label or -label")
        query = query.order_by(*order).limit(limit).offset(offset)
        with self.session() as session:
            return [_summary(row) for row in session.scalars(query)]

    def archive(self, case_id: str, *, actor: str, kb_version: str) -> None:
        """Hide a case from lists (its revisions, assessments and audit events stay)."""
        now = utcnow()
        with self.session() as session:
            row = session.get(CaseRecord, case_id)
            if row is None or row.archived_at is not None:
                raise NotFoundError(f"no case with id {case_id!r}")
            row.archived_at = now
            session.add(self._event(actor, "archive", case_id, row.latest_revision, kb_version, now))

    def count(self) -> int:
        with self.session() as session:
            return int(session.scalar(select(func.count()).select_from(CaseRecord)) or 0)

    def families(self) -> list[str]:
        with self.session() as session:
            rows = session.scalars(select(CaseRecord.tumor_family).distinct()).all()
        return sorted(f for f in rows if f)

    def audit_events(
        self,
        *,
        case_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: dt.datetime | None = None,
        limit: int = 1000,
    ) -> Sequence[AuditEntry]:
        query = select(AuditEvent)
        if case_id:
            query = query.where(AuditEvent.case_id == case_id)
        if actor:
            query = query.where(AuditEvent.actor == actor)
        if action:
            query = query.where(AuditEvent.action == action)
        if since:
            query = query.where(AuditEvent.at >= since)
        query = query.order_by(AuditEvent.id).limit(limit)
        with self.session() as session:
            return [
                AuditEntry(
                    id=e.id, at=_aware(e.at), actor=e.actor, action=e.action, case_id=e.case_id,
                    revision=e.revision, kb_version=e.kb_version, detail=e.detail,
                )
                for e in session.scalars(query)
            ]
