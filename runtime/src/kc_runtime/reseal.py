"""Re-sealing what an event store holds plain (ADR 0035, "Upcasting"): the one-off runbook step after the release
that sealed personal data, run once per service with ``python -m kc_runtime.reseal <package>``.

Events stored before a service sealed its personal fields hold them plain; they read as they are, but erasing
such a person leaves them readable. :func:`reseal` walks the application's events table in notification order, a
page at a time, and for every stored event whose declared personal fields (``ServiceApplication.personal_data``)
hold a plain text — not empty, not already sealed — writes the event's state again with those fields sealed
under their owner's key, as the event store would have written them. A value whose owner is erased (the ring
answers ``None``) becomes ``None``; a value whose owner users does not know (``UNKNOWN``: an ERP contact, test
data) stays plain, as it would be stored today. Sealed values are left as they are (no new nonce), so a second
run changes nothing.

**In place, not copy-and-switch.** Each changed row's ``state`` is updated by its primary key (``originator_id``,
``originator_version``); topic, version and notification id stay, so tracking positions, followers' positions and
the relay's log are untouched. A row's update is atomic: a reader sees the plain or the sealed state, and the
application reads both the same (a plain value as it is, a sealed one opened). Writers only append, and never
write a stored row again, so the service keeps running meanwhile: a page's updates are one short transaction
(the library's writers' table lock waits for it), and each update only applies if the row still holds the state
that was read (a second run at the same time changes nothing twice). A copy of the table to switch to would have
to stop the service (the events appended while copying, the sequence of notification ids, the table the running
processes hold open) and doubles the table's space for a while — for no gain in what readers see.

A state is sealed as it is stored, before any upcaster: the fields declared are those of the current class (no event
class of ours has a ``class_version`` above 1 yet; one that renames a personal field must declare the old name too).

**Legacy states.** An event stored by an older release may hold personal values as no new event does: with no
owner to seal them for (a registration attempt submitted before ADR 0040), or where nothing reads them (the address
an e-mail claim made before the blind indexes kept). The application declares such classes with a step each
(``ServiceApplication.legacy_personal_data``, read here only), called in notification order before the state is
sealed: it names the owner (then ``personal_data`` seals the values) or blanks the value, and answers how many it
changed — 0 for a state stored today or by an earlier run, so a second run still changes nothing.

Not walked: the snapshots table. Personal fields are declared per event class, and the aggregates that are
snapshotted (approval's ledgers and credit, registration's lockout counters) hold none; a snapshot of an aggregate
whose events were written again is dropped (it holds what they held before): the service reads the aggregate from
its events and snapshots it anew.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import Mapper
from eventsourcing.utils import resolve_topic
from psycopg.sql import SQL, Identifier

from kc_runtime.eventstore import LegacyStep, ServiceApplication
from kc_runtime.sealing import KeyRing, Personal, deep_value_at, is_sealed, specs_of

log = structlog.get_logger("kc.reseal")

PAGE_SIZE = 500


@dataclass
class Resealed:
    """What a run did to one events table."""

    table: str
    events_read: int = 0
    """Every stored event walked."""
    events_resealed: int = 0
    """Rows whose state was written again."""
    values_sealed: int = 0
    values_erased: int = 0
    """Plain values of a person whose key is gone, now ``None``."""
    values_kept_plain: int = 0
    """Plain values whose owner users does not know as a person (stored plain today, too)."""
    legacy_values: int = 0
    """Values of legacy states changed by the application's steps (``legacy_personal_data``): an owner named, a
    value nothing reads blanked."""
    snapshots_dropped: int = 0
    """Snapshots of aggregates whose events were written again (taken from what they held before)."""
    pages: int = 0


@dataclass(frozen=True)
class Outcome:
    """What sealing one event's state changed."""

    sealed: int = 0
    erased: int = 0
    kept_plain: int = 0
    legacy: int = 0
    """Values the application's legacy step changed (an owner named, a value blanked)."""

    @property
    def changed(self) -> bool:
        return bool(self.sealed or self.erased or self.legacy)


