"""The bench's /proc accounting: a component's CPU time never goes back when one of its processes ends."""

from __future__ import annotations

import subprocess
import sys
import time

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
