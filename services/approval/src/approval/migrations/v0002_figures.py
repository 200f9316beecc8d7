"""approval: the controller's figures (ADR 0021) — fact tables per order, per decision and per order line,
filled by the figures projector (a follower of the service's log, from position 0 on its first run).

Expand only: new tables and indexes; the previous release ignores them.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENT = """
CREATE TABLE IF NOT EXISTS approval_fig_orders (
    order_id uuid PRIMARY KEY,
    company_id uuid NOT NULL,
    buyer_id uuid NOT NULL,
    reference text,
    currency text NOT NULL,
    status text NOT NULL,
    round integer NOT NULL,
    submitted_at timestamptz NOT NULL,
    submitted_value numeric NOT NULL,
    submitted_quantity integer NOT NULL,
    value numeric NOT NULL,
    quantity integer NOT NULL,
    requested_at timestamptz,
    released_at timestamptz,
    released_value numeric,
    approved_by uuid,
    decided_by uuid,
    decided_at timestamptz,
    rejection_comment text,
    erp_rejection_reason text,
    limits text[] NOT NULL DEFAULT '{}',
    on_period_budget boolean NOT NULL DEFAULT false,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS approval_fig_orders_period ON approval_fig_orders (company_id, submitted_at);
CREATE TABLE IF NOT EXISTS approval_fig_decisions (
    order_id uuid NOT NULL,
    round integer NOT NULL,
    approver_id uuid NOT NULL,
    outcome text NOT NULL,
    requested_at timestamptz NOT NULL,
    decided_at timestamptz NOT NULL,
    value numeric NOT NULL,
    comment text,
    PRIMARY KEY (order_id, round)
);
CREATE INDEX IF NOT EXISTS approval_fig_decisions_approver ON approval_fig_decisions (approver_id, order_id);
CREATE TABLE IF NOT EXISTS approval_fig_lines (
    order_id uuid NOT NULL,
    sku text NOT NULL,
    description text NOT NULL,
    quantity integer NOT NULL,
    value numeric NOT NULL,
    PRIMARY KEY (order_id, sku)
);
"""


def upgrade() -> None:
    op.execute(STATEMENT)


def downgrade() -> None:
    raise NotImplementedError("forward only: write a new revision instead (ADR 0019)")
