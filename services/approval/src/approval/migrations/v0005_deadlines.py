"""approval: deadlines of waiting orders (ADR 0033) — when each pending order began its wait and the last deadline
step it took, and each company's deadlines, for the timer's question "which orders have a step due".

Expand only: two nullable/defaulted columns, an index and a table; the previous release ignores them. Orders
pending before this revision have no ``waiting_since`` (their submission counts) until their next event.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

STATEMENT = """
ALTER TABLE approval_order_summaries
    ADD COLUMN IF NOT EXISTS waiting_since timestamptz,
    ADD COLUMN IF NOT EXISTS deadline_stage smallint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS approval_order_summaries_waiting
    ON approval_order_summaries (company_id, (coalesce(waiting_since, submitted_at))) WHERE status = 'pending_approval';
CREATE TABLE IF NOT EXISTS approval_deadline_settings (
    company_id uuid PRIMARY KEY,
    remind_after_s integer,
    escalate_after_s integer,
    expire_after_s integer,
    version integer NOT NULL
);
"""


def upgrade() -> None:
    op.execute(STATEMENT)


def downgrade() -> None:
    raise NotImplementedError("forward only: write a new revision instead (ADR 0019)")
