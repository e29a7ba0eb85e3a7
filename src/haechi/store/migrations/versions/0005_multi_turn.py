"""Multi-turn red-teaming: the turn each verdict judged, and attempts in progress (a
conversation's state after its last completed turn, so a resumed run goes on from there).

Revision ID: 0005
Revises: 0004
Created: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("attempt_verdicts") as batch:
        batch.add_column(sa.Column("turn", sa.Integer(), nullable=True))
    op.create_table(
        "attempt_progress",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_attempt_progress_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_attempt_progress"),
        sa.UniqueConstraint("run_id", "key", name="uq_attempt_progress_run_id_key"),
    )


def downgrade() -> None:
    op.drop_table("attempt_progress")
    with op.batch_alter_table("attempt_verdicts") as batch:
        batch.drop_column("turn")
