"""Following the service's own notification log: the base of the outbox relay, the mail dispatcher, projectors.

One active follower per (service, name): a PostgreSQL advisory lock on a dedicated connection; other replicas
stand by and take over when the holder's connection drops. A service's relay and projections share one
:class:`LogReader` (ADR 0036): one connection holding all their locks, one read of the log per position, one
position write; :func:`arrange` decides which followers share it. The follower reads the log in order from its
stored position, hands each batch to :meth:`LogFollower.process`, and stores the new position only after
``process`` returned — a crash in between processes the batch again (so ``process`` must be idempotent, or its
effects deduplicated downstream). A :class:`Projection` (rows in the service's own database) instead writes its
rows through the reader's connection in one transaction with its position: exactly once, no pool of its own
(ADR 0038).

Waking: the event store ``NOTIFY``s its channel in every transaction that stores events, and the follower
``LISTEN``s on its lock connection, so it reads as soon as a change is committed and sleeps otherwise. The flag a
notification sets is cleared *before* each read, so a notification that arrives while a batch is being handled
makes the next wait return at once instead of being lost. A lost lock connection (the database restarted, the
backend was terminated) wakes the follower at once too (asyncpg's termination listener), and it reconnects.
``idle_interval_s`` is only a safety net for an event whose notification never came (written by something that
does not notify, e.g. a restore or SQL by hand): PostgreSQL delivers every notification committed after
``LISTEN`` to a live session, so seconds are enough, and an idle stack does not pay for polling.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from eventsourcing.persistence import Notification

from kc_runtime import metrics
from kc_runtime.eventstore import MetadataMapper, ServiceApplication, WorkerPool
from kc_runtime.parking import PARKED_TABLE, PARKED_TABLE_DDL, ParkedRetry, describe, event_type, is_infrastructure
from kc_runtime.pools import create_pool
from kc_runtime.retrying import backoff_s, retrying

log = structlog.get_logger("kc.follower")

Batch = list[tuple[Notification, Any, dict[str, str]]]


class DecodedLog:
    """The service's log as its followers read it, each stored event decoded once per process.

    A service's followers (relay, projections, operator views) read the same notifications shortly after each other;
    decoding a stored event (JSON, value objects, the aggregate's event class) is most of what a read costs. A
    follower that reads apart (behind the others, or alone) reads the rows itself, from its own position (a cache of
    rows could not tell a gap in the ids from a row not yet read); only the decoded event and its metadata are
    shared, for the ``capacity`` most recently decoded notifications. A committed notification never changes, and
    the cached entry is checked against the row's aggregate and version before it is used. Followers treat events
    and metadata as read-only (the library's events are frozen)."""

    def __init__(self, app: ServiceApplication, capacity: int = 8192) -> None:
        self.app = app
        self.capacity = capacity
        self._decoded: OrderedDict[int, tuple[Any, dict[str, str]]] = OrderedDict()
        self._lock = threading.Lock()
        self.decoded = 0
        """Events decoded so far (a figure for tests and profiles)."""

    @classmethod
    def of(cls, app: ServiceApplication) -> DecodedLog:
        """The one shared by every follower of ``app`` in this process."""
        shared = getattr(app, "_kc_decoded_log", None)  # a stand-in app (a test's) may not declare it
        if shared is None:
            with _OF_LOCK:
                shared = getattr(app, "_kc_decoded_log", None)
                if shared is None:
                    shared = cls(app)
                    app._kc_decoded_log = shared
        return shared

    def read(self, after: int, limit: int) -> Batch:
        """Up to ``limit`` notifications with ids above ``after``, each with its event and metadata, as
        :meth:`ServiceApplication.notifications` (blocking: run it in the worker pool)."""
        mapper = self.app.mapper
        assert isinstance(mapper, MetadataMapper)
        rows = self.app.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
        out: Batch = []
        fresh: list[tuple[int, tuple[Any, dict[str, str]]]] = []
        with self._lock:
            known = [self._decoded.get(n.id) for n in rows]
        for n, hit in zip(rows, known, strict=True):
            if hit is None or not _same(hit[0], n):
                hit = mapper.to_domain_event_with_meta(n)
                fresh.append((n.id, hit))
            out.append((n, hit[0], hit[1]))
        if fresh:
            with self._lock:
                self.decoded += len(fresh)
                self._decoded.update(fresh)
                while len(self._decoded) > self.capacity:
                    self._decoded.popitem(last=False)
        return out


_OF_LOCK = threading.Lock()


def _same(event: Any, notification: Notification) -> bool:
    return bool(
        getattr(event, "originator_id", None) == notification.originator_id
        and getattr(event, "originator_version", None) == notification.originator_version
    )


POSITION_TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS kc_follower_position ("
    " name text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
)


class LogFollower:
    kind = "follower"
    create_schema = True
    """False: the position table must exist already (``python -m kc_runtime.schema create``)."""
    runs_alone = False
    """True: a follower whose batch may wait long on something outside the service's database — a mail server that
    is away, an operator's replay of the log — gets a :class:`LogReader` of its own, so it never holds up the relay
    and the projections that share one (ADR 0036)."""
    parks = True
    """Park an event that fails for a reason of its own content (see :mod:`kc_runtime.parking`); False: retry the
    batch until it passes (a follower whose work is not per event, e.g. a gauge)."""

    def __init__(
        self,
        *,
        service: str,
        app: ServiceApplication,
        dsn: str,
        blocking: WorkerPool,
        batch_size: int = 500,
        idle_interval_s: float = 5.0,
        name: str | None = None,
    ) -> None:
        self.service = service
        self.app = app
        self.dsn = dsn
        self.blocking = blocking
        self.batch_size = batch_size
        self.idle_interval_s = idle_interval_s
        self.name = name or f"{service}:{app.name}:{self.kind}"
        self.position = 0
        self.active = False
        self._parked: dict[str, int] = {}
        """Aggregates with a parked event → the first parked notification id."""
        self._isolating = True
        """False while a :class:`LogReader` tries a cycle's projections without savepoints: a failure then aborts the
        whole attempt (nothing is isolated or parked), and the reader runs them again the careful way."""
        self.decoded_log = DecodedLog.of(app)
        self.log = log.bind(follower=self.kind)

    async def process(self, batch: Batch) -> None:
        """Handle a batch of notifications (in order). Raise to retry the batch later; an exception that is not an
        outage (:func:`kc_runtime.parking.is_infrastructure`) parks the event at fault instead."""
        raise NotImplementedError

    def on_active(self, active: bool) -> None:
        """Hook for metrics."""

    def on_position(self, position: int, top: int) -> None:
        """Hook for metrics."""

    async def run(self, stopping: asyncio.Event) -> None:
        """Follow until ``stopping`` is set, alone (a service's runtime runs its followers together in one
        :class:`LogReader`). Survives broker and database outages by retrying with backoff."""
        await LogReader([self]).run(stopping)

    async def _advance(self, conn: asyncpg.Connection, batch: Batch, limit: int) -> bool:
        """Handle ``batch`` (read from ``self.position`` with ``limit``); the position moves in memory only (the
        reader stores it once the batch is handled). True when the log is read to its end (as far as the read could
        see)."""
        if not batch:
            self.on_position(self.position, self.position)
            return True
        consumed = await self._handle(conn, batch)
        self.position = consumed[-1][0].id
        if len(batch) < limit:
            # A short batch was everything visible at the read: its last id was the log's end then.
            self.on_position(self.position, batch[-1][0].id)
            return len(consumed) == len(batch)  # a prefix (a retry request came up): the rest at once
        return False

    # ---- parking (see kc_runtime.parking) ----------------------------------------------------------------

    async def _handle(self, conn: asyncpg.Connection, batch: Batch) -> Batch:
        """Process what of ``batch`` can be processed now; returns the entries dealt with (a prefix of it).

        Retry requests for other followers are skipped; one for this follower is handled alone (what comes before
        it first); events of an aggregate with a parked event are parked behind it."""
        consumed: Batch = []
        work: Batch = []
        for entry in batch:
            event = entry[1]
            if isinstance(event, ParkedRetry.Requested):
                if event.follower != self.name:
                    consumed.append(entry)
                    continue
                if consumed:
                    break
                await self._retry_parked(conn, entry)
                return [entry]
            consumed.append(entry)
            blocked_by = self._parked.get(str(entry[0].originator_id)) if self.parks else None
            if blocked_by is not None:
                await self._park(conn, entry, f"waiting behind parked notification {blocked_by}", blocked_by)
                continue
            work.append(entry)
        if work:
            await self._process_isolating(conn, work)
        return consumed

    async def _process_isolating(self, conn: asyncpg.Connection, work: Batch) -> None:
        if not self._isolating:
            await self._process(conn, work)
            return
        try:
            await self._process(conn, work)
            return
        except Exception as exc:
            if not self.parks or is_infrastructure(exc) or len(work) == 0:
                raise
            self.log.warning("batch failed, isolating the event at fault", error=describe(exc), events=len(work))
        # One by one: the events before the bad one are handled again (process is idempotent), the bad one is
        # parked, its aggregate's later events wait behind it, everything else goes on.
        for entry in work:
            blocked_by = self._parked.get(str(entry[0].originator_id))
            if blocked_by is not None:
                await self._park(conn, entry, f"waiting behind parked notification {blocked_by}", blocked_by)
                continue
            try:
                await self._process(conn, [entry])
            except Exception as exc:
                if is_infrastructure(exc):
                    raise
                await self._park(conn, entry, describe(exc), None)

    async def _park(self, conn: asyncpg.Connection, entry: Any, reason: str, blocked_by: int | None) -> None:
        notification, event, _ = entry
        aggregate = str(notification.originator_id)
        await conn.execute(
            f"INSERT INTO {PARKED_TABLE} (follower, notification_id, aggregate_id, aggregate_version, event_type,"
            " reason, blocked_by) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (follower, notification_id) DO UPDATE SET reason = EXCLUDED.reason,"
            " blocked_by = EXCLUDED.blocked_by, attempts = kc_parked_event.attempts + 1, last_attempt_at = now()",
            self.name,
            notification.id,
            aggregate,
            notification.originator_version,
            event_type(event),
            reason,
            blocked_by,
        )
        self._parked.setdefault(aggregate, notification.id)
        kind = "held" if blocked_by is not None else "poison"
        metrics.PARKED.labels(self.service, self.kind, kind).inc()
        self._count_parked()
        self.log.error(
            "event parked",
            notification_id=notification.id,
            aggregate_id=aggregate,
            event_type=event_type(event),
            reason=reason,
            blocked_by=blocked_by,
        )

    async def _retry_parked(self, conn: asyncpg.Connection, request: Any) -> None:
        aggregate = request[1].aggregate_id
        row = await conn.fetchrow(
            f"SELECT notification_id FROM {PARKED_TABLE} WHERE follower = $1 AND aggregate_id = $2"
            " ORDER BY notification_id LIMIT 1",
            self.name,
            aggregate,
        )
        if row is None:
            return
        original = await self.blocking.run(self.app.notifications, row["notification_id"] - 1, 1)
        if not original or original[0][0].id != row["notification_id"]:
            raise RuntimeError(f"parked notification {row['notification_id']} not found in the log")
        try:
            await self._process_retried(conn, original[0], request)
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            await conn.execute(
                f"UPDATE {PARKED_TABLE} SET reason = $3, blocked_by = NULL, attempts = attempts + 1,"
                " last_attempt_at = now() WHERE follower = $1 AND notification_id = $2",
                self.name,
                row["notification_id"],
                describe(exc),
            )
            self.log.error("parked event failed again", notification_id=row["notification_id"], reason=describe(exc))
            return
        nxt = await conn.fetchval(
            f"WITH gone AS (DELETE FROM {PARKED_TABLE} WHERE follower = $1 AND notification_id = $2)"
            f" SELECT min(notification_id) FROM {PARKED_TABLE} WHERE follower = $1 AND aggregate_id = $3"
            " AND notification_id <> $2",
            self.name,
            row["notification_id"],
            aggregate,
        )
        if nxt is None:
            self._parked.pop(aggregate, None)
        else:
            self._parked[aggregate] = int(nxt)
            await conn.execute(
                f"UPDATE {PARKED_TABLE} SET blocked_by = NULL WHERE follower = $1 AND notification_id = $2",
                self.name,
                nxt,
            )
        metrics.PARKED_RELEASED.labels(self.service, self.kind).inc()
        self._count_parked()
        self.log.info("parked event handled", notification_id=row["notification_id"], aggregate_id=aggregate)

    async def process_retried(self, entry: Any, request: Any) -> None:
        """Handle a parked event again (``request``: the retry request's log entry). Raise as ``process`` does."""
        await self.process([entry])

    async def _process(self, conn: asyncpg.Connection, batch: Batch) -> None:
        """The batch's effects: :meth:`process` (a :class:`Projection` writes through ``conn`` instead)."""
        await self.process(batch)

    async def _process_retried(self, conn: asyncpg.Connection, entry: Any, request: Any) -> None:
        await self.process_retried(entry, request)

    async def _load_parked(self, conn: asyncpg.Connection) -> None:
        rows = await conn.fetch(
            f"SELECT aggregate_id, min(notification_id) AS first FROM {PARKED_TABLE} WHERE follower = $1"
            " GROUP BY aggregate_id",
            self.name,
        )
        self._parked = {r["aggregate_id"]: int(r["first"]) for r in rows}
        self._count_parked()

    def _count_parked(self) -> None:
        metrics.PARKED_NOW.labels(self.service, self.kind).set(len(self._parked))

    def _set_active(self, active: bool) -> None:
        self.active = active
        self.on_active(active)


class ProjectionRows:
    """The rows a :class:`Projection` keeps, as their store offers them: :meth:`project` writes a batch's rows with a
    connection it is given; :meth:`apply` does it in a transaction of its own (tools, tests).

    The store's pool serves its queries (the projection writes with the log reader's connection). It is created on
    first use, in the running event loop, with at most ``max_size`` connections; ``schema``: statements run then
    (tests, tools — a service's database is migrated, ADR 0019); :meth:`on_pool` runs once it is made."""

    def __init__(self, dsn: str, *, max_size: int = 4, schema: Sequence[str] = ()) -> None:
        self.dsn = dsn
        self.max_size = max_size
        self.schema = list(schema)
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                pool = await create_pool(self.dsn, min_size=1, max_size=self.max_size)
                async with pool.acquire() as conn:
                    for statement in self.schema:
                        await conn.execute(statement)
                    await self.on_pool(conn)
                self._pool = pool
        return self._pool

    async def on_pool(self, conn: asyncpg.Connection) -> None:
        """Once the pool is made (e.g. a figure read at start)."""

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def project(self, conn: asyncpg.Connection, batch: Batch) -> None:
        raise NotImplementedError

    async def apply(self, batch: Batch) -> None:
        pool = await self.pool()
        async with pool.acquire() as conn, conn.transaction():
            await self.project(conn, batch)


class Projection(LogFollower):
    """A follower whose effects are rows of the service's own database (a read model, figures): :meth:`project`
    writes them through the reader's connection, in one transaction with the projection's position — each event is
    projected exactly once, a crash in between leaves neither, and the projection needs no pool of its own. An
    attempt that fails is rolled back to a savepoint, so the events before a bad one can be projected and the bad
    one parked in the same transaction."""

    def __init__(self, *, rows: ProjectionRows, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows = rows

    async def project(self, conn: asyncpg.Connection, batch: Batch) -> None:
        """Write the batch's rows with ``conn`` (inside the transaction; never commit)."""
        await self.rows.project(conn, batch)

    async def process(self, batch: Batch) -> None:
        raise TypeError("a projection writes with the reader's connection: see project()")

    async def _process(self, conn: asyncpg.Connection, batch: Batch) -> None:
        if not self._isolating:  # the reader's optimistic attempt: a failure aborts its transaction as a whole
            await self.project(conn, batch)
            return
        async with conn.transaction():  # a savepoint inside the position's transaction
            await self.project(conn, batch)

    async def _process_retried(self, conn: asyncpg.Connection, entry: Any, request: Any) -> None:
        await self._process(conn, [entry])


class LogReader:
    """One reader of a service's log for the followers of it in this process (the relay and the projections).

    Each follower keeps its own position, parked events and back-off; what they share is the work around them.
    Followers at the same position (all of them, once they have caught up) get one read of the log, one decode of
    each event (:class:`DecodedLog`), one lock connection that ``LISTEN``s, and their new positions in one
    statement — instead of a connection, a read and a position write each per stored transaction. A follower
    behind the others (a new projection rebuilding) reads from its own position, so it never holds up the rest.

    One reader holds every follower's advisory lock (``kc-follower:<name>``, taken in name order, all or none),
    so a replica's followers fail over together and a follower run on its own elsewhere still excludes it.
    A follower whose batch fails for a reason of the outside (an outage) backs off alone — inactive until it
    passes — while the others go on; a lost database connection stops them all until it is back."""

    def __init__(self, followers: Sequence[LogFollower]) -> None:
        if not followers:
            raise ValueError("a log reader needs at least one follower")
        first = followers[0]
        if any(f.app is not first.app or f.dsn != first.dsn for f in followers):
            raise ValueError("the followers of one reader read one application's log")
        self.followers = list(followers)
        """In the order they handle a batch (the runtime puts the relay first: the ERP waits for it)."""
        self.app, self.dsn, self.blocking = first.app, first.dsn, first.blocking
        self.service = first.service
        self.decoded_log = first.decoded_log
        self.idle_interval_s = min(f.idle_interval_s for f in followers)
        self.create_schema = any(f.create_schema for f in followers)
        self.log = log.bind(followers=[f.kind for f in self.followers])
        self._wakeup = asyncio.Event()
        self.lock_attempts = 0
        """How often the reader tried to take its followers' locks (a figure for tests and logs)."""
        self._failures: dict[str, int] = {}
        self._retry_at: dict[str, float] = {}

    async def run(self, stopping: asyncio.Event) -> None:
        """Follow until ``stopping`` is set. Survives database outages by reconnecting with backoff."""

        def on_retry(exc: BaseException, wait: float) -> None:
            self._set_active(False)
            self.log.warning("interrupted, retrying", error=repr(exc), retry_in_s=round(wait, 2))

        async def pause(seconds: float) -> None:
            await wait_or_stop(stopping, seconds)

        while not stopping.is_set():  # a clean return starts the back-off afresh
            try:
                async for attempt in retrying(
                    initial_s=0.5, max_s=10.0, on_retry=on_retry, sleep=pause, stop=lambda _: stopping.is_set()
                ):
                    with attempt:
                        await self._run_locked(stopping)
            except Exception:
                if not stopping.is_set():
                    raise
                self._set_active(False)

    async def _lock_all(self, conn: asyncpg.Connection) -> bool:
        self.lock_attempts += 1
        taken: list[str] = []
        for follower in sorted(self.followers, key=lambda f: f.name):
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", "kc-follower:" + follower.name):
                for name in taken:
                    await conn.fetchval("SELECT pg_advisory_unlock(hashtext($1))", "kc-follower:" + name)
                return False
            taken.append(follower.name)
        return True

    async def _run_locked(self, stopping: asyncio.Event) -> None:
        conn = await asyncpg.connect(self.dsn, timeout=10)
        try:
            if self.create_schema:
                await conn.execute(POSITION_TABLE_DDL)
                await conn.execute(PARKED_TABLE_DDL)
            while not stopping.is_set():
                if await self._lock_all(conn):
                    break
                await wait_or_stop(stopping, 2.0)
            else:
                return
            rows = await conn.fetch(
                "SELECT name, position FROM kc_follower_position WHERE name = ANY($1::text[])",
                [f.name for f in self.followers],
            )
            stored = {r["name"]: int(r["position"]) for r in rows}
            for follower in self.followers:
                follower.position = stored.get(follower.name, 0)
                await follower._load_parked(conn)
                self._failures.pop(follower.name, None)
                self._retry_at.pop(follower.name, None)
            self._set_active(True)
            self.log.info("active", positions={f.kind: f.position for f in self.followers})
            table = self.app.events_table_name
            if table:
                # Listening before the first read: whatever is committed from here on is read or notified.
                await conn.add_listener(table.replace(".", "_"), lambda *_: self._wakeup.set())
            conn.add_termination_listener(lambda *_: self._wakeup.set())
            while not stopping.is_set():
                if conn.is_closed():
                    raise ConnectionError("lock connection lost")
                self._wakeup.clear()
                if await self._cycle(conn):
                    await _wait_any(stopping, self._wakeup, self._pause_s())
        finally:
            self._set_active(False)
            await conn.close(timeout=5)

    def _pause_s(self) -> float:
        """How long to sleep when every due follower has caught up: until the next notification, the safety net,
        or the next follower's back-off ends."""
        if not self._retry_at:
            return self.idle_interval_s
        soonest = min(self._retry_at.values()) - asyncio.get_running_loop().time()
        return max(0.0, min(self.idle_interval_s, soonest))

    async def _cycle(self, conn: asyncpg.Connection) -> bool:
        """One read per position the due followers are at, each follower handling its part: the others first (the
        relay), outside any transaction — their batches may wait on Kafka or a mail server — then the projections,
        each in a savepoint of one transaction that also stores every follower's new position (one upsert; no
        transaction when no projection read anything). True when every due follower has read the log to its end."""
        now = asyncio.get_running_loop().time()
        work: list[tuple[int, LogFollower]] = []
        batches: dict[int, Batch] = {}
        for follower in self.followers:
            if self._retry_at.get(follower.name, 0.0) <= now:
                work.append((follower.position, follower))
        for position in dict.fromkeys(p for p, _ in work):
            limit = max(f.batch_size for p, f in work if p == position)
            batches[position] = batch = await self.blocking.run(self.decoded_log.read, position, limit)
            if batch:
                metrics.LOG_READ_EVENTS.labels(self.service).observe(len(batch))
        plain = [(p, f) for p, f in work if not isinstance(f, Projection)]
        projections = [(p, f) for p, f in work if isinstance(f, Projection)]
        caught_up, moved = await self._hand_out(conn, plain, batches)
        if any(batches[p][: f.batch_size] for p, f in projections):
            optimistic = await self._project_optimistically(conn, projections, batches, moved)
            if optimistic is not None:
                return caught_up and optimistic
            async with conn.transaction():
                done, projected = await self._hand_out(conn, projections, batches)
                await self._store_positions(conn, [*moved, *projected])
        else:
            done, projected = await self._hand_out(conn, projections, batches)
            await self._store_positions(conn, [*moved, *projected])
        return caught_up and done

    async def _project_optimistically(
        self,
        conn: asyncpg.Connection,
        projections: Sequence[tuple[int, LogFollower]],
        batches: dict[int, Batch],
        moved: Sequence[LogFollower],
    ) -> bool | None:
        """The cycle's projections in one transaction without a savepoint each (two round trips per projection and
        cycle saved — nearly always nothing fails), with every moved position. None: something failed, the
        transaction is rolled back and the projections' positions and memory of parked events are as before — the
        caller runs them again the careful way (each in savepoints, a failure isolated, a bad event parked, the
        others going on). Otherwise whether every projection has read the log to its end."""
        before = {f.name: f.position for _, f in projections}
        try:
            for _, f in projections:
                f._isolating = False
            async with conn.transaction():
                done, projected = await self._hand_out(conn, projections, batches, isolate=False)
                await self._store_positions(conn, [*moved, *projected])
        except Exception as exc:
            if conn.is_closed():
                raise
            for _, f in projections:
                f.position = before[f.name]
                await f._load_parked(conn)  # what the attempt parked or released is gone with it
            self.log.info("projections failed together; projecting them one by one", error=describe(exc))
            return None
        finally:
            for _, f in projections:
                f._isolating = True
        return done

    async def _hand_out(
        self,
        conn: asyncpg.Connection,
        work: Sequence[tuple[int, LogFollower]],
        batches: dict[int, Batch],
        *,
        isolate: bool = True,
    ) -> tuple[bool, list[LogFollower]]:
        """Each follower's share of the batch read at its position; (all read to the end, the followers moved)."""
        caught_up = True
        moved: list[LogFollower] = []
        top: int | None = None
        for position, follower in work:
            batch = batches[position][: follower.batch_size]
            try:
                if not isolate:
                    done = await follower._advance(conn, batch, follower.batch_size)
                elif isinstance(follower, Projection):
                    done = await self._project(conn, follower, batch)
                else:
                    done = await follower._advance(conn, batch, follower.batch_size)
            except Exception as exc:
                if conn.is_closed() or not isolate:
                    raise
                self._back_off(follower, exc)  # the others go on; it is read again when its wait is over
                continue
            self._passed(follower)
            if follower.position != position:
                moved.append(follower)
            if not done:
                caught_up = False
                if len(batch) >= follower.batch_size:  # a full batch: the log may be far longer
                    if top is None:
                        top = await self.blocking.run(self.app.max_notification_id)
                    follower.on_position(follower.position, top)
        return caught_up, moved

    @staticmethod
    async def _store_positions(conn: asyncpg.Connection, moved: Sequence[LogFollower]) -> None:
        if moved:
            await conn.execute(
                "INSERT INTO kc_follower_position (name, position)"
                " SELECT * FROM unnest($1::text[], $2::bigint[])"
                " ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
                [f.name for f in moved],
                [f.position for f in moved],
            )

    async def _project(self, conn: asyncpg.Connection, projection: Projection, batch: Batch) -> bool:
        """A projection's batch in a savepoint of the cycle's transaction (its position is stored with the others,
        in the same transaction); on failure nothing of it, and its memory of parked events is read again (what the
        savepoint parked is gone with it)."""
        if not batch:
            return await projection._advance(conn, batch, projection.batch_size)
        before = projection.position
        try:
            async with conn.transaction():
                return await projection._advance(conn, batch, projection.batch_size)
        except Exception:
            projection.position = before
            if not conn.is_closed():
                await projection._load_parked(conn)
            raise

    def _back_off(self, follower: LogFollower, exc: Exception) -> None:
        failures = self._failures.get(follower.name, 0) + 1
        self._failures[follower.name] = failures
        wait = backoff_s(failures, 0.5, 10.0)
        self._retry_at[follower.name] = asyncio.get_running_loop().time() + wait
        follower._set_active(False)
        follower.log.warning("interrupted, retrying", error=repr(exc), retry_in_s=round(wait, 2))

    def _passed(self, follower: LogFollower) -> None:
        if self._failures.pop(follower.name, None) is not None:
            self._retry_at.pop(follower.name, None)
            follower._set_active(True)

    def _set_active(self, active: bool) -> None:
        for follower in self.followers:
            follower._set_active(active)


def arrange(followers: Sequence[LogFollower]) -> list[LogReader | LogFollower]:
    """How a service's followers run: those that only follow the log in one shared :class:`LogReader` (in the order
    given: the runtime puts the relay first); one with a loop of its own, or one that runs alone, by itself."""
    together = [f for f in followers if type(f).run is LogFollower.run and not f.runs_alone]
    alone: list[LogReader | LogFollower] = [f for f in followers if f not in together]
    return ([LogReader(together)] if together else []) + alone


async def wait_or_stop(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _wait_any(a: asyncio.Event, b: asyncio.Event, seconds: float) -> None:
    tasks = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


__all__ = ["Batch", "DecodedLog", "LogFollower", "LogReader", "arrange", "metrics", "wait_or_stop"]
