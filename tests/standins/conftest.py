"""Helpers for the stand-ins' own tests: run a stand-in as a subprocess on free ports, wait until ready."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.infra import poll_pause

READY_DEADLINE_S = 30.0
STOP_DEADLINE_S = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StandinProcess:
    module: str
    env: dict[str, str]
    port: int
    log_file: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def start(self) -> StandinProcess:
        env = {**os.environ, **self.env}
        with self.log_file.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self, deadline_s: float = READY_DEADLINE_S, path: str = "/readyz") -> StandinProcess:
        """Poll GET /readyz (or ``path``) until 200; fail early when the process dies."""
        assert self.process is not None
        deadline = time.monotonic() + deadline_s
        last = "no answer"
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(f"{self.module} exited with {self.process.returncode}:\n{self.log()[-4000:]}")
                try:
                    response = client.get(f"{self.url}{path}")
                    if response.status_code == 200:
                        return self
                    last = f"{response.status_code} {response.text}"
                except httpx.TransportError as exc:
                    last = repr(exc)
                poll_pause(0.05)
        pytest.fail(f"{self.module} not ready within {deadline_s}s (last: {last}):\n{self.log()[-4000:]}")

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code (SIGKILL after the deadline)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
            pytest.fail(f"{self.module} did not stop within {STOP_DEADLINE_S}s of SIGTERM:\n{self.log()[-4000:]}")

    def stop_cleanly(self) -> None:
        """SIGTERM ends it gracefully: the lifespan shutdown completes, and the exit status is 0 or uvicorn's
        re-raised SIGTERM (uvicorn re-raises the signal it caught once it has shut down)."""
        code = self.stop()
        assert code in (0, -signal.SIGTERM), f"exit status {code}:\n{self.log()[-4000:]}"
        assert "Application shutdown complete" in self.log(), self.log()[-4000:]


StandinFactory = Callable[..., StandinProcess]


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    """A function returning a currently free TCP port on 127.0.0.1."""
    return free_port


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[StandinFactory]:
    """``standin(module, prefix, env={...})`` → a started and ready stand-in on a free HTTP port."""
    started: list[StandinProcess] = []

    def factory(module: str, prefix: str, env: dict[str, str] | None = None, *, wait: bool = True) -> StandinProcess:
        port = free_port()
        full_env = {
            f"{prefix}HTTP_HOST": "127.0.0.1",
            f"{prefix}HTTP_PORT": str(port),
            f"{prefix}LOG_FORMAT": "json",
        }
        full_env.update(env or {})
        name = module.rsplit(".", 1)[-1]
        proc = StandinProcess(module, full_env, port, tmp_path / f"{name}-{len(started)}.log")
        started.append(proc.start())
        return proc.wait_ready() if wait else proc

    yield factory
    for proc in started:
        proc.stop()
