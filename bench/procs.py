"""CPU time of the local stack, per component, from /proc (user + system time of each process and its children).

A component is what ``deploy/local/stack.py`` starts (its pid file in ``.local/run``; PostgreSQL's from
``postmaster.pid``): the process and every process below it (PostgreSQL backends, nginx workers), threads included
(the JVM's). A process that ended (a PostgreSQL backend whose connection closed) is counted through its parent:
each process's own time plus the time of its children it has waited for (``cutime``/``cstime``), so a
component's figure never goes back when a child ends.

The PostgreSQL backends serving a stand-in's database (the ERP simulator's ``erp_simulator``: a real ERP keeps its
records on its own machine) are counted as that stand-in's (``erp-simulator-db``), not as the server's: a backend's
process title names its database. What cannot be told apart stays with ``postgres`` — the WAL writer's and
checkpointer's share of the simulator's commits, and a simulator backend that ended (its time moves to the
postmaster's ``cutime``; the simulator keeps its connections, so none ends during a step).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")

STAND_INS = frozenset({"erp-simulator", "erp-simulator-db", "dev-issuer", "smtp-sink"})
"""Systems that are not ours (ERP, identity provider, mailbox): shown, but not counted as the server's CPU."""

STAND_IN_DATABASES = {"erp_simulator": "erp-simulator-db"}
"""PostgreSQL databases of stand-ins → the component their backends' CPU is counted as."""


def _database_of(pid: int) -> str | None:
    """The database a PostgreSQL backend serves, from its process title (``postgres: <user> <database> <host>
    <state>``); None for background processes and anything else."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return None
    parts = title.split()
    if len(parts) >= 4 and parts[0] == "postgres:" and "(" in parts[3]:
        return parts[2]
    return None


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, cpu seconds of the process and of its ended, waited-for children), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[1]), sum(int(f) for f in fields[11:15]) / TICK


def _all() -> dict[int, tuple[int, float]]:
    out: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            out[int(entry)] = stat
    return out


def components() -> dict[str, int]:
    """Name → pid of every running component of the local stack (``stack.py status``)."""
    status = subprocess.run(  # noqa: S603 — our own interpreter and script
        [sys.executable, str(ROOT / "deploy" / "local" / "stack.py"), "status"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    out: dict[str, int] = {}
    for line in status.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3 and parts[1].isdigit() and parts[2].startswith("running"):
            out[parts[0]] = int(parts[1])
    return out


@dataclass(frozen=True)
class Sample:
    seconds: dict[str, float]
    """CPU seconds used so far by each component's process tree."""


class StackCpu:
    """Samples of the stack's CPU time; the difference of two samples is what each component used in between."""

    def __init__(self, extra: dict[str, int] | None = None, roots: dict[str, int] | None = None) -> None:
        """``roots``: name → pid of the process trees to sample (default: the local stack's components)."""
        self.roots = roots if roots is not None else {**components(), **(extra or {})}

    def sample(self) -> Sample:
        procs = _all()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        seconds: dict[str, float] = {}
        for name, root in self.roots.items():
            todo, total = [root], 0.0
            while todo:
                pid = todo.pop()
                if pid in procs:
                    moved = STAND_IN_DATABASES.get(_database_of(pid) or "") if name == "postgres" else None
                    if moved is not None:
                        seconds[moved] = seconds.get(moved, 0.0) + procs[pid][1]
                    else:
                        total += procs[pid][1]
                todo.extend(children.get(pid, ()))
            seconds[name] = total
        if "postgres" in self.roots:
            for moved in STAND_IN_DATABASES.values():
                seconds.setdefault(moved, 0.0)
        return Sample(seconds)

    @staticmethod
    def used(before: Sample, after: Sample) -> dict[str, float]:
        return {name: after.seconds[name] - before.seconds.get(name, 0.0) for name in after.seconds}


def server_seconds(used: dict[str, float]) -> float:
    """The product's CPU: our services, PostgreSQL, Kafka and the gateway — not the stand-ins, not the client."""
    return sum(v for k, v in used.items() if k not in STAND_INS and not k.startswith("client:"))


def self_cpu_seconds() -> float:
    """CPU seconds of this (the benchmark's) process so far."""
    return sum(os.times()[:2])
