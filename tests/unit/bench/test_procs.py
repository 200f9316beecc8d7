"""The bench's /proc accounting: a component's CPU time never goes back when one of its processes ends."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bench import procs
from bench.procs import StackCpu

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


def test_a_child_that_ended_is_still_counted_through_its_parent() -> None:
    # The parent starts a child that burns 0.3 s of CPU, waits for it, then stays alive (a postmaster and a
    # backend whose connection closed).
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\nsys.stdin.readline()\n"
            f"subprocess.run([sys.executable, '-c', {BURN!r}])\n"
            "print('done', flush=True)\nsys.stdin.readline()\n",  # alive until killed
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        cpu = StackCpu(roots={"parent": parent.pid})
        before = cpu.sample()
        assert parent.stdin is not None and parent.stdout is not None
        parent.stdin.write(b"go\n")
        parent.stdin.flush()
        assert parent.stdout.readline().strip() == b"done"  # the child has ended and was waited for
        deadline = time.monotonic() + 5
        used = StackCpu.used(before, cpu.sample())["parent"]
        while used < 0.25 and time.monotonic() < deadline:
            used = StackCpu.used(before, cpu.sample())["parent"]
        assert used >= 0.25
    finally:
        parent.kill()
        parent.wait()


def _titled(title: str, code: str) -> subprocess.Popen[bytes]:
    """A process whose title (argv[0]) is ``title`` — as PostgreSQL names its backends — running ``code``."""
    return subprocess.Popen(
        ["bash", "-c", 'exec -a "$0" "$1" -c "$2"', title, sys.executable, code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )


def test_backends_of_a_stand_ins_database_are_the_stand_ins_not_the_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    # A "postmaster" with two "backends": one serving the ERP simulator's database (a stand-in's records), one ours.
    # Each burns 0.3 s once told to; the first is counted as erp-simulator-db, the second as postgres.
    go = "import sys\nsys.stdin.readline()\n" + BURN + "print('done', flush=True)\nsys.stdin.readline()\n"
    root = _titled("postgres -D data", "import sys\nsys.stdin.readline()\n")
    simulator = _titled("postgres: erp_simulator erp_simulator 127.0.0.1(40000) idle", go)
    ours = _titled("postgres: approval approval 127.0.0.1(40001) idle", go)
    backends = (simulator, ours)
    real_all = procs._all

    def with_backends_as_children() -> dict[int, tuple[int, float]]:  # as the postmaster's forks would be
        found = real_all()
        for child in backends:
            if child.pid in found:
                found[child.pid] = (root.pid, found[child.pid][1])
        return found

    monkeypatch.setattr(procs, "_all", with_backends_as_children)
    try:
        cpu = StackCpu(roots={"postgres": root.pid})
        before = cpu.sample()
        for child in backends:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
            child.stdin.flush()
        for child in backends:
            assert child.stdout is not None and child.stdout.readline().strip() == b"done"
        used = StackCpu.used(before, cpu.sample())
        assert used["erp-simulator-db"] >= 0.25
        assert 0.25 <= used["postgres"] < 0.5  # our backend's burn, not the simulator's
    finally:
        for p in (root, *backends):
            p.kill()
            p.wait()
