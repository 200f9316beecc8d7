"""registration: the baseline — the schema `python -m kc_runtime.schema create registration` made before there were
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
    """CREATE TABLE IF NOT EXISTS "registrations_events" (originator_id "uuid" NOT NULL, originator_version bigint NOT NULL, topic text, state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version)) WITH (    autovacuum_enabled = true,    autovacuum_vacuum_threshold = 100000000,    autovacuum_vacuum_scale_factor = 0.5,    autovacuum_analyze_threshold = 1000,    autovacuum_analyze_scale_factor = 0.01)""",
    """DO $$ BEGIN CREATE TYPE "stored_event_uuid" AS (originator_id "uuid", originator_version bigint, topic text, state bytea); EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    """CREATE UNIQUE INDEX IF NOT EXISTS "registrations_events_notification_id_idx" ON "registrations_events" (notification_id ASC);""",
    """CREATE OR REPLACE FUNCTION "es_insert_events_uuid"(events "stored_event_uuid"[]) RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$BEGIN    SET LOCAL lock_timeout = '5s';    NOTIFY "registrations_events";    RETURN QUERY    INSERT INTO "registrations_events" AS t (    originator_id, originator_version, topic, state)    SELECT originator_id, originator_version, topic, state    FROM unnest(events)    RETURNING notification_id;END;$BODY$""",
    """CREATE TABLE IF NOT EXISTS "registrations_tracking" (application_name text, notification_id bigint, PRIMARY KEY (application_name))WITH (    autovacuum_enabled = true,    autovacuum_vacuum_threshold = 100000000,    autovacuum_vacuum_scale_factor = 0.5,    autovacuum_analyze_threshold = 1000,    autovacuum_analyze_scale_factor = 0.01)""",
    """CREATE TABLE IF NOT EXISTS "registrations_snapshots" (originator_id "uuid" NOT NULL, originator_version bigint NOT NULL, topic text, state bytea, PRIMARY KEY (originator_id, originator_version)) WITH (    autovacuum_enabled = true,    autovacuum_vacuum_threshold = 100000000,    autovacuum_vacuum_scale_factor = 0.5,    autovacuum_analyze_threshold = 1000,    autovacuum_analyze_scale_factor = 0.01)""",
    """DO $$ BEGIN CREATE TYPE "stored_event_uuid" AS (originator_id "uuid", originator_version bigint, topic text, state bytea); EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    """CREATE TABLE IF NOT EXISTS kc_follower_position ( name text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS kc_parked_event ( follower text NOT NULL, notification_id bigint NOT NULL, aggregate_id text NOT NULL, aggregate_version bigint NOT NULL, event_type text NOT NULL, reason text NOT NULL, blocked_by bigint, attempts integer NOT NULL DEFAULT 1, parked_at timestamptz NOT NULL DEFAULT now(), last_attempt_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (follower, notification_id))""",
]


def upgrade() -> None:
    baseline(STATEMENTS)


def downgrade() -> None:
    raise NotImplementedError("forward only: write a new revision instead (ADR 0019)")
