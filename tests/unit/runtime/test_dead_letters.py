"""kc_runtime.dead_letters: a service's dead-letter topics read to their end with its Kafka settings (aiokafka's
clients replaced by stand-ins that hold the records), and a retry that handles each record once on an in-memory
event store (a tracking record per dead-letter partition, saved with the record's effects)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from eventsourcing.domain import Aggregate
from pydantic import SecretStr

from contracts import Headers
from contracts.topics import APPROVAL_ORDERS, USERS_USERS
from kc_runtime import dead_letters
from kc_runtime.dead_letters import DeadLetter, consumed_dead_letter_topics, read_dead_letters, retry_each_once
from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.kafka import client_options
from kc_runtime.settings import ServiceSettings

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
SECURITY = {
    "security_protocol": "SASL_SSL",
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_plain_username": "users",
    "sasl_plain_password": "s3cret",
}


# ---- reading -----------------------------------------------------------------------------------------------------


class Kafka:
    """What the stand-in clients see: topics (with the prefix) → partition → records; the options they were made with."""

    def __init__(self, topics: dict[str, dict[int, list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]]]):
        self.topics = topics
        self.made: list[dict[str, Any]] = []

    def install(self, monkeypatch) -> None:
        kafka = self

        class Admin:
            def __init__(self, **kwargs: Any) -> None:
                kafka.made.append(kwargs)

            async def start(self) -> None: ...
            async def close(self) -> None: ...

            async def list_topics(self) -> list[str]:
                return list(kafka.topics)

            async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
                return [{"topic": n, "partitions": [{"partition": p} for p in kafka.topics[n]]} for n in names]

        class Consumer:
            def __init__(self, **kwargs: Any) -> None:
                kafka.made.append(kwargs)
                self.position: dict[Any, int] = {}

            async def start(self) -> None: ...
            async def stop(self) -> None: ...

            def assign(self, partitions: list[Any]) -> None:
                self.position = dict.fromkeys(partitions, 0)

            async def seek_to_beginning(self, *partitions: Any) -> None:
                for tp in partitions:
                    self.position[tp] = 0

            async def end_offsets(self, partitions: list[Any]) -> dict[Any, int]:
                return {tp: len(kafka.topics[tp.topic][tp.partition]) for tp in partitions}

            async def getmany(self, *partitions: Any, timeout_ms: int = 0) -> dict[Any, list[Any]]:
                out = {}
                for tp in partitions:  # one record per partition and fetch: the reader must come back for more
                    records = kafka.topics[tp.topic][tp.partition]
                    at = self.position[tp]
                    if at < len(records):
                        key, value, headers = records[at]
                        out[tp] = [
                            SimpleNamespace(
                                topic=tp.topic, partition=tp.partition, offset=at, key=key, value=value,
                                headers=headers, timestamp=1000 + at,
                            )
                        ]  # fmt: skip
                        self.position[tp] = at + 1
                return out

        monkeypatch.setattr(dead_letters, "AIOKafkaAdminClient", Admin)
        monkeypatch.setattr(dead_letters, "AIOKafkaConsumer", Consumer)


def reason(group: str, why: str = "handler_failed") -> list[tuple[str, bytes]]:
    return [(Headers.DLT_REASON, why.encode()), (Headers.DLT_CONSUMER_GROUP, group.encode())]


def sasl_settings() -> ServiceSettings:
    return ServiceSettings(
        service_name="users",
        kafka_bootstrap_servers="kafka:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="users",
        kafka_sasl_password=SecretStr("s3cret"),
    )


async def test_the_admin_client_and_the_consumer_get_the_settings_tls_and_sasl_options(monkeypatch):
    kafka = Kafka({"p.approval.orders.v1.dlt": {0: []}})
    kafka.install(monkeypatch)
    letters = await read_dead_letters(client_options(sasl_settings()), [APPROVAL_ORDERS.dlt], prefix="p.")
    assert letters == []
    assert len(kafka.made) == 2  # the admin client, then the consumer
    for kwargs in kafka.made:
        assert kwargs["bootstrap_servers"] == "kafka:9093"
        assert {k: kwargs[k] for k in SECURITY} == SECURITY
        assert kwargs["ssl_context"] is not None


async def test_every_record_of_the_named_topics_is_read_to_the_end_in_partition_order(monkeypatch):
    Kafka(
        {
            "p.users.users.v1.dlt": {0: [(b"u", b"{}", reason("approval"))]},
            "p.approval.orders.v1.dlt": {
                1: [(b"b", b"{}", reason("users")), (None, b"", [])],
                0: [(b"a", b'{"x": 1}', reason("users", "invalid_payload"))],
            },
            "p.other.dlt": {0: [(b"o", b"{}", [])]},
        }
    ).install(monkeypatch)
    letters = await read_dead_letters(
        {"bootstrap_servers": "k"}, [APPROVAL_ORDERS.dlt, USERS_USERS.dlt, "missing.v1.dlt"], prefix="p."
    )
    assert [(d.topic, d.partition, d.offset, d.key) for d in letters] == [
        (APPROVAL_ORDERS.dlt, 0, 0, b"a"),
        (APPROVAL_ORDERS.dlt, 1, 0, b"b"),
        (APPROVAL_ORDERS.dlt, 1, 1, None),
        (USERS_USERS.dlt, 0, 0, b"u"),
    ]
    first = letters[0]
    assert (first.value, first.timestamp_ms, first.headers[Headers.DLT_REASON]) == (
        b'{"x": 1}',
        1000,
        "invalid_payload",
    )


async def test_a_topic_that_cannot_be_read_to_its_end_in_time_is_an_error_not_a_short_list(monkeypatch):
    kafka = Kafka({"approval.orders.v1.dlt": {0: [(b"a", b"{}", [])]}})
    kafka.install(monkeypatch)

    async def end_offsets(self, partitions):
        return dict.fromkeys(partitions, 5)  # more than there is: never reached

    monkeypatch.setattr(dead_letters.AIOKafkaConsumer, "end_offsets", end_offsets)
    with pytest.raises(TimeoutError):
        await read_dead_letters({"bootstrap_servers": "k"}, [APPROVAL_ORDERS.dlt], timeout_s=0.3)


# ---- the record --------------------------------------------------------------------------------------------------


def letter(
    topic: str = APPROVAL_ORDERS.dlt,
    offset: int = 0,
    *,
    partition: int = 0,
    group: str = "users",
    value: bytes = b'{"idempotency_key": "sales-order/1"}',
    headers: dict[str, str] | None = None,
) -> DeadLetter:
    base = {
        Headers.EVENT_TYPE: "OrderApprovalRequested",
        Headers.CORRELATION_ID: "c-1",
        Headers.DLT_REASON: "handler_failed",
        Headers.DLT_ERROR: "boom",
        Headers.DLT_ORIGINAL_PARTITION: "3",
        Headers.DLT_ORIGINAL_OFFSET: "41",
        Headers.DLT_CONSUMER_GROUP: group,
    }
    return DeadLetter(topic, partition, offset, b"key", value, {**base, **(headers or {})}, 7)


def test_a_dead_letter_tells_its_original_topic_group_and_envelope_apart_from_the_reason():
    d = letter(headers={Headers.DLT_ORIGINAL_TOPIC: "approval.orders.v1"})
    assert d.original_topic == "approval.orders.v1"
    assert letter().original_topic == "approval.orders.v1"  # without the header: the topic's name
    assert d.consumer_group == "users" and d.left_by("users") and not d.left_by("notifications")
    assert d.original_headers == {Headers.EVENT_TYPE: "OrderApprovalRequested", Headers.CORRELATION_ID: "c-1"}
    assert (d.tracking.application_name, d.tracking.notification_id) == (f"dead-letters/{APPROVAL_ORDERS.dlt}/0", 1)


def test_the_idempotency_key_is_read_from_a_json_body_only():
    assert letter().idempotency_key == "sales-order/1"
    assert letter(value=b"not json").idempotency_key is None
    assert letter(value=b"[1]").idempotency_key is None
    assert letter(value=b'{"idempotency_key": 5}').idempotency_key is None


def test_an_operator_sees_where_it_came_from_and_why_it_is_here():
    assert letter(headers={Headers.DLT_ORIGINAL_TOPIC: "approval.orders.v1"}).describe() == {
        "topic": APPROVAL_ORDERS.dlt,
        "partition": 0,
        "offset": 0,
        "original_topic": "approval.orders.v1",
        "reason": "handler_failed",
        "error": "boom",
        "consumer_group": "users",
        "event_type": "OrderApprovalRequested",
        "key": "key",
        "idempotency_key": "sales-order/1",
        "timestamp_ms": 7,
    }


def test_a_service_scope_is_the_dead_letter_topics_of_what_it_consumes():
    scope = consumed_dead_letter_topics("erp-sync")
    assert scope[APPROVAL_ORDERS.dlt] is APPROVAL_ORDERS
    assert all("erp-sync" in t.consumers and name == t.dlt for name, t in scope.items())
    assert consumed_dead_letter_topics("nobody") == {}


# ---- retry -------------------------------------------------------------------------------------------------------


class Note(Aggregate):
    def __init__(self, text: str) -> None:
        self.text = text


class Notes(ServiceApplication):
    pass


@pytest.fixture
def store():
    app = Notes(env=MEMORY)
    blocking = WorkerPool(2)
    yield SimpleNamespace(app=app, blocking=blocking)
    blocking.shutdown()


def noting(store, handled: list[DeadLetter], fails: frozenset[tuple[int, int]] = frozenset()):
    """A handler that saves a note of each record with its tracking record; it fails on (partition, offset)s."""

    async def handle(d: DeadLetter) -> str:
        handled.append(d)
        if (d.partition, d.offset) in fails:
            raise RuntimeError("still failing")
        note = Note(f"{d.partition}/{d.offset}")
        await store.blocking.run(store.app.save_tracked, d.tracking, note)
        return "noted"

    return handle


def notes(app: Notes) -> list[str]:
    return sorted(app.repository.get(n.originator_id).text for n, _, _ in app.notifications(0, 1000))


def ours(d: DeadLetter) -> bool:
    return d.left_by("users")


async def test_each_record_is_handled_once_however_often_the_retry_runs(store):
    letters = [letter(offset=o) for o in range(3)]
    handled: list[DeadLetter] = []

    first = await retry_each_once(
        store.app, store.blocking, letters, noting(store, handled), covers=ours, outcomes=("noted", "unused")
    )
    again = await retry_each_once(store.app, store.blocking, letters, noting(store, handled), covers=ours)

    assert first.as_dict() == {"noted": 3, "unused": 0, "done_before": 0, "not_ours": 0, "stopped": []}
    assert (again.counts["done_before"], again.counts["not_ours"]) == (3, 0)
    assert len(handled) == 3
    assert notes(store.app) == ["0/0", "0/1", "0/2"]


async def test_another_groups_record_is_passed_over_for_good_without_its_handler(store):
    theirs = letter(group="notifications")
    handled: list[DeadLetter] = []

    first = await retry_each_once(store.app, store.blocking, [theirs], noting(store, handled), covers=ours)
    again = await retry_each_once(store.app, store.blocking, [theirs], noting(store, handled), covers=ours)

    assert (first.counts["not_ours"], again.counts["done_before"], handled) == (1, 1, [])
    assert store.app.max_tracking_id(theirs.tracking.application_name) == 1


async def test_a_record_that_fails_again_holds_its_partition_back_and_the_other_partitions_go_on(store):
    letters = [letter(partition=0, offset=o) for o in range(3)] + [letter(partition=1, offset=o) for o in range(2)]
    handled: list[DeadLetter] = []

    done = await retry_each_once(
        store.app, store.blocking, letters, noting(store, handled, fails=frozenset({(0, 1)})), covers=ours
    )

    assert done.counts["noted"] == 3  # 0/0, 1/0, 1/1
    assert [(d.partition, d.offset) for d in handled] == [(0, 0), (0, 1), (1, 0), (1, 1)]  # never 0/2
    (stopped,) = done.stopped
    assert (stopped["partition"], stopped["offset"], stopped["retry_error"]) == (0, 1, "RuntimeError('still failing')")
    assert stopped["reason"] == "handler_failed"

    fixed = await retry_each_once(store.app, store.blocking, letters, noting(store, handled), covers=ours)
    assert (fixed.counts["noted"], fixed.counts["done_before"], fixed.stopped) == (2, 3, [])
    assert notes(store.app) == ["0/0", "0/1", "0/2", "1/0", "1/1"]


async def test_a_handler_that_saves_nothing_leaves_its_record_to_the_next_retry(store):
    async def look(d: DeadLetter) -> str:
        return "looked"

    first = await retry_each_once(store.app, store.blocking, [letter()], look, covers=ours)
    again = await retry_each_once(store.app, store.blocking, [letter()], look, covers=ours)
    assert (first.counts["looked"], again.counts["looked"], again.counts["done_before"]) == (1, 1, 0)
