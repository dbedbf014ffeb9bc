"""the chat channel: conversations, the update offset, chat buttons, the contact address

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dsr_bot.store.tables import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("buttons", sa.JSON(), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("contact_email", sa.String(length=320), nullable=True))
    op.create_table(
        "telegram_chats",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_telegram_chats_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_telegram_chats")),
    )
    op.create_index(op.f("ix_telegram_chats_case_id"), "telegram_chats", ["case_id"])
    op.create_index(op.f("ix_telegram_chats_updated_at"), "telegram_chats", ["updated_at"])
    op.create_table(
        "channel_cursors",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_channel_cursors")),
    )


def downgrade() -> None:
    op.drop_table("channel_cursors")
    op.drop_index(op.f("ix_telegram_chats_updated_at"), table_name="telegram_chats")
    op.drop_index(op.f("ix_telegram_chats_case_id"), table_name="telegram_chats")
    op.drop_table("telegram_chats")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("contact_email")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("buttons")
