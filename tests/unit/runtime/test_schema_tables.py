"""A service declares its tables beside the event store once, as DDL; the runtime reads the names to check."""

from __future__ import annotations

import pytest

from kc_runtime.eventstore import ServiceApplication
from kc_runtime.schema import Tables, required_tables


def test_the_names_to_check_are_read_from_the_create_table_statements_and_indexes_are_not_tables():
    tables = Tables.of(
        "CREATE TABLE IF NOT EXISTS a (id int);\nCREATE INDEX IF NOT EXISTS a_id ON a (id);",
        "create table b (id int)",
    )
    assert tables.names == ("a", "b")
    assert len(tables.ddl) == 2


def test_tables_another_component_creates_are_only_checked():
    tables = Tables.of("CREATE TABLE IF NOT EXISTS c (id int)", create=False)
    assert (tables.names, tables.ddl) == (("c",), ())


def test_ddl_without_a_table_is_refused():
    with pytest.raises(ValueError, match="CREATE TABLE"):
        Tables.of("CREATE INDEX IF NOT EXISTS x ON y (z)")


def test_the_declared_tables_are_required_with_the_event_stores_and_the_followers():
    app = ServiceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    declared = [Tables.of("CREATE TABLE IF NOT EXISTS a (id int)"), Tables(names=("b", "c"))]
    assert required_tables(app, followers=True, declared=declared)[-5:] == [
        "kc_follower_position",
        "kc_parked_event",
        "a",
        "b",
        "c",
    ]
