"""users: each person's key (ADR 0035, issue 18 item 4) and erased users in the read model.

- ``person_keys``: one random 256-bit key per user, made with the save that creates the user; an erasure sets
  ``key`` to null and keeps ``erased_at``. Only users' internal API reads it; it never goes on Kafka.
- ``rm_users``: an erased user keeps their row without e-mail address and names (nullable now) and with
  ``erased_at``.

Expand only: a new table, a new nullable column, NOT NULL dropped; the previous release ignores the table and the
column and never meets a null (it cannot erase). Idempotent: the recorder's statements made ``rm_users`` before
this runs (ADR 0019).
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENT = """
CREATE TABLE IF NOT EXISTS person_keys (
    user_id uuid PRIMARY KEY,
    company_id uuid NOT NULL,
    key bytea,
    created_at timestamptz NOT NULL,
    erased_at timestamptz,
    CONSTRAINT person_keys_erased_has_no_key CHECK ((key IS NULL) = (erased_at IS NOT NULL)),
    CONSTRAINT person_keys_256_bit CHECK (key IS NULL OR octet_length(key) = 32)
);
ALTER TABLE rm_users ADD COLUMN IF NOT EXISTS erased_at timestamptz;
ALTER TABLE rm_users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE rm_users ALTER COLUMN email_key DROP NOT NULL;
ALTER TABLE rm_users ALTER COLUMN first_name DROP NOT NULL;
ALTER TABLE rm_users ALTER COLUMN last_name DROP NOT NULL;
"""


def upgrade() -> None:
    op.execute(STATEMENT)


def downgrade() -> None:
    raise NotImplementedError("forward only: write a new revision instead (ADR 0019)")
