"""erp-sync's operations follower: dead-letters failed deliveries and carries out operator runs (replay, retry of
dead letters), following the service's notification log (one active per service, relay role).

* A delivery the ERP never answered (``Failed``) is copied to its topic's dead-letter topic, with the reason
  headers, so that it shows where every other dead letter shows.
* A replay republishes the ERP-facing messages of the notification log since a point in time exactly as the
  relay published them (same event ids, same idempotency keys): the ERP discards what it has. The runtime's
  :func:`kc_runtime.replay.replay` does it, reading the log through erp-sync's replay index (by company, if asked).
* A retry of dead letters handles each record once (the runtime's :func:`kc_runtime.dead_letters.retry_each_once`:
  a tracking record per dead-letter topic partition and offset, saved with its effects). What is done with one is
  erp-sync's: an undelivered ERP message is sent again through its exchange (the outbox relay puts it back on its
  original topic); a message erp-sync's consumer gave up on is applied again by the same handler.

Both runs are idempotent, so a crash in the middle (the follower does the batch again) repeats nothing harmful.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError, Notification
from pydantic import ValidationError

from contracts import Envelope, Headers
from contracts.topics import ERP, ERP_OUTBOUND_TOPICS
from erp_sync.adapters.outbound.dead_letters import dead_letter_scope, is_ours
from erp_sync.adapters.outbound.metrics import count_failure
from erp_sync.adapters.outbound.translator import dead_letter
from erp_sync.application.deliveries import Deliveries
from erp_sync.application.exchanges import Exchanges
from erp_sync.application.operations import OperatorRuns
from erp_sync.domain.operations import OperatorRun, RunKind, RunStatus
from kc_runtime import context
from kc_runtime.consumer import ConsumerSpec, Inbound
from kc_runtime.dead_letters import DeadLetter, read_dead_letters, retry_each_once
from kc_runtime.follower import Batch, LogFollower
from kc_runtime.kafka import client_options
from kc_runtime.relay import EVENT_ID_NAMESPACE
from kc_runtime.replay import publish
from kc_runtime.replay import replay as replay_log
from kc_runtime.service import ServiceRuntime

log = structlog.get_logger("erp_sync.operations")


class Operations(LogFollower):
    kind = "operations"
    runs_alone = True  # an operator's replay or dead-letter retry runs inside a batch, for minutes

    def __init__(
        self,
        runtime: ServiceRuntime,
        *,
        exchanges: Exchanges,
        runs: OperatorRuns,
        deliveries: Deliveries,
        specs: Sequence[ConsumerSpec],
        page: int = 500,
    ) -> None:
        settings = runtime.settings
        super().__init__(
            service=settings.service_name,
            app=runtime.app,
            dsn=settings.database_url.get_secret_value(),
            blocking=runtime.blocking,
            idle_interval_s=settings.relay_idle_interval_s,
        )
        self.runtime = runtime
        self.exchanges = exchanges
        self.runs = runs
        self.deliveries = deliveries
        self.specs = {s.topic.name: s for s in specs}
        self.page = page
        self.prefix = settings.topic_prefix
        self.group_id = settings.group_id

    async def process(self, batch: Batch) -> None:
        for notification, event, meta in batch:
            count_failure(self.service, event)
            with context.bound(meta.get("correlation_id"), meta.get("causation_id")):
                if dead_letter(event) is not None:
                    await self._dead_letter(notification, event, meta)
                elif isinstance(event, OperatorRun.Requested):
                    await self._carry_out(event.originator_id)

    # ---- failed deliveries → their dead-letter topic ----------------------------------------------------

    async def _dead_letter(self, notification: Any, event: Any, meta: dict[str, str]) -> None:
        out = dead_letter(event)
        assert out is not None
        envelope = Envelope(
            event_id=uuid.uuid5(
                EVENT_ID_NAMESPACE,
                f"{self.service}/{notification.originator_id}/{notification.originator_version}/{out.topic.dlt}",
            ),
            event_type=out.message.event_type,
            schema_version=out.message.schema_version,
            occurred_at=event.timestamp,
            correlation_id=meta.get("correlation_id") or str(notification.originator_id),
            causation_id=meta.get("causation_id") or str(notification.originator_id),
            producer=self.service,
            source_notification_id=notification.id,
        )
        headers = {
            **envelope.to_headers(),
            Headers.DLT_REASON: "unanswered",
            Headers.DLT_ERROR: f"the ERP did not answer {event.attempts} copies within the retry window",
            Headers.DLT_ORIGINAL_TOPIC: out.topic.name,
            Headers.DLT_ORIGINAL_PARTITION: "",
            Headers.DLT_ORIGINAL_OFFSET: "",
            Headers.DLT_CONSUMER_GROUP: ERP,
        }
        copy = (out.topic.dlt, out.key.encode(), out.message.model_dump_json().encode(), headers)
        await publish(self.runtime.broker, [copy], self.prefix)  # acknowledged before the follower moves on
        log.error("delivery failed, dead-lettered", topic=out.topic.name, key=out.key, attempts=event.attempts)

    # ---- operator runs ------------------------------------------------------------------------------------

    async def _carry_out(self, run_id: UUID) -> None:
        run = await self.blocking.run(self.runs.run, run_id)
        if run.status is not RunStatus.REQUESTED:
            return  # done before a restart
        log.info("operator run started", run_id=str(run_id), kind=run.kind, parameters=run.parameters)
        try:
            if run.kind == RunKind.REPLAY:
                result = await self.replay(run.parameters)
            else:
                result = await self.retry_dead_letters(run.parameters)
        except Exception as exc:
            log.exception("operator run failed", run_id=str(run_id), error=repr(exc))
            await self.blocking.run(self.runs.fail, run_id, repr(exc)[:2000], {})
            return
        if result.get("stopped"):
            await self.blocking.run(self.runs.fail, run_id, "some dead letters failed again", result)
        else:
            await self.blocking.run(self.runs.complete, run_id, result)
        log.info("operator run finished", run_id=str(run_id), kind=run.kind, result=result)

    # ---- replay -------------------------------------------------------------------------------------------

    async def replay(self, parameters: dict[str, Any]) -> dict[str, Any]:
        since = datetime.fromisoformat(parameters["since"])
        company = UUID(parameters["company_id"]) if parameters.get("company_id") else None
        relay = self.runtime.relay
        if relay is None:
            raise RuntimeError("replays run where the outbox relay runs")
        index = self.exchanges.replay_index
        indexed = await self.blocking.run(index.backfill, self.exchanges.mapper)
        if indexed:
            log.info("replay index filled with what the log held before it", entries=indexed)

        def read(after: int, limit: int) -> list[Notification]:
            # through the replay index: only what is republished is read
            return index.page(since, company, after, limit)

        done = await replay_log(relay, since, read=read, topics={t.name for t in ERP_OUTBOUND_TOPICS}, page=self.page)
        return {"published": done.published, "by_topic": done.by_topic}

    # ---- retry of dead letters ----------------------------------------------------------------------------

    async def retry_dead_letters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        scope = dead_letter_scope(self.service)
        wanted = parameters.get("topics") or sorted(scope)
        letters = await read_dead_letters(
            client_options(self.runtime.settings), [t for t in wanted if t in scope], self.prefix
        )
        done = await retry_each_once(
            self.app, self.blocking, letters, self._retry_one,
            covers=lambda letter: is_ours(letter, self.group_id),
            outcomes=("resent", "reapplied", "republished", "already_answered", "discarded_invalid"),
        )  # fmt: skip
        return done.as_dict()

    async def _retry_one(self, letter: DeadLetter) -> str:
        if any(letter.original_topic == t.name for t in ERP_OUTBOUND_TOPICS):
            outcome = await self.blocking.run(self._resend, letter)
            if outcome == "republish":
                # Not an exchange of ours (e.g. a customer-center activation): put the copy back as it was.
                copy = (letter.original_topic, letter.key or b"", letter.value, letter.original_headers)
                await publish(self.runtime.broker, [copy], self.prefix)
                await self.blocking.run(self.app.save_tracked, letter.tracking)
                return "republished"
            return outcome
        with context.bound(letter.headers.get(Headers.CORRELATION_ID), letter.headers.get(Headers.EVENT_ID)):
            return await self.blocking.run(self._reapply, letter)

    def _resend(self, letter: DeadLetter) -> str:
        """Runs in a worker thread: send an undelivered ERP message again through its exchange."""
        for _ in range(3):
            exchange = self.deliveries.for_key(letter.idempotency_key or "")
            if exchange is None:
                return "republish"
            resent = exchange.retry(self.deliveries.clock())
            try:
                self.app.save_tracked(letter.tracking, exchange)
            except IntegrityError:
                continue  # answered concurrently: look again
            return "resent" if resent else "already_answered"
        raise RuntimeError("the exchange kept changing concurrently")

    def _reapply(self, letter: DeadLetter) -> str:
        """Runs in a worker thread: apply a message erp-sync's consumer gave up on, with the same handler."""
        spec = self.specs.get(letter.original_topic)
        try:
            envelope = Envelope.from_headers(letter.original_headers)
            message_type = spec.topic.message_type(envelope.event_type) if spec else None
            if spec is None or message_type is None or message_type not in spec.handlers:
                self.app.save_tracked(letter.tracking)
                return "discarded_invalid"
            message = message_type.model_validate_json(letter.value)
        except (ValidationError, ValueError):
            self.app.save_tracked(letter.tracking)  # still not a valid message: no handler will ever take it
            return "discarded_invalid"
        inbound = Inbound(
            message,
            envelope,
            spec.topic.name,
            int(letter.headers.get(Headers.DLT_ORIGINAL_PARTITION) or 0),
            int(letter.headers.get(Headers.DLT_ORIGINAL_OFFSET) or -1),
        )
        for _ in range(3):
            aggregates = spec.handlers[message_type](inbound)
            try:
                self.app.save_tracked(letter.tracking, *aggregates)
            except IntegrityError:
                continue  # an aggregate changed concurrently: the handler reloads
            return "reapplied"
        raise RuntimeError("the aggregates kept changing concurrently")
