"""Failpoints: named places where a test can make this process die at a precise moment.

``KC_FAILPOINTS=relay.after_publish`` (comma-separated; ``name@N`` fires on the N-th hit) makes the process
SIGKILL itself when it reaches that point, the same as an operator's ``kill -9`` at that instant. Unset in
production; the check costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

_hits: dict[str, int] = {}
_lock = threading.Lock()


def _parse(spec: str) -> dict[str, int]:
    points: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        name, _, nth = item.partition("@")
        points[name] = int(nth) if nth else 1
    return points


_armed = _parse(os.environ.get("KC_FAILPOINTS", ""))


def failpoint(name: str) -> None:
    if not _armed or name not in _armed:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] != _armed[name]:
            return
    sys.stdout.write(f'{{"event": "failpoint reached, killing this process", "failpoint": "{name}"}}\n')
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)
