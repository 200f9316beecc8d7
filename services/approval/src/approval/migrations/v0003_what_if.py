"""approval: the what-if's facts (ADR 0030) — one row per order with what a replay of its routing needs, filled by the
what-if projector (a follower of the service's log, from position 0 on its first run).

Expand only: a new table and its indexes; the previous release ignores them.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STATEMENT = """
CREATE TABLE IF NOT EXISTS approval_whatif_orders (
    order_id uuid PRIMARY KEY,
    company_id uuid NOT NULL,
    buyer_id uuid NOT NULL,
    submitted_at timestamptz NOT NULL,
    currency text NOT NULL,
    value numeric NOT NULL,
    quantity integer NOT NULL,
    max_quantity integer,
    max_value numeric,
    budget_currency text,
    period_kind text,
    period_max_value numeric,
    period_currency text,
    period_max_quantity integer,
    held boolean NOT NULL DEFAULT false,
    limits text[] NOT NULL DEFAULT '{}',
    approvers uuid[] NOT NULL DEFAULT '{}',
    tier integer,
    approved boolean NOT NULL DEFAULT false,
    released_at timestamptz,
    released_value numeric,
    released_quantity integer,
    ended_at timestamptz,
    confirmed_at timestamptz,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS approval_whatif_orders_period ON approval_whatif_orders (company_id, submitted_at);
CREATE INDEX IF NOT EXISTS approval_whatif_orders_buyer ON approval_whatif_orders (company_id, buyer_id, submitted_at);
"""


def upgrade() -> None:
    op.execute(STATEMENT)


def downgrade() -> None:
    raise NotImplementedError("forward only: write a new revision instead (ADR 0019)")
