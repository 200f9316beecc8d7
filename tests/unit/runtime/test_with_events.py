"""What ``kc_runtime.eventstore.WithEventsRecorder`` relies on in the eventsourcing library, checked without a
database (``tests/integration/test_with_events.py`` checks the behaviour on PostgreSQL): the private method it
overrides exists with the same parameters, and the library's insert calls it, with the save's keyword arguments,
inside the transaction that inserts the events."""

from __future__ import annotations

import inspect

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresApplicationRecorder

from erp_sync.adapters.outbound.replay_index import IndexingRecorder
from kc_runtime.eventstore import MultiTrackingRecorder, ServiceApplication, WithEventsRecorder
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


class _Thing(Aggregate):
    pass


class _Counted(ServiceApplication):
    """Hands every save's event count to a writer kwarg, and keeps what was recorded (as an in-memory store)."""

    def __init__(self) -> None:
        super().__init__(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.recorded: list[tuple[dict, list[int]]] = []

    def rows_with_events(self, events):
        return {"counted": len(events)} if events else {}

    def rows_recorded(self, rows, notification_ids):
        self.recorded.append((rows, list(notification_ids)))


def test_every_save_hands_its_rows_under_the_writers_kwarg_and_learns_their_notification_ids():
    app = _Counted()
    first, second = _Thing(), _Thing()
    app.save(first, second)  # group-committed
    tracked = _Thing()
    app.save_tracked(Tracking(application_name="upstream", notification_id=1), tracked)

    assert app.recorded == [({"counted": 2}, [1, 2]), ({"counted": 1}, [3])]


def test_the_library_still_hands_the_saves_keyword_arguments_from_record_to_the_recorder():
    source = inspect.getsource(Application._record)
    assert "processing_event.saved_kwargs" in source