def _is_plain(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not is_sealed(value)


def owners_to_seal(state: dict[str, Any], personal: Personal | tuple[Personal, ...]) -> set[UUID]:
    """The persons whose keys sealing ``state``'s plain personal fields needs (to fetch them for a page at once)."""
    owners = set()
    for spec in specs_of(personal):
        owner = spec.owner_of(state)
        if owner is not None and any(_is_plain(deep_value_at(state, name)) for name in spec.fields):
            owners.add(owner)
    return owners


def reseal_state(ring: KeyRing, personal: Personal | tuple[Personal, ...], state: dict[str, Any]) -> Outcome:
    """Seal the plain personal fields of an event's ``state`` in place, each spec's own way (its ``seal``, given
    only the fields that hold plain text: a sealed value keeps its nonce). ``state`` holds the event's
    ``originator_id`` (the default owner)."""
    sealed = erased = kept = 0
    for spec in specs_of(personal):
        plain = tuple(name for name in spec.fields if _is_plain(deep_value_at(state, name)))
        if not plain:
            continue
        if spec.owner_of(state) is None:
            continue  # names no person: no one's personal data (Personal.seal keeps it as it is, too)
        before = [deep_value_at(state, name) for name in plain]
        dataclasses.replace(spec, fields=plain).seal(ring, state)
        for name, was in zip(plain, before, strict=True):
            now = deep_value_at(state, name)
            if now is None:
                erased += 1
            elif now == was:
                kept += 1
            else:
                sealed += 1
    return Outcome(sealed, erased, kept)


def decode_state(mapper: Mapper[UUID], state: bytes) -> dict[str, Any]:
    """A stored event's state as the library's mapper decodes it (decrypt, decompress, JSON with transcodings)."""
    if mapper.cipher:
        state = mapper.cipher.decrypt(state)
    if mapper.compressor:
        state = mapper.compressor.decompress(state)
    decoded: dict[str, Any] = mapper.transcoder.decode(state)
    return decoded


def encode_state(mapper: Mapper[UUID], state: dict[str, Any]) -> bytes:
    """The other way, as the mapper encodes a new event's state."""
    stored = mapper.transcoder.encode(state)
    if mapper.compressor:
        stored = mapper.compressor.compress(stored)
    if mapper.cipher:
        stored = mapper.cipher.encrypt(stored)
    return stored


def reseal(app: ServiceApplication, page_size: int = PAGE_SIZE) -> Resealed:
    """Seal the plain personal values of every event ``app``'s PostgreSQL event store holds (see the module), with
    ``app``'s key ring. Logs every page; returns what it did. Idempotent; safe while the service runs. A failure
    (users unreachable for a key, say) leaves the pages done so far committed: run it again."""
    ring = app.key_ring
    if ring is None:
        raise ValueError(f"{app.name} has no key ring: nothing to seal with")
    recorder = app.recorder
    datastore: Any = getattr(recorder, "datastore", None)
    table = getattr(recorder, "events_table_name", None)
    if datastore is None or table is None or not hasattr(datastore, "schema"):
        raise TypeError(f"{app.name}'s event store is not on PostgreSQL")
    summary = Resealed(table=table)
    personal: Mapping[type, Personal | tuple[Personal, ...]] = app.personal_data
    legacy: Mapping[type, LegacyStep] = app.legacy_personal_data
    if not personal and not legacy:
        log.info("reseal: no personal data declared", application=app.name, table=table)
        return summary
    mapper = app.mapper
    select = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table}"
        " WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    ).format(schema=Identifier(datastore.schema), table=Identifier(table))
    update = SQL(
        "UPDATE {schema}.{table} SET state = %s WHERE originator_id = %s AND originator_version = %s AND state = %s"
    ).format(schema=Identifier(datastore.schema), table=Identifier(table))
    snapshots: Any = getattr(getattr(app.snapshots, "recorder", None), "events_table_name", None)
    drop = (
        SQL("DELETE FROM {schema}.{table} WHERE originator_id = ANY(%s)").format(
            schema=Identifier(datastore.schema), table=Identifier(snapshots)
        )
        if snapshots
        else None
    )
    classes: dict[str, type | None] = {}
    after = 0
    while True:
        with datastore.get_connection() as conn:
            rows = conn.execute(select, [after, page_size]).fetchall()
        if not rows:
            break
        after = rows[-1]["notification_id"]
        todo: list[tuple[dict[str, Any], dict[str, Any], Personal | tuple[Personal, ...], int]] = []
        for row in rows:
            topic = row["topic"]
            if topic not in classes:
                classes[topic] = _resolve(topic)
            cls = classes[topic]
            spec = personal.get(cls, ()) if cls is not None else ()
            step = legacy.get(cls) if cls is not None else None
            if not spec and step is None:
                continue
            state = decode_state(mapper, bytes(row["state"]))
            # the owner of most fields is the aggregate, which the stored state leaves out (as the mapper does)
            state["originator_id"] = row["originator_id"]
            state["originator_version"] = row["originator_version"]
            # in notification order: a step may rely on the earlier events of the aggregate having been seen
            stepped = step(app, state) if step is not None else 0
            todo.append((row, state, spec, stepped))
        ring.prefetch(_owners(todo))
        updates: list[tuple[Outcome, tuple[bytes, UUID, int, bytes]]] = []
        for row, state, spec, stepped in todo:
            outcome = dataclasses.replace(reseal_state(ring, spec, state), legacy=stepped)
            if not outcome.changed:
                summary.values_kept_plain += outcome.kept_plain
                continue
            del state["originator_id"], state["originator_version"]
            new = encode_state(mapper, state)
            updates.append((outcome, (new, row["originator_id"], row["originator_version"], bytes(row["state"]))))
        changed = 0
        if updates:
            with datastore.transaction(commit=True) as curs:
                rewritten: set[UUID] = set()
                for outcome, params in updates:
                    curs.execute(update, params)
                    if curs.rowcount != 1:
                        continue  # changed since it was read (another run at the same time): that run counts it
                    changed += 1
                    rewritten.add(params[1])
                    summary.values_sealed += outcome.sealed
                    summary.values_erased += outcome.erased
                    summary.values_kept_plain += outcome.kept_plain
                    summary.legacy_values += outcome.legacy
                if drop is not None and rewritten:
                    # a snapshot holds the aggregate as its events were then: the service reads it from its
                    # events again (and snapshots it anew)
                    curs.execute(drop, [list(rewritten)])
                    summary.snapshots_dropped += curs.rowcount
        summary.pages += 1
        summary.events_read += len(rows)
        summary.events_resealed += changed
        log.info(
            "reseal page",
            application=app.name,
            table=table,
            up_to_notification_id=after,
            rows_read=len(rows),
            rows_resealed=changed,
        )
    log.info("reseal done", application=app.name, **dataclasses.asdict(summary))
    return summary


