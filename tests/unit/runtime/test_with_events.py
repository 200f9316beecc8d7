"""What ``kc_runtime.eventstore.WithEventsRecorder`` relies on in the eventsourcing library, checked without a
database (``tests/integration/test_with_events.py`` checks the behaviour on PostgreSQL): the private method it
overrides exists with the same parameters, and the library's insert calls it, with the save's keyword arguments,
inside the transaction that inserts the events."""

from __future__ import annotations

import inspect

from eventsourcing.postgres import PostgresApplicationRecorder

from erp_sync.adapters.outbound.replay_index import IndexingRecorder
from kc_runtime.eventstore import MultiTrackingRecorder, WithEventsRecorder
from users.adapters.outbound.read_model import ProjectingRecorder


def test_the_library_still_has_the_method_the_recorder_overrides_with_the_same_parameters():
    hook = PostgresApplicationRecorder._fetch_ids_after_insert_events
    params = list(inspect.signature(hook).parameters.values())
    assert [p.name for p in params[:3]] == ["self", "curs", "stored_events"]
    assert [p.kind for p in params[3:]] == [inspect.Parameter.VAR_KEYWORD]


def test_the_librarys_insert_calls_it_with_the_saves_keyword_arguments_inside_the_events_transaction():
    source = inspect.getsource(PostgresApplicationRecorder.insert_events)
    transaction = source.index("conn.transaction()")
    insert = source.index("self._insert_stored_events(curs, stored_events, **kwargs)")
    hook = source.index("self._fetch_ids_after_insert_events(")
    assert transaction < insert < hook
    assert "curs, stored_events, **kwargs" in source[hook : source.index(")", hook)]


def test_the_recorder_overrides_the_hook_and_no_service_recorder_does():
    assert "_fetch_ids_after_insert_events" in vars(WithEventsRecorder)
    assert issubclass(WithEventsRecorder, MultiTrackingRecorder)
    for service_recorder in (IndexingRecorder, ProjectingRecorder):
        assert issubclass(service_recorder, WithEventsRecorder)
        assert "_fetch_ids_after_insert_events" not in vars(service_recorder)
