"""identity on cases; the id_copies table

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dsr_bot.store.tables import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("identity_policy", sa.String(length=10), nullable=True))
        # Cases from before: nothing was asked, so nothing is waited for.
        batch.add_column(
            sa.Column(
                "identity_state",
                sa.String(length=20),
                nullable=False,
                server_default="not_needed",
            )
        )
        batch.add_column(sa.Column("identity_requested_at", UtcDateTime(), nullable=True))
        batch.create_index("ix_cases_identity_state", ["identity_state"])
    op.create_table(
        "id_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("checked_at", UtcDateTime(), nullable=True),
        sa.Column("delete_by", UtcDateTime(), nullable=False),
        sa.Column("deleted_at", UtcDateTime(), nullable=True),
        sa.Column("deleted_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_id_copies_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_id_copies")),
        sa.UniqueConstraint("token", name=op.f("uq_id_copies_token")),
    )
    op.create_index(op.f("ix_id_copies_case_id"), "id_copies", ["case_id"])
    op.create_index(op.f("ix_id_copies_status"), "id_copies", ["status"])
    op.create_index(op.f("ix_id_copies_delete_by"), "id_copies", ["delete_by"])


def downgrade() -> None:
    op.drop_table("id_copies")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_identity_state")
        batch.drop_column("identity_requested_at")
        batch.drop_column("identity_state")
        batch.drop_column("identity_policy")
