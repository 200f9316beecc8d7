"""Operator commands of erp-sync: stored first, carried out by the operations follower (see the domain module)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from erp_sync.application.exchanges import ExchangeNotFound, Exchanges
from erp_sync.domain.operations import OperatorRun


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OperatorRuns:
    def __init__(self, exchanges: Exchanges, clock: Callable[[], datetime] = _utcnow) -> None:
        self.exchanges = exchanges
        self.clock = clock

    def request(self, kind: str, parameters: dict[str, Any]) -> OperatorRun:
        run = OperatorRun(kind=kind, parameters=parameters, requested_at=self.clock())
        self.exchanges.save(run)
        return run

    def complete(self, run_id: UUID, result: dict[str, Any]) -> None:
        run = self.run(run_id)
        run.complete(result, self.clock())
        self.exchanges.save(run)

    def fail(self, run_id: UUID, error: str, result: dict[str, Any]) -> None:
        run = self.run(run_id)
        run.fail(error, result, self.clock())
        self.exchanges.save(run)

    def run(self, run_id: UUID) -> OperatorRun:
        found = self.exchanges.find(run_id)
        if not isinstance(found, OperatorRun):
            raise ExchangeNotFound("No such operator run.")
        return found
