"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Created: ${create_date}
"""

from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain SQL (ADR 0019). Old pods run on the new schema during a rollout: only expand here (add tables,
    # nullable columns, indexes CONCURRENTLY outside this transaction if big); drop in a later release.
    op.execute("""
    """)


def downgrade() -> None:
    raise NotImplementedError("forward only: write a new revision instead (ADR 0019)")