def _resolve(topic: str) -> type | None:
    try:
        cls: type = resolve_topic(topic)
    except Exception:  # a class no longer in the code: none of its fields is declared personal either
        return None
    return cls


def _owners(todo: Iterable[tuple[Any, dict[str, Any], Personal | tuple[Personal, ...], int]]) -> set[UUID]:
    owners: set[UUID] = set()
    for _, state, spec, _stepped in todo:
        owners |= owners_to_seal(state, spec)
    return owners


def describe(service: str, summary: Resealed) -> str:
    """The one line the command prints."""
    return (
        f"{service}: {summary.table}: {summary.events_read} events read, {summary.events_resealed} re-sealed"
        f" ({summary.values_sealed} values sealed, {summary.values_erased} of erased persons cleared,"
        f" {summary.values_kept_plain} kept plain: no person users knows;"
        f" {summary.legacy_values} values of legacy events given an owner or blanked)"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m kc_runtime.reseal <package>``: the service's application as its composition root builds it
    (settings from the environment, the key ring from users), re-sealed."""
    from kc_runtime.schema import build_runtime  # the web stack it pulls in is only needed by the command

    parser = argparse.ArgumentParser(prog="kc_runtime.reseal", description=__doc__.split("\n\n")[0])
    parser.add_argument("package", help="the service's Python package: users, approval, notifications, erp_sync, …")
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE, help="events per page and transaction")
    args = parser.parse_args(argv)
    runtime = build_runtime(args.package, create=False)
    try:
        app = runtime.app
        assert isinstance(app, ServiceApplication)
        summary = reseal(app, page_size=args.page_size)
        print(describe(runtime.settings.service_name, summary))
        return 0
    finally:
        asyncio.run(_shut_down(runtime))
        runtime.blocking.shutdown()
        runtime.app.close()


async def _shut_down(runtime: Any) -> None:
    for hook in runtime.on_shutdown:  # the key client's connections and the like; nothing was started
        await hook()


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Outcome", "Resealed", "decode_state", "encode_state", "main", "reseal", "reseal_state"]
