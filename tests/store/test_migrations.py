"""Migrations: from empty to head, from the previous revision to head (data kept), and the models agree."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from her2cds.store.db import alembic_config, current_revision, head_revision, make_engine, upgrade
from her2cds.store.models import Base
from her2cds.store.repository import CaseStore
from her2cds.store.users import Users

TABLES = {"cases", "revisions", "assessments", "audit_events", "users", "sessions", "alembic_version"}


def _revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_upgrade_from_empty_creates_every_table(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) == TABLES
        upgrade(engine)  # idempotent
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_models_and_migrations_agree(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_upgrade_from_previous_revision_keeps_data(db_url: str) -> None:
    revisions = _revisions()
    assert len(revisions) >= 2, revisions
    previous = revisions[-2]
    engine = make_engine(db_url)
    try:
        upgrade(engine, previous)
        assert current_revision(engine) == previous
        store = CaseStore(engine)
        result = {"her2": {"status": "positive"}, "versions": {"engine": "e", "knowledge_base": "k", "as_of": "d"}}
        cid, number = store.save({"id": "before-upgrade", "tumor": {"oncotree_code": "STAD"}}, result, actor="t")
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        case = store.get(cid)
        assert case.summary.label == "before-upgrade"
        assert case.latest.number == number == 1
        assert case.latest.latest_assessment is not None
        assert case.latest.latest_assessment.kb_version == "k"
        Users(store).add("after-upgrade", "a long enough password", "viewer")
        assert [a.username for a in Users(store).all()] == ["after-upgrade"]
    finally:
        engine.dispose()


def test_revisions_and_audit_refuse_update_and_delete(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        store = CaseStore(engine)
        result = {"her2": {}, "versions": {"knowledge_base": "k"}}
        store.save({"tumor": {"oncotree_code": "BRCA"}}, result, actor="t")
        for sql in (
            "UPDATE revisions SET document = '{}'",
            "DELETE FROM revisions",
            "UPDATE audit_events SET actor = 'someone else'",
            "DELETE FROM audit_events",
        ):
            raised = False
            try:
                with engine.begin() as connection:
                    connection.execute(text(sql))
            except Exception as exc:  # the driver's IntegrityError / RaiseException
                raised = "append-only" in str(exc)
            assert raised, sql
        with engine.connect() as connection:
            documents = connection.execute(text("SELECT document FROM revisions")).scalars().all()
            actors = connection.execute(text("SELECT actor FROM audit_events")).scalars().all()
        assert [json.loads(d) for d in documents] == [{"tumor": {"oncotree_code": "BRCA"}}]
        assert actors == ["t"]
    finally:
        engine.dispose()
