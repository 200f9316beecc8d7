"""users: a key for a person who is no user yet (ADR 0040) — ``person_keys.company_id`` nullable.

Registration mints the future main contact's id when an attempt is submitted and asks users for that person's key
then (``PUT /internal/person-keys/{user_id}``), before any company exists; the row gets its company when the
registration completes and users creates the main contact with that id. The CHECK constraints stay.

Expand only: NOT NULL dropped. The previous release never writes a null and reads a pending row as any other key
(its internal endpoint hands it out as it would a user's).
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STATEMENT = """
ALTER TABLE person_keys ALTER COLUMN company_id DROP NOT NULL;
"""


def upgrade() -> None:
    op.execute(STATEMENT)


def downgrade() -> None:
    raise NotImplementedError("forward only: write a new revision instead (ADR 0019)")
