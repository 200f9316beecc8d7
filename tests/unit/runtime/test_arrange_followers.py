"""How a service's followers run (ADR 0036): those that only follow the log share one reader, the relay first; one
whose batch may wait long on something outside, or with a loop of its own, runs alone and so never holds them up."""

from __future__ import annotations

import asyncio

from kc_runtime.eventstore import ServiceApplication, WorkerPool
from kc_runtime.follower import Batch, LogFollower, LogReader, arrange

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class Follower(LogFollower):
    async def process(self, batch: Batch) -> None:
        pass


class WaitsOnTheMailServer(Follower):
    kind = "dispatcher"
    runs_alone = True


class Ticks(Follower):
    kind = "schedule"

    async def run(self, stopping: asyncio.Event) -> None:
        await stopping.wait()


def make(cls: type[LogFollower], app: ServiceApplication, pool: WorkerPool, kind: str | None = None) -> LogFollower:
    follower = cls(service="svc", app=app, dsn="postgresql://unused", blocking=pool)
    if kind:
        follower.kind = kind
        follower.name = f"svc:{kind}"
    return follower


def test_the_followers_of_the_log_share_one_reader_and_the_others_run_alone():
    app, pool = ServiceApplication(env=MEMORY), WorkerPool(1)
    try:
        relay, projector = make(Follower, app, pool, "relay"), make(Follower, app, pool, "projector")
        dispatcher, schedule = make(WaitsOnTheMailServer, app, pool), make(Ticks, app, pool)
        runners = arrange([relay, dispatcher, projector, schedule])
        reader, *alone = runners
        assert isinstance(reader, LogReader) and reader.followers == [relay, projector]
        assert alone == [dispatcher, schedule]
        assert arrange([dispatcher]) == [dispatcher]
    finally:
        pool.shutdown()
        app.close()
