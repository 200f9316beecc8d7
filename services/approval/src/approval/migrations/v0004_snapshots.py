"""approval: snapshots of the aggregates that grow with the orders (a period budget's ledger, the company's credit;
ADR 0032) — a process that has not cached one yet reads it from its latest snapshot on instead of replaying every
order of the period or the company.

Expand only: a new table; the previous release ignores it (it replays those aggregates whole, as before).
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

STATEMENT = """
CREATE TABLE IF NOT EXISTS "orders_snapshots" (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    PRIMARY KEY (originator_id, originator_version)
)
"""


def upgrade() -> None:
    op.execute(STATEMENT)


def downgrade() -> None:
    raise NotImplementedError("forward only: write a new revision instead (ADR 0019)")
