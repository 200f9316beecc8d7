"""Where the real infrastructure of a test run is, and helpers to run real service processes against it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_DSN = os.environ.get("KC_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:54329/postgres")
KAFKA = os.environ.get("KC_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
GATEWAY = os.environ.get("KC_TEST_GATEWAY", "http://127.0.0.1:8080")
LOG_DIR = ROOT / ".local" / "logs" / "tests"


_never = threading.Event()
_STARTED: list[ServiceProcess] = []


def kill_all() -> None:
    """Kill every service process the tests started and did not stop (so none outlives the test run)."""
    for p in _STARTED:
        p.kill()
    _STARTED.clear()


def poll_pause(seconds: float = 0.1) -> None:
    """The pause between two probes of a loop that polls with a deadline (never a wait for an outcome)."""
    _never.wait(seconds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dsn_for(database: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


def random_suffix() -> str:
    return uuid.uuid4().hex[:10]


@dataclass
class ServiceProcess:
    """One real service process (``python -m <module>``) on a free port, killable like in production."""

    module: str
    env_prefix: str
    env: dict[str, str]
    name: str = ""
    port: int = field(default_factory=free_port)
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    """Static group membership: a restart (same object, or ``restarted()``) takes its partitions back at once."""
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def start(self, failpoints: str = "") -> ServiceProcess:
        if self.proc is not None and self.proc.poll() is None:
            raise AssertionError(f"{self.name or self.module} on port {self.port} is running already")
        _STARTED.append(self)
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{self.name or self.module}-{self.port}.log"
        env = {
            **os.environ,
            **{self.env_prefix + k: v for k, v in self.env.items()},
            self.env_prefix + "HTTP_PORT": str(self.port),
            self.env_prefix + "HTTP_HOST": "127.0.0.1",
            self.env_prefix + "LOG_FORMAT": "json",
            self.env_prefix + "INSTANCE_ID": self.instance_id,
            "KC_FAILPOINTS": failpoints,
        }
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def restarted(self, failpoints: str = "") -> ServiceProcess:
        """The same logical instance again (same group membership), started anew on the same port."""
        again = ServiceProcess(
            self.module, self.env_prefix, self.env, name=self.name, port=self.port, instance_id=self.instance_id
        )
        return again.start(failpoints=failpoints)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> ServiceProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.module} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            poll_pause()
        raise AssertionError(f"{self.module} not ready after {timeout}s:\n{self.tail()}")

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.module} still running after {timeout}s:\n{self.tail()}") from None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus metric's samples matching ``labels``."""
        text = httpx.get(self.url + "/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def tail(self, lines: int = 40) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
