"""erp-sync: what waits for the ERP's answer and when it is due again (issue 21) — the table the retry schedules
query, filled by the due projection (a follower of the service's log, from position 0 on its first run: it reads
the whole log once).

Expand only: a new table and its index; the previous release ignores them.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENT = """
CREATE TABLE IF NOT EXISTS erp_sync_due (
    exchange_id uuid PRIMARY KEY,
    kind text NOT NULL,
    due_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS erp_sync_due_at ON erp_sync_due (kind, due_at);
"""


def upgrade() -> None:
    op.execute(STATEMENT)


def downgrade() -> None:
    raise NotImplementedError("forward only: write a new revision instead (ADR 0019)")
