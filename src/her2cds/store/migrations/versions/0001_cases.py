"""Cases, revisions, assessments and the audit trail; revisions and audit events are append-only.

Revision ID: 0001_cases
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_cases"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("revisions", "audit_events")


def _append_only(table: str) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION her2cds_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION '% are append-only', TG_TABLE_NAME; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION her2cds_append_only()"
        )


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("oncotree_code", sa.String(40), nullable=False),
        sa.Column("tumor_family", sa.String(80), nullable=True),
        sa.Column("status", sa.String(40), nullable=True),
        sa.Column("latest_revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
    )
    op.create_index("ix_cases_updated_at", "cases", ["updated_at"])
    op.create_index("ix_cases_label", "cases", ["label"])
    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_revisions_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_revisions"),
        sa.UniqueConstraint("case_id", "number", name="uq_revisions_case_id_number"),
    )
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("engine_version", sa.String(40), nullable=False),
        sa.Column("kb_version", sa.String(40), nullable=False),
        sa.Column("kb_as_of", sa.String(20), nullable=False),
        sa.Column("status", sa.String(40), nullable=True),
        sa.Column("category", sa.String(40), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["revision_id"], ["revisions.id"], name="fk_assessments_revision_id_revisions"),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
    )
    op.create_index("ix_assessments_revision_id", "assessments", ["revision_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("case_id", sa.String(32), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("kb_version", sa.String(40), nullable=False),
        sa.Column("detail", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_case_id", "audit_events", ["case_id"])
    for table in APPEND_ONLY:
        _append_only(table)


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("assessments")
    op.drop_table("revisions")
    op.drop_table("cases")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS her2cds_append_only()")
