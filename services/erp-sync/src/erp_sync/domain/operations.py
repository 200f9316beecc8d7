"""Operator commands that take longer than a request: a replay of ERP-facing messages, a retry of dead letters.

A command is stored as an :class:`OperatorRun` (so the process that runs it need not be the one that took the
request) and carried out by erp-sync's operations follower, which records the outcome.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from eventsourcing.domain import Aggregate, event


class RunKind(StrEnum):
    _value_: Literal["replay", "dead-letter-retry"]  # the type of .value: the literals the API shows
    REPLAY = "replay"
    DEAD_LETTER_RETRY = "dead-letter-retry"


class RunStatus(StrEnum):
    _value_: Literal["requested", "completed", "failed"]  # the type of .value
    REQUESTED = "requested"
    COMPLETED = "completed"
    FAILED = "failed"


class OperatorRun(Aggregate):
    class Requested(Aggregate.Created):
        kind: str
        parameters: dict[str, Any]
        requested_at: datetime

    @event(Requested)
    def __init__(self, kind: str, parameters: dict[str, Any], requested_at: datetime) -> None:
        if kind not in {k.value for k in RunKind}:
            raise ValueError(f"unknown operator run {kind!r}")
        self.kind = RunKind(kind)
        self.parameters = parameters
        self.requested_at = requested_at
        self.status = RunStatus.REQUESTED
        self.result: dict[str, Any] = {}
        self.error: str | None = None
        self.finished_at: datetime | None = None

    def complete(self, result: dict[str, Any], at: datetime) -> None:
        if self.status is RunStatus.REQUESTED:
            self._completed(result=result, at=at)

    class Completed(Aggregate.Event):
        result: dict[str, Any]
        at: datetime

    @event(Completed)
    def _completed(self, result: dict[str, Any], at: datetime) -> None:
        self.status = RunStatus.COMPLETED
        self.result = result
        self.finished_at = at

    def fail(self, error: str, result: dict[str, Any], at: datetime) -> None:
        if self.status is RunStatus.REQUESTED:
            self._failed(error=error, result=result, at=at)

    class Failed(Aggregate.Event):
        error: str
        result: dict[str, Any]
        at: datetime

    @event(Failed)
    def _failed(self, error: str, result: dict[str, Any], at: datetime) -> None:
        self.status = RunStatus.FAILED
        self.error = error
        self.result = result
        self.finished_at = at
