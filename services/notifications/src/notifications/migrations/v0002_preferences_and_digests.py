"""notifications: notification preferences and daily digests (ADR 0027) — the mail log (each mail's fate: sent,
failed, suppressed by the recipient's choice, deferred into a digest) and the digests (whose, which day, due when,
sent or not), both kept from the service's log by the digest scheduler (from position 0 on its first run).

Expand only: new tables and indexes; the previous release ignores them. The preferences themselves are events in
the event store (``mails_events``), which needs no change.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENT = """
CREATE TABLE IF NOT EXISTS notifications_mail_log (
    mail_id uuid PRIMARY KEY,
    user_id uuid,
    kind text NOT NULL,
    status text NOT NULL,
    cause text NOT NULL,
    digest_id uuid,
    queued_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_mail_log_user ON notifications_mail_log (user_id, queued_at);
CREATE TABLE IF NOT EXISTS notifications_digests (
    digest_id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    day date NOT NULL,
    due_at timestamptz NOT NULL,
    mails integer NOT NULL DEFAULT 0,
    status text NOT NULL,
    sent_at timestamptz,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_digests_pending ON notifications_digests (due_at) WHERE status NOT IN ('sent', 'failed');
CREATE INDEX IF NOT EXISTS notifications_digests_user ON notifications_digests (user_id, day);
"""


def upgrade() -> None:
    op.execute(STATEMENT)


def downgrade() -> None:
    raise NotImplementedError("forward only: write a new revision instead (ADR 0019)")
