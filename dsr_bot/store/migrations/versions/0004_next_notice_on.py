"""cases.next_notice_on: the day the sweep looks at a case again

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("next_notice_on", sa.Date(), nullable=True))
        batch.create_index("ix_cases_next_notice_on", ["next_notice_on"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_next_notice_on")
        batch.drop_column("next_notice_on")
