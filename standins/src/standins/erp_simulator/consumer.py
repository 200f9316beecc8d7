"""The ERP's side of the Kafka exchange: consume, record, act, then acknowledge.

Acting: create each sales order once per idempotency key and answer it (confirmed, or rejected by the
:class:`~standins.erp_simulator.erp.Rules`), keep the contact persons the Kundencenter sends and answer with the
ERP's contact ids, erase a contact person when asked (ADR 0035), answer customer verifications, switch customer
centers on. Answers go through the outbox, in the transaction that records the message; a copy of a message (same
key) is not applied again but answered again (a repeated request means the asker missed the answer), and counted
as a discarded duplicate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka import Topic as KafkaTopic
from pydantic import ValidationError
from tenacity import AsyncRetrying

from contracts.base import Message
from contracts.envelope import Envelope, Headers
from contracts.erp.v1 import (
    ContactChanged,
    ContactCreated,
    ContactDeactivated,
    ContactErasureRequested,
    CustomerCenterActivated,
    CustomerPriceListRequested,
    CustomerVerificationRequested,
    SalesOrderRequested,
)
from contracts.topics import (
    ERP_INBOUND_CONTACTS,
    ERP_INBOUND_CUSTOMER_CREDIT,
    ERP_INBOUND_CUSTOMER_PRICES,
    ERP_INBOUND_CUSTOMER_VERIFICATION_RESULTS,
    ERP_INBOUND_SALES_ORDER_CONFIRMATIONS,
    Topic,
    consumed_by,
)
from kc_runtime.kafka import IDLE_FETCH, IDLE_POLL_MS, decode_headers, eager_batches, the_message
from kc_runtime.retrying import OnRetry, retrying
from standins.erp_simulator import db, erp, prices, verification

log = structlog.get_logger("standins.erp_simulator")

ERP_CONSUMER = "erp"
"""The consumer name of the ERP in :mod:`contracts.topics`."""

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
)
CONTACT_MESSAGES = (ContactCreated, ContactChanged, ContactDeactivated)
HANDLED = (
    SalesOrderRequested,
    CustomerVerificationRequested,
    CustomerCenterActivated,
    CustomerPriceListRequested,
    ContactErasureRequested,
    *CONTACT_MESSAGES,
)
"""Messages the simulated ERP acts on; it records every other message only."""

MAX_FAILED_ATTEMPTS = 5
"""A message whose recording keeps failing for another reason than an outage is recorded as ``failed``."""


@dataclass(frozen=True)
class _Item:
    """One fetched record: what to record, what it asks of the ERP, its headers, position and body."""

    row: dict[str, Any]
    order: dict[str, Any] | None
    headers: dict[str, str]
    position: dict[str, Any]
    body: bytes


def _strip_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold U+0000."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


class ErpConsumer:
    """Subscribes to the ERP's topics; ``pause``/``resume`` stop and restart consumption (an ERP outage)."""

    def __init__(
        self,
        broker: KafkaBroker,
        group_id: str,
        topic_prefix: str = "",
        retry_initial_s: float = 0.2,
        retry_max_s: float = 5.0,
        batch_size: int = 200,
    ) -> None:
        self.batch_size = batch_size
        self._topics_seen = False
        self.broker = broker
        self.group_id = group_id
        self.topic_prefix = topic_prefix
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.pool: asyncpg.Pool | None = None
        self.topics: tuple[Topic, ...] = consumed_by(ERP_CONSUMER)
        self.subscribers: list[Any] = []
        self.consuming = False
        self.stopping = asyncio.Event()
        self._switch = asyncio.Lock()
        self.on_sent: Callable[[], None] = lambda: None
        """Called after a transaction queued a message for the ERP to send (wakes the outbox publisher)."""
        self.rules = erp.Rules()
        """Which sales orders the simulated ERP rejects (``PUT /admin/rules``)."""

    @property
    def topic_names(self) -> list[str]:
        """The names consumed, with the topic prefix (isolated test runs)."""
        return [self.topic_prefix + t.name for t in self.topics]

    # ---- subscription and lifecycle ---------------------------------------------------------------------

    def register(self) -> None:
        """Subscribe to every topic of the consumer ``erp`` (before the broker starts): one Kafka consumer for all
        of them (one fetch loop, one heartbeat, one group membership — what an idle consumer costs is per client)."""
        subscriber = self.broker.subscriber(
            # The topics are provisioned by `python -m kc_runtime.topics ensure`; never created here.
            *(KafkaTopic(name, declare=False) for name in self.topic_names),
            group_id=self.group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            # what a fetch brings is recorded in one transaction and acknowledged with one offset commit
            batch=True,
            decoder=the_message,  # the handler reads the records' bytes itself
            max_records=self.batch_size,
            batch_timeout_ms=IDLE_POLL_MS,  # eager: each fetch is handled when it arrives
            **IDLE_FETCH,
            title=f"{self.group_id}:erp",
            description="; ".join(f"{t.name}: {t.description}" for t in self.topics),
        )

        # The handler gets the fetched batch itself (the_message: nothing decoded, nothing injected).
        async def on_batch(msg: KafkaMessage) -> None:
            await self.handle(msg)

        eager_batches(subscriber)(on_batch)
        self.subscribers.append(subscriber)

    async def start_broker(self) -> None:
        """Start the broker and with it the subscribers, retrying until Kafka answers."""

        def on_retry(exc: BaseException, wait: float) -> None:
            log.warning("kafka not reachable yet, retrying", error=repr(exc), retry_in_s=round(wait, 2))

        async for attempt in self._retrying(on_retry):
            with attempt:
                await self.broker.start()
        self.consuming = True
        log.info(
            "consumer started",
            group_id=self.group_id,
            topics=self.topic_names,
            consuming=self.consuming,
        )

    async def pause(self) -> bool:
        """Stop consuming; the message in flight is finished and acknowledged first. Returns whether it
        changed anything."""
        async with self._switch:
            if not self.consuming:
                return False
            for subscriber in self.subscribers:
                await subscriber.stop()
            self.consuming = False
        log.info("consumption paused (simulated ERP outage)")
        return True

    async def resume(self) -> bool:
        async with self._switch:
            if self.consuming:
                return False
            for subscriber in self.subscribers:
                await subscriber.start()
            self.consuming = True
        log.info("consumption resumed")
        return True

    async def missing_topics(self) -> list[str]:
        """Consumed topics the cluster does not have (asked through a running subscriber's consumer). Once all were
        there, that is the answer: the question waits behind the consumer's held fetch (up to its poll time,
        ``IDLE_POLL_MS``), which made every readiness probe take seconds."""
        if self._topics_seen:
            return []
        for subscriber in self.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is not None:
                existing = await asyncio.wait_for(consumer.topics(), IDLE_POLL_MS / 1000 + 3)
                missing = [name for name in self.topic_names if name not in existing]
                self._topics_seen = not missing
                return missing
        return []

    # ---- handling ---------------------------------------------------------------------------------------

    async def handle(self, msg: KafkaMessage) -> None:
        """Record and act on what one fetch brought (of any of the topics), in one transaction, then acknowledge it
        all at once. When the batch cannot be recorded as a whole (one message fails for another reason than an
        outage), it is recorded message by message, each in its own transaction, as before."""
        raw = msg.raw_message
        records = raw if isinstance(raw, tuple | list) else (raw,)
        by_name = {self.topic_prefix + t.name: t for t in self.topics}
        items = [self._item(by_name[record.topic], record) for record in records]
        if len(items) > 1:
            done = await self._record_batch(items)
            if done is None:
                return  # stopping: not acknowledged, delivered again
            if not done:
                for item in items:
                    if not await self._record_one(item):
                        return
        elif not await self._record_one(items[0]):
            return
        await msg.ack()  # only now: the database transactions are committed

    def _item(self, topic: Topic, raw: Any) -> _Item:
        headers = decode_headers(raw)
        value = getattr(raw, "value", None)
        body = bytes(value) if value is not None else b""
        position = {
            "topic": getattr(raw, "topic", self.topic_prefix + topic.name),
            "partition": int(getattr(raw, "partition", 0)),
            "offset": int(getattr(raw, "offset", -1)),
        }
        row, order = self._interpret(topic, headers, body, raw, position)
        return _Item(row, order, headers, position, body)

    async def _record_batch(self, items: list[_Item]) -> bool | None:
        """True: recorded in one transaction. False: not as a whole. None: stopping before it was recorded."""

        def on_retry(exc: BaseException, wait: float) -> None:
            log.warning("database unavailable, retrying", error=repr(exc), retry_in_s=round(wait, 2), size=len(items))

        try:
            async for attempt in self._retrying(on_retry, retry_on=TRANSIENT_ERRORS):
                if self.stopping.is_set():
                    log.warning("stopping before the batch was recorded; it will be redelivered", size=len(items))
                    return None
                with attempt:
                    if self.pool is None:
                        raise ConnectionError("database not connected yet")
                    async with db.sending(self.pool) as conn:
                        outcomes = [await self._apply(conn, item.row, item.order) for item in items]
        except Exception as exc:  # not an outage (that is waited out)
            log.warning("batch not recordable as a whole, recording one by one", error=repr(exc))
            return False
        for item, (outcome, details) in zip(items, outcomes, strict=True):
            self._done(item, outcome, details)
        return True

    async def _record_one(self, item: _Item) -> bool:
        """Record one message in its own transaction, retrying; False: stopping before it was recorded."""
        row, order = item.row, item.order
        failures = 0

        def on_retry(exc: BaseException, wait: float) -> None:
            if isinstance(exc, TRANSIENT_ERRORS):
                log.warning(
                    "database unavailable, retrying", error=repr(exc), retry_in_s=round(wait, 2), **item.position
                )

        async for attempt in self._retrying(on_retry):
            if self.stopping.is_set():
                log.warning("stopping before the message was recorded; it will be redelivered", **item.position)
                return False  # not acknowledged
            with attempt:
                try:
                    outcome, details = await self._record(row, order)
                except TRANSIENT_ERRORS:
                    raise
                except Exception as exc:  # retried as well, and after MAX_FAILED_ATTEMPTS recorded as ``failed``
                    failures += 1
                    log.error("recording the message failed", error=repr(exc), attempt=failures, **item.position)
                    if failures >= MAX_FAILED_ATTEMPTS:
                        row = _strip_nul({**row, "payload": None, "outcome": "failed", "error": repr(exc)[:2000]})
                        if row["payload_text"] is None:
                            row["payload_text"] = item.body.decode("utf-8", errors="replace").replace("\x00", "")
                        order = None
                    raise
        self._done(_Item(row, order, item.headers, item.position, item.body), outcome, details)
        return True

    def _retrying(self, on_retry: OnRetry, retry_on: tuple[type[BaseException], ...] = (Exception,)) -> AsyncRetrying:
        """The simulator's back-off (:mod:`kc_runtime.retrying`) over ``retry_on``, for as long as it takes."""
        return retrying(initial_s=self.retry_initial_s, max_s=self.retry_max_s, retry_on=retry_on, on_retry=on_retry)

    def _done(self, item: _Item, outcome: str, details: dict[str, Any]) -> None:
        if "outbox_id" in details:
            self.on_sent()
        level = log.warning if outcome in ("invalid", "failed") else log.info
        level(
            "message received",
            outcome=outcome,
            event_type=item.row["event_type"],
            idempotency_key=item.row["idempotency_key"],
            correlation_id=item.headers.get(Headers.CORRELATION_ID),
            **details,
            **item.position,
        )

    def _interpret(
        self, topic: Topic, headers: dict[str, str], body: bytes, raw: Any, position: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """What to record for this message, and what it asks the ERP to do (if anything): a dict with ``kind``
        (``sales_order``, ``customer_verification`` or ``customer_center_activation``)."""
        key = getattr(raw, "key", None)
        if isinstance(key, bytes | bytearray):
            key = bytes(key).decode("utf-8", errors="replace")
        timestamp = getattr(raw, "timestamp", None)
        payload: Any = None
        payload_text: str | None = None
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            payload_text = body.decode("utf-8", errors="replace")
        row: dict[str, Any] = {
            **position,
            "record_timestamp_ms": int(timestamp) if isinstance(timestamp, int) else -1,
            "key": key,
            "headers": headers,
            "event_type": headers.get(Headers.EVENT_TYPE),
            "payload": payload,
            "payload_text": payload_text,
            "outcome": "stored",
            "error": None,
            "idempotency_key": None,
        }
        try:
            envelope = Envelope.from_headers(headers)
        except ValidationError as exc:
            row.update(outcome="invalid", error=f"invalid envelope: {_short(exc)}")
            return row, None
        message_type = topic.message_type(envelope.event_type)
        if message_type not in HANDLED:
            return row, None  # a message the simulated ERP only records
        assert message_type is not None
        try:
            parsed = message_type.model_validate_json(body)
        except ValidationError as exc:
            row.update(outcome="invalid", error=f"invalid {envelope.event_type}: {_short(exc)}")
            return row, None
        row["idempotency_key"] = getattr(parsed, "idempotency_key", None)
        causes = {"correlation_id": envelope.correlation_id, "causation_id": str(envelope.event_id)}
        if isinstance(parsed, CONTACT_MESSAGES):
            return row, {"kind": "contact", "message": parsed, "topic": topic.name, **causes}
        if isinstance(parsed, ContactErasureRequested):
            return row, {"kind": "contact_erasure", "message": parsed, "topic": topic.name, **causes}
        if isinstance(parsed, CustomerVerificationRequested):
            return row, {
                "kind": "customer_verification",
                "message": parsed,
                "correlation_id": envelope.correlation_id,
                "causation_id": str(envelope.event_id),
            }
        if isinstance(parsed, CustomerCenterActivated):
            return row, {"kind": "customer_center_activation", "message": parsed, "topic": topic.name}
        if isinstance(parsed, CustomerPriceListRequested):
            return row, {"kind": "price_list_request", "message": parsed, "topic": topic.name, **causes}
        assert isinstance(parsed, SalesOrderRequested)
        message = parsed
        order = {
            "kind": "sales_order",
            "idempotency_key": message.idempotency_key,
            "order_id": message.order_id,
            "company_id": message.company_id,
            "customer_number": message.customer_number,
            "payload": payload,
            "event_id": str(envelope.event_id),
            "correlation_id": envelope.correlation_id,
            "causation_id": str(envelope.event_id),
            "message": message,
            **position,
        }
        return row, order

    async def _record(self, row: dict[str, Any], order: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        if self.pool is None:
            raise ConnectionError("database not connected yet")
        async with db.sending(self.pool) as conn:
            return await self._apply(conn, row, order)

    async def _apply(
        self, conn: asyncpg.Connection, row: dict[str, Any], order: dict[str, Any] | None
    ) -> tuple[str, dict[str, Any]]:
        """Record one message and act on it, inside the caller's transaction (several messages may share it:
        a copy later in the same transaction finds what the first one created, and is counted as a duplicate)."""
        received_id = await db.insert_received(conn, row)
        if received_id is None:
            return "redelivered", {}  # recorded (and maybe acknowledged) before: nothing to do again
        if order is None:
            return row["outcome"], {"error": row["error"]} if row["error"] else {}
        if order["kind"] == "customer_verification":
            return await self._answer_verification(conn, received_id, order)
        if order["kind"] == "customer_center_activation":
            activation: CustomerCenterActivated = order["message"]
            await db.mark_processed(conn, activation.idempotency_key, order["kind"], order["topic"])
            outcome = await db.activate_customer(conn, activation.customer_number, activation.model_dump(mode="json"))
            await db.set_outcome(conn, received_id, outcome)
            return outcome, {"customer_number": activation.customer_number}
        if order["kind"] == "contact":
            return await self._apply_contact(conn, received_id, order)
        if order["kind"] == "contact_erasure":
            return await self._erase_contact(conn, received_id, order)
        if order["kind"] == "price_list_request":
            return await self._resend_prices(conn, received_id, order)
        return await self._create_sales_order(conn, received_id, order)

    async def _create_sales_order(
        self, conn: asyncpg.Connection, received_id: int, order: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """Create the sales order once per key and decide it; answer every copy with the decision."""
        if self.rules.ignores(order["message"]):
            await db.set_outcome(conn, received_id, "ignored")
            return "ignored", {"rule": "ignore_sku_prefix"}
        # Decided up front, stored only with a new order: a copy keeps the first decision.
        decision = self.rules.decide(order["message"])
        result = await db.upsert_sales_order(conn, {k: v for k, v in order.items() if k != "message"}, decision)
        created = bool(result["created"])
        stored = dict(result)
        answer = erp.sales_order_answer(stored, datetime.now(UTC))
        if created and stored["status"] == "confirmed":  # (the credit locked before the outbox, as the hook does)
            await self._count_open_order(conn, order)
        outbox_id = await self._enqueue(
            conn, ERP_INBOUND_SALES_ORDER_CONFIRMATIONS, str(order["order_id"]), answer, order
        )
        outcome = "created" if created else "duplicate"
        await db.set_outcome(conn, received_id, outcome)
        return outcome, {
            "sales_order_number": stored["sales_order_number"],
            "decision": stored["status"],
            "duplicates_discarded": result["duplicates_discarded"],
            "outbox_id": outbox_id,
        }

    async def _count_open_order(self, conn: asyncpg.Connection, order: dict[str, Any]) -> None:
        """A confirmed sales order is open (not invoiced) from now on: a customer whose credit the ERP keeps gets its
        credit sent again, taken after the confirmation, with the order in ``open_orders`` (ADR 0026)."""
        request: SalesOrderRequested = order["message"]
        number = request.customer_number
        credit = await db.customer_credit(conn, number) if number else None
        if credit is None or request.total.currency != credit["currency"]:
            return
        row = await db.change_credit(conn, credit["customer_number"], credit["currency"], {}, request.total.amount)
        await self._enqueue(
            conn, ERP_INBOUND_CUSTOMER_CREDIT, credit["customer_number"], erp.credit_message(row), order
        )

    async def _apply_contact(
        self, conn: asyncpg.Connection, received_id: int, action: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """Keep the contact person the Kundencenter sent (once per key) and answer with the ERP's contact id."""
        message: ContactCreated | ContactChanged | ContactDeactivated = action["message"]
        first = await db.mark_processed(conn, message.idempotency_key, "contact", action["topic"])
        if first:
            contact, changed = await db.apply_shop_contact(
                conn, {**message.model_dump(mode="python"), "event_type": message.event_type}
            )
            outcome = "applied" if changed else "stale"
        else:
            contact = await db.shop_contact(conn, message.user_id) or {}
            outcome = "duplicate"
        if contact:
            answer = erp.contact_answer(contact, message.idempotency_key, datetime.now(UTC))
            outbox_id = await self._enqueue(conn, ERP_INBOUND_CONTACTS, answer.customer_number, answer, action)
        await db.set_outcome(conn, received_id, outcome)
        details: dict[str, Any] = {"user_id": str(message.user_id), "sequence": message.sequence}
        if contact:
            details.update(contact_id=contact["contact_id"], outbox_id=outbox_id)
        return outcome, details

    async def _erase_contact(
        self, conn: asyncpg.Connection, received_id: int, action: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """Erase the contact person as the Kundencenter asks (ADR 0035: once per key) and answer every copy with
        ``ContactErased``."""
        message: ContactErasureRequested = action["message"]
        first = await db.mark_processed(conn, message.idempotency_key, "contact_erasure", action["topic"])
        if first:
            contact, changed = await db.erase_shop_contact(
                conn, {**message.model_dump(mode="python"), "event_type": message.event_type}
            )
            outcome = "erased" if changed else "erased_before"
        else:
            contact = await db.shop_contact(conn, message.user_id) or {}
            outcome = "duplicate"
        details: dict[str, Any] = {"user_id": str(message.user_id), "sequence": message.sequence}
        if contact:
            answer = erp.erasure_answer(contact, message.idempotency_key, datetime.now(UTC))
            outbox_id = await self._enqueue(conn, ERP_INBOUND_CONTACTS, answer.customer_number, answer, action)
            details.update(contact_id=contact["contact_id"], outbox_id=outbox_id)
        await db.set_outcome(conn, received_id, outcome)
        return outcome, details

    async def _resend_prices(
        self, conn: asyncpg.Connection, received_id: int, action: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """Answer a request for a customer's whole price list once per key: every article with a ``resend_id``,
        then ``CustomerPriceListResent`` (same key: the customer number, so in this order on one partition)."""
        request: CustomerPriceListRequested = action["message"]
        number = request.customer_number
        details: dict[str, Any] = {}
        if not await db.mark_processed(conn, request.idempotency_key, "price_list_request", action["topic"]):
            outcome = "duplicate"
        elif await db.customer(conn, number) is None:
            outcome = "unknown_customer"
        else:
            rows = await db.customer_prices(conn, number)
            resend_id = await db.next_resend_id(conn, number)
            for row in rows:
                article = prices.article_message(row, resend_id, key=f"price-resend/{resend_id}/{row['sku']}")
                await self._enqueue(conn, ERP_INBOUND_CUSTOMER_PRICES, number, article, action)
            await db.mark_prices_published(conn, rows)
            done = prices.resent_message(number, resend_id, len(rows), request.idempotency_key, datetime.now(UTC))
            outbox_id = await self._enqueue(conn, ERP_INBOUND_CUSTOMER_PRICES, number, done, action)
            outcome, details = "resent", {"resend_id": resend_id, "articles": len(rows), "outbox_id": outbox_id}
        await db.set_outcome(conn, received_id, outcome)
        return outcome, {"customer_number": number, **details}

    @staticmethod
    async def _enqueue(
        conn: asyncpg.Connection, topic: Topic, key: str, message: Message, causes: dict[str, Any]
    ) -> int:
        return await db.enqueue(
            conn,
            {
                "topic": topic.name,
                "key": key,
                "event_type": message.event_type,
                "schema_version": message.schema_version,
                "payload": message.model_dump(mode="json"),
                "correlation_id": causes.get("correlation_id"),
                "causation_id": causes.get("causation_id"),
                "idempotency_key": getattr(message, "idempotency_key", None),
            },
        )

    async def _answer_verification(
        self, conn: asyncpg.Connection, received_id: int, action: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """Look the customer up and queue the answer, in the transaction that records the question. Every copy
        of a question is answered (the same way): a repeated question means the asker missed the answer."""
        request: CustomerVerificationRequested = action["message"]
        customer = await db.customer(conn, request.customer_number)
        reply = verification.answer(request, customer, datetime.now(UTC))
        outbox_id = await db.enqueue(
            conn,
            {
                "topic": ERP_INBOUND_CUSTOMER_VERIFICATION_RESULTS.name,
                "key": request.customer_number,
                "event_type": reply.event_type,
                "schema_version": reply.schema_version,
                "payload": reply.model_dump(mode="json"),
                "correlation_id": action["correlation_id"],
                "causation_id": action["causation_id"],
                "idempotency_key": reply.idempotency_key,
            },
        )
        await db.set_outcome(conn, received_id, "answered")
        return "answered", {"answer": reply.outcome, "outbox_id": outbox_id, "attempt": request.attempt}


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))[:2000]
