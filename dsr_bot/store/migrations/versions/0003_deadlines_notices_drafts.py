"""deadlines on cases; notices, drafts and the erasure ledger

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dsr_bot.domain.deadlines import compute_deadlines
from dsr_bot.store.tables import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("promise_due", sa.Date(), nullable=True))
        batch.add_column(sa.Column("legal_due", sa.Date(), nullable=True))
        batch.add_column(sa.Column("extended_due", sa.Date(), nullable=True))
        batch.add_column(sa.Column("extension_sent_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("paused_days", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("paused_since", sa.Date(), nullable=True))
        batch.add_column(sa.Column("assignee", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("decision", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("closed_at", UtcDateTime(), nullable=True))
        batch.create_index("ix_cases_assignee", ["assignee"])
    # Existing cases get their dates with the default four-week promise and no extra holidays.
    cases = sa.table(
        "cases",
        sa.column("id", sa.Integer()),
        sa.column("received_at", UtcDateTime()),
        sa.column("promise_due", sa.Date()),
        sa.column("legal_due", sa.Date()),
        sa.column("extended_due", sa.Date()),
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(cases.c.id, cases.c.received_at)).all():
        due = compute_deadlines(row.received_at)
        bind.execute(
            cases.update()
            .where(cases.c.id == row.id)
            .values(promise_due=due.promise, legal_due=due.legal, extended_due=due.legal_extended)
        )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_notices_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_notices_key")),
    )
    op.create_index(op.f("ix_notices_case_id"), "notices", ["case_id"])
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_drafts_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
    )
    op.create_index(op.f("ix_drafts_case_id"), "drafts", ["case_id"])
    op.create_index(op.f("ix_drafts_status"), "drafts", ["status"])
    op.create_table(
        "erasure_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("erased_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_ledger")),
        sa.UniqueConstraint("digest", name=op.f("uq_erasure_ledger_digest")),
    )

    # The event log stays append-only, except for the retention purge: it may delete the events
    # of purged cases while its own transaction holds a row in purge_grants.
    op.create_table("purge_grants", sa.Column("id", sa.Integer(), primary_key=True))
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER case_events_no_delete")
        op.execute(
            "CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events "
            "WHEN NOT EXISTS (SELECT 1 FROM purge_grants) "
            "BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END"
        )
    else:
        op.execute(
            "CREATE OR REPLACE FUNCTION case_events_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM purge_grants) THEN RETURN OLD; END IF; "
            "RAISE EXCEPTION 'case_events is append-only'; END $$"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER case_events_no_delete")
        op.execute(
            "CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events "
            "BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END"
        )
    else:
        op.execute(
            "CREATE OR REPLACE FUNCTION case_events_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'case_events is append-only'; END $$"
        )
    op.drop_table("purge_grants")
    op.drop_table("erasure_ledger")
    op.drop_table("drafts")
    op.drop_table("notices")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_assignee")
        for column in (
            "closed_at",
            "decision",
            "assignee",
            "paused_since",
            "paused_days",
            "extension_sent_at",
            "extended_due",
            "legal_due",
            "promise_due",
        ):
            batch.drop_column(column)
