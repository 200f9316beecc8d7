"""The per-transaction identity map (``kc_runtime.units``): shared within one consumer transaction of one partition,
emptied when a position comes again, dropped when the transaction's tracking position is saved or a handler
fails."""

from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking

from kc_runtime.eventstore import ServiceApplication
from kc_runtime.units import Units

A, B = uuid4(), uuid4()


class Thing(Aggregate):
    pass


def in_memory() -> ServiceApplication:
    return ServiceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_the_messages_of_one_transaction_share_what_they_loaded():
    units = Units()
    first = units.of("erp/prices/0", 1)
    first[A] = "loaded"
    assert units.of("erp/prices/0", 2) is first and first == {A: "loaded"}


def test_another_partition_has_its_own_unit():
    units = Units()
    units.of("erp/prices/0", 1)[A] = "loaded"
    assert units.of("erp/prices/1", 2) == {}
    assert units.of("erp/prices/0", 2) == {A: "loaded"}


def test_a_position_again_starts_afresh_because_the_attempt_before_was_not_saved():
    units = Units()
    units.of("erp/prices/0", 1)[A] = "loaded"
    units.of("erp/prices/0", 2)[B] = "loaded"
    assert units.of("erp/prices/0", 2) == {}
    units.of("erp/prices/0", 3)[A] = "loaded"
    assert units.of("erp/prices/0", 1) == {}  # the batch from its start again


def test_dropping_a_name_forgets_its_unit_only():
    units = Units()
    units.of("a", 1)[A] = "loaded"
    units.of("b", 1)[B] = "loaded"
    units.drop(["a"])
    assert units.of("a", 2) == {}
    assert units.of("b", 2) == {B: "loaded"}


def test_a_handler_failing_inside_its_unit_leaves_nothing_to_the_next_message():
    units = Units()
    with pytest.raises(RuntimeError), units.shared(("a", 10)) as loaded:
        loaded[A] = "changed half way"
        raise RuntimeError("failed after changing something")
    assert units.of("a", 11) == {}


def test_without_a_unit_every_call_gets_a_map_of_its_own():
    units = Units()
    with units.shared(None) as first:
        first[A] = "loaded"
    with units.shared(None) as second:
        assert second == {}
    with units.shared(("a", 1)) as shared:
        assert shared == {}


def test_the_application_drops_the_unit_when_it_saves_the_partitions_tracking_position():
    app = in_memory()
    app.units.of("topic/0", 5)[A] = "loaded"
    app.units.of("topic/1", 5)[B] = "loaded"
    app.save_tracked(Tracking(application_name="topic/0", notification_id=5), Thing())
    assert app.units.of("topic/0", 6) == {}
    assert app.units.of("topic/1", 6) == {B: "loaded"}


def test_the_application_drops_the_unit_when_saving_the_position_fails():
    app = in_memory()
    app.save_tracked(Tracking(application_name="topic/0", notification_id=5))
    app.units.of("topic/0", 6)[A] = "loaded"
    with pytest.raises(IntegrityError):  # the position was recorded already
        app.save_tracked(Tracking(application_name="topic/0", notification_id=5), Thing())
    assert app.units.of("topic/0", 7) == {}


def test_a_message_names_its_unit_by_its_partitions_tracking_name_and_its_position():
    from datetime import UTC, datetime

    from contracts import Envelope
    from contracts.topics import ERP_INBOUND_CUSTOMER_PRICES
    from kc_runtime.consumer import Inbound
    from tests.support.messages import registration_completed

    message = registration_completed()
    envelope = Envelope(
        event_id=uuid4(), event_type=message.event_type, schema_version=1, occurred_at=datetime.now(UTC),
        correlation_id="c", causation_id="c", producer="erp", source_notification_id=41,
    )  # fmt: skip
    inbound = Inbound(message, envelope, ERP_INBOUND_CUSTOMER_PRICES.name, 3, 7)

    assert inbound.unit == (inbound.tracking.application_name, 41)
    assert inbound.unit == (f"erp/{ERP_INBOUND_CUSTOMER_PRICES.name}/3", 41)
