"""approval: the baseline — the schema `python -m kc_runtime.schema create approval` made before there were
migrations (ADR 0019), frozen as text: the event store's tables (as eventsourcing's recorder creates them), the
service's own tables, the followers' positions and parked events.

Never edit it: a change is a new revision. On a database made by `schema create` it creates nothing and is
recorded (adoption, verified by :func:`kc_runtime.migrations.baseline`).
"""

from kc_runtime.migrations import baseline

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS "orders_events" (originator_id "uuid" NOT NULL, originator_version bigint NOT NULL, topic text, state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version)) WITH (    autovacuum_enabled = true,    autovacuum_vacuum_threshold = 100000000,    autovacuum_vacuum_scale_factor = 0.5,    autovacuum_analyze_threshold = 1000,    autovacuum_analyze_scale_factor = 0.01)""",
    """DO $$ BEGIN CREATE TYPE "stored_event_uuid" AS (originator_id "uuid", originator_version bigint, topic text, state bytea); EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    """CREATE UNIQUE INDEX IF NOT EXISTS "orders_events_notification_id_idx" ON "orders_events" (notification_id ASC);""",
    """CREATE OR REPLACE FUNCTION "es_insert_events_uuid"(events "stored_event_uuid"[]) RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$BEGIN    SET LOCAL lock_timeout = '5s';    NOTIFY "orders_events";    RETURN QUERY    INSERT INTO "orders_events" AS t (    originator_id, originator_version, topic, state)    SELECT originator_id, originator_version, topic, state    FROM unnest(events)    RETURNING notification_id;END;$BODY$""",
    """CREATE TABLE IF NOT EXISTS "orders_tracking" (application_name text, notification_id bigint, PRIMARY KEY (application_name))WITH (    autovacuum_enabled = true,    autovacuum_vacuum_threshold = 100000000,    autovacuum_vacuum_scale_factor = 0.5,    autovacuum_analyze_threshold = 1000,    autovacuum_analyze_scale_factor = 0.01)""",
    """CREATE TABLE IF NOT EXISTS approval_order_summaries (
    order_id uuid PRIMARY KEY,
    company_id uuid NOT NULL,
    buyer_id uuid NOT NULL,
    status text NOT NULL,
    total numeric NOT NULL,
    currency text NOT NULL,
    total_quantity integer NOT NULL,
    line_count integer NOT NULL,
    reference text,
    approvers uuid[] NOT NULL DEFAULT '{}',
    round integer NOT NULL DEFAULT 1,
    submitted_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
-- One index per kind of list, in the lists' order (newest first, then id): a page of a company with a long
-- history is read from the index alone, without sorting all of the company's or the buyer's orders.
CREATE INDEX IF NOT EXISTS approval_order_summaries_buyer_list
    ON approval_order_summaries (company_id, buyer_id, submitted_at DESC, order_id);
CREATE INDEX IF NOT EXISTS approval_order_summaries_buyer_status_list
    ON approval_order_summaries (company_id, buyer_id, status, submitted_at DESC, order_id);
CREATE INDEX IF NOT EXISTS approval_order_summaries_company_list
    ON approval_order_summaries (company_id, submitted_at DESC, order_id);
CREATE INDEX IF NOT EXISTS approval_order_summaries_company_status_list
    ON approval_order_summaries (company_id, status, submitted_at DESC, order_id);
DROP INDEX IF EXISTS approval_order_summaries_buyer;
DROP INDEX IF EXISTS approval_order_summaries_company;
CREATE INDEX IF NOT EXISTS approval_order_summaries_approvers
    ON approval_order_summaries USING gin (approvers);
-- The oldest order waiting for a decision (business metrics), found without reading the whole history.
CREATE INDEX IF NOT EXISTS approval_order_summaries_pending
    ON approval_order_summaries (submitted_at) WHERE status = 'pending_approval';
CREATE TABLE IF NOT EXISTS approval_order_counts (
    company_id uuid NOT NULL,
    buyer_id uuid NOT NULL,
    status text NOT NULL,
    orders bigint NOT NULL,
    PRIMARY KEY (company_id, buyer_id, status)
);""",
    """CREATE TABLE IF NOT EXISTS kc_follower_position ( name text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS kc_parked_event ( follower text NOT NULL, notification_id bigint NOT NULL, aggregate_id text NOT NULL, aggregate_version bigint NOT NULL, event_type text NOT NULL, reason text NOT NULL, blocked_by bigint, attempts integer NOT NULL DEFAULT 1, parked_at timestamptz NOT NULL DEFAULT now(), last_attempt_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (follower, notification_id))""",
]


def upgrade() -> None:
    baseline(STATEMENTS)


def downgrade() -> None:
    raise NotImplementedError("forward only: write a new revision instead (ADR 0019)")
