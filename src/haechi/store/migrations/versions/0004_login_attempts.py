"""The login failure limit in the store (one row per password check) and the web app's
server secrets (one made here: ``login_form``, which signs the login form's tokens).

Revision ID: 0004
Revises: 0003
Created: 2026-12-01
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_attempts"),
    )
    op.create_index("ix_login_attempts_attempted_at", "login_attempts", ["attempted_at"])
    op.create_index("ix_login_attempts_key_attempted_at", "login_attempts", ["key", "attempted_at"])
    secrets_table = op.create_table(
        "web_secrets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_web_secrets"),
    )
    op.bulk_insert(
        secrets_table,
        [{"name": "login_form", "value": secrets.token_hex(32), "created_at": datetime.now(UTC)}],
    )


def downgrade() -> None:
    op.drop_table("web_secrets")
    op.drop_index("ix_login_attempts_key_attempted_at", table_name="login_attempts")
    op.drop_index("ix_login_attempts_attempted_at", table_name="login_attempts")
    op.drop_table("login_attempts")
