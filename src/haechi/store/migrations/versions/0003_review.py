"""Human review: users, web sessions, review campaigns, members, items, assignments,
labels and gold labels.

Revision ID: 0003
Revises: 0002
Created: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _when(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False)


def _fk(column: str, table: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "users",
        _id(),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        _when("created_at"),
        _when("expires_at"),
        _fk("user_id", "web_sessions", "users"),
        sa.PrimaryKeyConstraint("token_hash", name="pk_web_sessions"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "review_campaigns",
        _id(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("label_schema", JSON, nullable=False),
        sa.Column("overlap", sa.Integer(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_review_campaigns"),
        sa.UniqueConstraint("name", name="uq_review_campaigns_name"),
    )
    op.create_table(
        "review_members",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _fk("campaign_id", "review_members", "review_campaigns"),
        _fk("user_id", "review_members", "users"),
        sa.PrimaryKeyConstraint("campaign_id", "user_id", name="pk_review_members"),
    )
    op.create_table(
        "review_items",
        _id(),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("category", sa.String(255), nullable=False),
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("turns", JSON, nullable=False),
        sa.Column("chain", JSON, nullable=False),
        sa.Column("verdicts", JSON, nullable=False),
        _when("created_at"),
        _fk("campaign_id", "review_items", "review_campaigns"),
        sa.PrimaryKeyConstraint("id", name="pk_review_items"),
        sa.UniqueConstraint(
            "campaign_id", "external_id", name="uq_review_items_campaign_id_external_id"
        ),
    )
    op.create_table(
        "review_assignments",
        _id(),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _when("assigned_at"),
        _fk("item_id", "review_assignments", "review_items"),
        _fk("user_id", "review_assignments", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_review_assignments"),
        sa.UniqueConstraint("item_id", "user_id", name="uq_review_assignments_item_id_user_id"),
        sa.UniqueConstraint("item_id", "slot", name="uq_review_assignments_item_id_slot"),
    )
    op.create_index("ix_review_assignments_user_id", "review_assignments", ["user_id"])
    op.create_table(
        "review_labels",
        _id(),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label_values", JSON, nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        _fk("item_id", "review_labels", "review_items"),
        _fk("user_id", "review_labels", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_review_labels"),
        sa.UniqueConstraint("item_id", "user_id", name="uq_review_labels_item_id_user_id"),
    )
    op.create_index("ix_review_labels_user_id", "review_labels", ["user_id"])
    op.create_table(
        "review_gold",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("label_values", JSON, nullable=False),
        _when("created_at"),
        _fk("item_id", "review_gold", "review_items"),
        _fk("user_id", "review_gold", "users", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("item_id", name="pk_review_gold"),
    )


def downgrade() -> None:
    op.drop_table("review_gold")
    op.drop_index("ix_review_labels_user_id", table_name="review_labels")
    op.drop_table("review_labels")
    op.drop_index("ix_review_assignments_user_id", table_name="review_assignments")
    op.drop_table("review_assignments")
    op.drop_table("review_items")
    op.drop_table("review_members")
    op.drop_table("review_campaigns")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("users")
