"""erp-sync declares its tables beside the event store to the runtime (created or checked at start, never on use)."""

from __future__ import annotations

from erp_sync.adapters.outbound import read_model, replay_index


def test_the_read_model_is_created_by_the_runtime_and_the_replay_index_by_the_recorder_and_both_are_checked():
    assert read_model.TABLES.names == ("erp_sync_exchanges",) and read_model.TABLES.ddl == (read_model.SCHEMA,)
    assert replay_index.TABLES.names == ("erp_sync_replay_index", "erp_sync_replay_index_state")
    assert replay_index.TABLES.ddl == ()  # IndexingRecorder creates them with the event store's tables

