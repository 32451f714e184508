"""agent replies by the console's id: sending one again delivers it once,
even across a bridge restart

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 10:20:20.393747
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("client_message_id", sa.String(length=64), nullable=False),
        sa.Column("delivered", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_replies_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_agent_replies_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_replies")),
        sa.UniqueConstraint(
            "ticket_id", "agent_id", "client_message_id", name="uq_agent_replies_client_id"
        ),
    )
    with op.batch_alter_table("agent_replies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_replies_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("agent_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_replies_created_at"))
    op.drop_table("agent_replies")
