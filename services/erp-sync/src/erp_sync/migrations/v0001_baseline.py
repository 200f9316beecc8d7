"""erp-sync: the baseline — the schema `python -m kc_runtime.schema create erp_sync` made before there were
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
    """CREATE TABLE IF NOT EXISTS "exchanges_events" (originator_id "uuid" NOT NULL, originator_version bigint NOT NULL, topic text, state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version)) WITH (    autovacuum_enabled = true,    autovacuum_vacuum_threshold = 100000000,    autovacuum_vacuum_scale_factor = 0.5,    autovacuum_analyze_threshold = 1000,    autovacuum_analyze_scale_factor = 0.01)""",
    """DO $$ BEGIN CREATE TYPE "stored_event_uuid" AS (originator_id "uuid", originator_version bigint, topic text, state bytea); EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    """CREATE UNIQUE INDEX IF NOT EXISTS "exchanges_events_notification_id_idx" ON "exchanges_events" (notification_id ASC);""",
    """CREATE OR REPLACE FUNCTION "es_insert_events_uuid"(events "stored_event_uuid"[]) RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$BEGIN    SET LOCAL lock_timeout = '5s';    NOTIFY "exchanges_events";    RETURN QUERY    INSERT INTO "exchanges_events" AS t (    originator_id, originator_version, topic, state)    SELECT originator_id, originator_version, topic, state    FROM unnest(events)    RETURNING notification_id;END;$BODY$""",
    """CREATE TABLE IF NOT EXISTS "exchanges_tracking" (application_name text, notification_id bigint, PRIMARY KEY (application_name))WITH (    autovacuum_enabled = true,    autovacuum_vacuum_threshold = 100000000,    autovacuum_vacuum_scale_factor = 0.5,    autovacuum_analyze_threshold = 1000,    autovacuum_analyze_scale_factor = 0.01)""",
    """CREATE TABLE IF NOT EXISTS erp_sync_replay_index (
        notification_id bigint PRIMARY KEY,
        stored_at timestamptz NOT NULL,
        company_id uuid)""",
    """CREATE INDEX IF NOT EXISTS erp_sync_replay_index_at ON erp_sync_replay_index (stored_at, notification_id)""",
    """CREATE INDEX IF NOT EXISTS erp_sync_replay_index_company
        ON erp_sync_replay_index (company_id, stored_at, notification_id)""",
    """CREATE TABLE IF NOT EXISTS erp_sync_replay_index_state (name text PRIMARY KEY, below bigint NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS erp_sync_price_index (
        customer_number text NOT NULL,
        sku text NOT NULL,
        listed boolean NOT NULL,
        resend_id text,
        PRIMARY KEY (customer_number, sku))""",
    """CREATE TABLE IF NOT EXISTS erp_sync_exchanges (
    exchange_id uuid PRIMARY KEY,
    kind text NOT NULL,
    subject_id uuid NOT NULL,
    company_id uuid NOT NULL,
    customer_number text,
    status text NOT NULL,
    outcome text,
    idempotency_key text NOT NULL,
    notification_id bigint NOT NULL,
    attempts integer NOT NULL,
    erp_reference text,
    detail text,
    requested_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS erp_sync_exchanges_status ON erp_sync_exchanges (status, kind, updated_at DESC);
CREATE INDEX IF NOT EXISTS erp_sync_exchanges_company ON erp_sync_exchanges (company_id, kind, requested_at DESC);""",
    """CREATE TABLE IF NOT EXISTS kc_follower_position ( name text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS kc_parked_event ( follower text NOT NULL, notification_id bigint NOT NULL, aggregate_id text NOT NULL, aggregate_version bigint NOT NULL, event_type text NOT NULL, reason text NOT NULL, blocked_by bigint, attempts integer NOT NULL DEFAULT 1, parked_at timestamptz NOT NULL DEFAULT now(), last_attempt_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (follower, notification_id))""",
]


def upgrade() -> None:
    baseline(STATEMENTS)


def downgrade() -> None:
    raise NotImplementedError("forward only: write a new revision instead (ADR 0019)")
