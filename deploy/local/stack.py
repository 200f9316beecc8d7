#!/usr/bin/env python3
"""The local, Docker-free development stack of Kundencenter.

    stack.py up [--infra-only]   start PostgreSQL, Kafka (+ topics), the stand-ins, services and gateway
    stack.py down                stop everything this script started (and any stray process of ours)
    stack.py status              table of name / pid / state / address
    stack.py logs [NAME]         follow all log files, or one

Everything lives in the git-ignored folder .local/ of the repository: data (pgdata, kafka/data), logs
(.local/logs/<name>.log), pid files (.local/run/<name>.pid) and generated configs. Every port is on
127.0.0.1. `bash deploy/local/bootstrap.sh` installs what this script needs. Standard library only;
run it with the workspace interpreter (.venv/bin/python). See docs/adr/0002-local-stack-without-docker.md.

The script is importable from tests (deploy/local on sys.path, then `import stack`):
    stack.start_component("users", extra_env={"USERS_FEATURE_X": "1"})
    stack.stop_component("users")
"""

# This script's job is to start local programs (java, nginx, pg_ctl, the services) with fixed arguments:
# ruff: noqa: S603, S606, S607

from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

# ----------------------------------------------------------------------------------------------------------
# Tables. Add a service or a stand-in with one ServiceSpec line; add a gateway route with one Route line.
# ----------------------------------------------------------------------------------------------------------

HOST = "127.0.0.1"
POSTGRES_PORT = 54329
KAFKA_PORT = 19092
KAFKA_CONTROLLER_PORT = 19093
GATEWAY_PORT = 8080
SMTP_PORT = 2525
KAFKA_BOOTSTRAP = f"{HOST}:{KAFKA_PORT}"


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # component name (log file, pid file, gateway upstream)
    module: str  # started as `.venv/bin/python -m <module>`
    env_prefix: str  # prefix of every environment variable it is given
    port: int  # HTTP port on 127.0.0.1; readiness is GET /readyz == 200
    database: str | None  # PostgreSQL database (and role, password) of the same name, or None
    standin: bool = False  # stand-ins start before the services
    extra_ports: dict[str, int] = field(default_factory=dict)  # shown in `status` only
    env: dict[str, str] = field(default_factory=dict)  # its own settings (keys get the prefix too)
    # the reference frontend: pages and their backend-for-frontend, HTTP only (no database, no Kafka); not one of
    # the backend services (their shared settings, topics, workers and tables do not apply)
    frontend: bool = False


# Listed in start order: stand-ins first (the services need the JWKS and SMTP at start-up).
SERVICES: list[ServiceSpec] = [
    ServiceSpec("smtp-sink", "standins.smtp_sink", "SMTP_SINK_", 8113, None, True, {"smtp": SMTP_PORT}),
    ServiceSpec(
        "dev-issuer",
        "standins.dev_issuer",
        "DEV_ISSUER_",
        8112,
        None,
        True,
        # it refuses to start unless enabled; the key survives restarts so issued tokens stay valid
        env={"ENABLED": "true", "KEY_FILE": ".local/dev-issuer/signing-key.pem"},
    ),
    ServiceSpec("erp-simulator", "standins.erp_simulator", "ERP_SIMULATOR_", 8111, "erp_simulator", True),
    ServiceSpec("registration", "registration", "REGISTRATION_", 8101, "registration"),
    ServiceSpec("users", "users", "USERS_", 8102, "users"),
    ServiceSpec(
        "approval",
        "approval",
        "APPROVAL_",
        8103,
        "approval",
        # deadlines of seconds and a timer round every second: the journeys and `make chaos` see them fire (ADR 0033)
        env={"SHORTEST_DEADLINE": "PT1S", "DEADLINE_INTERVAL_S": "1"},
    ),
    ServiceSpec("erp-sync", "erp_sync", "ERP_SYNC_", 8104, "erp_sync"),
    ServiceSpec(
        "notifications",
        "notifications",
        "NOTIFICATIONS_",
        8105,
        "notifications",
        # the mails link to the reference frontend's pages (/kundencenter/registration/confirm?…, /orders/<id>)
        env={"SHOP_BASE_URL": "http://127.0.0.1:8080/kundencenter"},
    ),
    ServiceSpec(
        "frontend",
        "frontend",
        "FRONTEND_",
        8106,
        None,
        # the local stack signs in through the development token issuer (behind the gateway, like the API)
        env={"AUTH_MODE": "dev", "API_BASE_URL": "http://127.0.0.1:8080"},
        frontend=True,
    ),
]
SERVICES_BY_NAME = {s.name: s for s in SERVICES}
DATABASES = [s.database for s in SERVICES if s.database]


@dataclass(frozen=True)
class Route:
    """A gateway route. `prefix` matches itself and everything below it (`/api/users`, `/api/users/…`,
    not `/api/usersX`); a prefix ending in '/' matches only below it. The path is passed on unchanged."""

    prefix: str
    upstream: str  # a SERVICES name
    local_only: bool = False  # not part of a deployed (Kubernetes) ingress
    public: bool = False  # needs no token: its POSTs are rate-limited per client address at the gateway


ROUTES: list[Route] = [
    Route("/api/registrations", "registration", public=True),
    Route("/api/me", "users"),
    # the caller's own mail preferences (ADR 0027): notifications; nginx and the Gateway API take the longest prefix
    Route("/api/me/notification-preferences", "notifications"),
    Route("/api/users", "users"),
    Route("/api/roles", "users"),
    Route("/api/company", "users"),
    Route("/api/erp-contacts", "users"),
    Route("/api/audit", "users"),
    Route("/api/email-changes", "users", public=True),  # the confirmation link of an e-mail change: no token
    Route("/api/orders", "approval"),
    Route("/api/approvals", "approval"),
    Route("/api/absences", "approval"),
    Route("/api/reports", "approval"),
    # the one-click decision links of the approval mails (ADR 0031): the link's token is the credential
    Route("/api/decision-links", "approval", public=True),
    # erp-sync serves no /api paths (only /ops/ for operators, never routed): no route to it; notifications only the
    # one above (its /ops/, digests included, is never routed either)
    Route("/dev-auth/", "dev-issuer", local_only=True),
    # the reference frontend (pages and its backend-for-frontend); its form POSTs are rate-limited per address
    Route("/kundencenter", "frontend", public=True),
]


def service_env(spec: ServiceSpec) -> dict[str, str]:
    """The environment variables a service or stand-in is given (each key carries its prefix)."""
    values = {
        "HTTP_HOST": HOST,
        "HTTP_PORT": str(spec.port),
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
        "JWKS_URL": f"http://{HOST}:{SERVICES_BY_NAME['dev-issuer'].port}/.well-known/jwks.json",
        "SMTP_HOST": HOST,
        "SMTP_PORT": str(SMTP_PORT),
        "LOG_FORMAT": "json",
        # a removed signing key stops being trusted within 10 s here (default 300 s; the identity journeys remove one)
        "JWKS_MAX_AGE_S": "10",
    }
    if spec.database:
        db = spec.database
        values["DATABASE_URL"] = f"postgresql://{db}:{db}@{HOST}:{POSTGRES_PORT}/{db}"
    values.update(spec.env)
    return {spec.env_prefix + key: value for key, value in values.items()}


# ----------------------------------------------------------------------------------------------------------
# Paths and small process helpers
# ----------------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "local"
LOCAL = ROOT / ".local"
LOG_DIR = LOCAL / "logs"
RUN_DIR = LOCAL / "run"
VENV_PY = ROOT / ".venv" / "bin" / "python"
MARKER_ENV = "KC_LOCAL_STACK"  # set (to ROOT) on every process we start, to find strays on `down`
IS_ROOT = os.geteuid() == 0
STOP_DEADLINE = 20.0


class StackError(Exception):
    pass


def say(name: str, text: str, end: str = "\n") -> None:
    print(f"[{name}] {text}", end=end, flush=True)


def log_path(name: str) -> Path:
    return LOG_DIR / f"{name}.log"


def pid_path(name: str) -> Path:
    return RUN_DIR / f"{name}.pid"


def read_pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _proc_read(pid: int, what: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{what}").read_bytes()
    except OSError:
        return b""


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a process, or None."""
    raw = _proc_read(pid, "stat").decode(errors="replace")
    if not raw:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def cmdline(pid: int) -> str:
    return _proc_read(pid, "cmdline").replace(b"\0", b" ").decode(errors="replace").strip()


def pid_alive(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def is_ours(pid: int) -> bool:
    """Started by this stack: its command line names our .local folder, or it carries our marker."""
    cmdline = _proc_read(pid, "cmdline").replace(b"\0", b" ")
    if str(LOCAL).encode() in cmdline:
        return True
    return f"{MARKER_ENV}={ROOT}".encode() in _proc_read(pid, "environ").split(b"\0")


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat and stat[2] == pgid and stat[0] not in ("Z", "X"):
                members.append(int(entry))
    return members


def reap_children() -> None:
    """Collect exited children of this process (when helpers are used from a long-lived test process)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def port_open(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def listener_pid(port: int) -> int | None:
    """pid of the process listening on 127.0.0.1/0.0.0.0:<port> (best effort, from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{entry}/fd"):
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(entry)
        except OSError:
            continue
    return None


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str, timeout: float = 1.0) -> int | None:
    try:
        with _NO_PROXY.open(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def wait_until(predicate: Callable[[], bool], timeout: float, alive: Callable[[], bool] | None = None) -> bool:
    """Poll `predicate` until true (True), the deadline passes or `alive` turns false (False)."""
    deadline = time.monotonic() + timeout
    interval = 0.05
    while time.monotonic() < deadline:
        if predicate():
            return True
        if alive is not None and not alive():
            return predicate()
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)
    return predicate()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def ensure_dirs() -> None:
    for d in (LOCAL, LOG_DIR, RUN_DIR):
        d.mkdir(parents=True, exist_ok=True)


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env[MARKER_ENV] = str(ROOT)
    return env


def spawn(name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a long-running process in its own process group, output appended to its log, pid recorded."""
    ensure_dirs()
    with open(log_path(name), "ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"\n===== {stamp} stack.py starts {name}: {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env if env is not None else base_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_path(name).write_text(f"{proc.pid}\n")
    return proc


def render(template: Path, values: dict[str, str]) -> str:
    """Fill `${name}` placeholders (only the braced form, so nginx's own `$vars` stay untouched)."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise StackError(f"{rel(template)}: no value for ${{{match.group(1)}}}")
        return values[match.group(1)]

    return re.sub(r"\$\{(\w+)\}", substitute, template.read_text())


def write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def modules_available(modules: Iterable[str]) -> dict[str, bool]:
    """Which modules `python -m` can run with the workspace interpreter (a package needs a __main__).
    Checked in a subprocess with find_spec, so nothing of the services is imported here."""
    modules = list(modules)
    code = (
        "import importlib.util, json, sys\n"
        "def runnable(m):\n"
        "    try:\n"
        "        spec = importlib.util.find_spec(m)\n"
        "        if spec is not None and spec.submodule_search_locations is not None:\n"
        "            spec = importlib.util.find_spec(m + '.__main__')\n"
        "        return spec is not None\n"
        "    except ImportError:\n"
        "        return False\n"
        "print(json.dumps({m: runnable(m) for m in sys.argv[1:]}))\n"
    )
    python = str(VENV_PY) if VENV_PY.exists() else sys.executable
    result = subprocess.run([python, "-c", code, *modules], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise StackError(f"cannot check which modules exist:\n{result.stderr}")
    available: dict[str, bool] = json.loads(result.stdout)
    return available


# ----------------------------------------------------------------------------------------------------------
# Components
# ----------------------------------------------------------------------------------------------------------


class Component:
    """One thing the stack runs. Subclasses set name/address and implement launch() and is_ready()."""

    name: str = ""
    port: int = 0
    address: str = ""
    start_timeout: float = 60.0

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    # --- state
    def pid(self) -> int | None:
        pid = read_pid_file(pid_path(self.name))
        if pid is not None and pid_alive(pid) and is_ours(pid):
            return pid
        return None

    def is_ready(self) -> bool:
        raise NotImplementedError

    def state(self) -> str:
        if self.pid() is None:
            return "stopped"
        return "running+ready" if self.is_ready() else "running"

    # --- start
    def prepare(self) -> None:
        """One-time and config work before launch; may print its own lines."""

    def launch(self, extra_env: dict[str, str] | None = None) -> None:
        raise NotImplementedError

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        pid = self.pid()
        return pid is not None

    def check_port_free(self) -> None:
        if self.port and port_open(self.port):
            owner = listener_pid(self.port)
            who = f"pid {owner}: {cmdline(owner)[:80]}" if owner else "owner unknown"
            raise StackError(
                f"[{self.name}] port {HOST}:{self.port} is already in use by another process ({who}); "
                f"stop it (or run `stack.py down` if it is a leftover of ours)"
            )

    def wait_ready(self, started: float) -> None:
        if not wait_until(self.is_ready, self.start_timeout, self.alive):
            reason = "exited" if not self.alive() else f"not ready after {self.start_timeout:.0f}s"
            print(f" FAILED ({reason})", flush=True)
            print(f"----- last 30 lines of {rel(log_path(self.name))} -----")
            print(tail(log_path(self.name), 30))
            print("-----", flush=True)
            self.stop(signal.SIGKILL)
            self.forget()
            raise StackError(f"[{self.name}] did not become ready")
        print(f" ready ({time.monotonic() - started:.1f}s)", flush=True)

    def up(self) -> None:
        """Start unless already running and ready (idempotent)."""
        pid = self.pid()
        if pid is not None:
            if self.is_ready():
                say(self.name, f"already running (pid {pid})")
                return
            say(self.name, f"running (pid {pid}), waiting until ready…", end="")
            self.wait_ready(time.monotonic())
            return
        self.check_port_free()
        self.prepare()
        started = time.monotonic()
        say(self.name, "starting…", end="")
        self.launch()
        self.wait_ready(started)

    # --- stop
    def terminate(self, pid: int) -> None:
        signal_group(pid, signal.SIGTERM)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        pid = self.pid()
        if pid is not None:
            if sig == signal.SIGTERM:
                self.terminate(pid)
            else:
                signal_group(pid, sig)

    def forget(self) -> None:
        pid_path(self.name).unlink(missing_ok=True)
        self.proc = None


class Postgres(Component):
    name = "postgres"
    port = POSTGRES_PORT
    address = f"{HOST}:{POSTGRES_PORT}"
    start_timeout = 60.0

    data = LOCAL / "pgdata"
    socket_dir = LOCAL / "pg-socket"
    conf_name = "kc_local.conf"

    @staticmethod
    def bindir() -> Path:
        candidates = sorted(
            (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").exists()),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        )
        if candidates:
            return candidates[-1]
        pg_ctl = shutil.which("pg_ctl")
        if pg_ctl:
            return Path(pg_ctl).resolve().parent
        raise StackError("[postgres] PostgreSQL server binaries not found; run `bash deploy/local/bootstrap.sh`")

    def as_owner(self, argv: list[str]) -> list[str]:
        """PostgreSQL refuses to run as root: run its tools as the `postgres` OS user then."""
        return ["runuser", "-u", "postgres", "--", *argv] if IS_ROOT else argv

    def run_tool(self, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.as_owner(argv),
            cwd="/",  # the postgres user may not be able to enter the repository's folder
            env=base_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def pid(self) -> int | None:
        pid = super().pid()
        if pid is None:  # started but our pid file lost: trust PostgreSQL's own pid file
            pid = read_pid_file(self.data / "postmaster.pid")
            if pid is not None and not (pid_alive(pid) and is_ours(pid)):
                pid = None
        return pid

    def is_ready(self) -> bool:
        result = subprocess.run(
            [str(self.bindir() / "pg_isready"), "-q", "-h", HOST, "-p", str(self.port), "-t", "2"],
            capture_output=True,
        )
        return result.returncode == 0

    def _owner_ids(self) -> tuple[int, int]:
        entry = pwd.getpwnam("postgres")
        return entry.pw_uid, entry.pw_gid

    def _ensure_traversable(self, path: Path) -> None:
        """Every ancestor of `path` must let the postgres user through (o+x), e.g. a mktemp -d folder."""
        for ancestor in reversed([path, *path.parents]):
            mode = ancestor.stat().st_mode
            if not mode & 0o001:
                os.chmod(ancestor, mode | 0o001)
                say(self.name, f"chmod o+x {ancestor} (so the postgres user can reach {rel(self.data)})")

    def _give_to_postgres(self, path: Path) -> None:
        uid, gid = self._owner_ids()
        if path.stat().st_uid != uid:
            os.chown(path, uid, gid)

    def prepare(self) -> None:
        ensure_dirs()
        self.socket_dir.mkdir(exist_ok=True)
        log = log_path(self.name)
        log.touch()
        if IS_ROOT:
            self._ensure_traversable(LOG_DIR)
            self._ensure_traversable(self.socket_dir)
            if not self.data.exists():
                self.data.mkdir(mode=0o700)
            for path in (self.data, self.socket_dir, log):
                self._give_to_postgres(path)
        if not (self.data / "PG_VERSION").exists():
            say(self.name, f"initdb {rel(self.data)}")
            options = ["--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C.UTF-8"]
            result = self.run_tool([str(self.bindir() / "initdb"), "-D", str(self.data), *options])
            if result.returncode != 0:
                raise StackError(f"[postgres] initdb failed:\n{result.stdout}{result.stderr}")
        self._write_config()

    def _write_config(self) -> None:
        # unix socket paths are limited to 107 bytes; fall back to TCP only for very deep checkouts
        socket_dir = str(self.socket_dir) if len(str(self.socket_dir)) < 90 else ""
        settings = {
            "listen_addresses": f"'{HOST}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{socket_dir}'",
            "max_connections": "300",
            "shared_buffers": "256MB",
            "fsync": "on",
            "synchronous_commit": "on",
            "logging_collector": "off",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
            "log_timezone": "'UTC'",
            "timezone": "'UTC'",
        }
        text = "# Written by deploy/local/stack.py on every `up`; edit stack.py instead.\n" + "".join(
            f"{key} = {value}\n" for key, value in settings.items()
        )
        conf = self.data / self.conf_name
        changed = write_if_changed(conf, text)
        if IS_ROOT:
            self._give_to_postgres(conf)
        main_conf = self.data / "postgresql.conf"
        include = f"include = '{self.conf_name}'"
        if include not in main_conf.read_text():
            with open(main_conf, "a") as f:
                f.write(f"\n# local dev stack settings (deploy/local/stack.py)\n{include}\n")
        if changed and self.pid() is not None:
            say(self.name, "settings changed; they take effect at the next restart")

    def launch(self, extra_env: dict[str, str] | None = None) -> None:
        pg_ctl = [
            str(self.bindir() / "pg_ctl"),
            "start",
            "-D",
            str(self.data),
            "-l",
            str(log_path(self.name)),
        ]
        wait = ["-w", "-t", str(int(self.start_timeout)), "-s"]
        result = self.run_tool([*pg_ctl, *wait], timeout=self.start_timeout + 10)
        pid = read_pid_file(self.data / "postmaster.pid")
        if result.returncode != 0 or pid is None:
            print(" FAILED", flush=True)
            print(tail(log_path(self.name), 30))
            raise StackError(f"[postgres] pg_ctl start failed: {result.stdout}{result.stderr}".strip())
        ensure_dirs()
        pid_path(self.name).write_text(f"{pid}\n")

    def alive(self) -> bool:
        return self.pid() is not None

    def terminate(self, pid: int) -> None:
        result = self.run_tool([str(self.bindir() / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-W"])
        if result.returncode != 0:
            os.kill(pid, signal.SIGINT)  # what `pg_ctl stop -m fast` sends

    def provision(self) -> None:
        """Create, idempotently, one LOGIN role (password = name) and one database owned by it per service."""
        lines = ["\\set ON_ERROR_STOP on"]
        for db in DATABASES:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", db):
                raise StackError(f"[postgres] bad database name {db!r}")
            lines += [
                f"SELECT 'CREATE ROLE {db} LOGIN' "
                f"WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{db}')\\gexec",
                f"ALTER ROLE {db} WITH LOGIN PASSWORD '{db}';",
                f"SELECT 'CREATE DATABASE {db} OWNER {db}' "
                f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{db}')\\gexec",
            ]
        psql = [str(self.bindir() / "psql"), "-X", "-q", f"--host={HOST}", f"--port={self.port}"]
        result = subprocess.run(
            [*psql, "--username=postgres", "--dbname=postgres", "--file=-"],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise StackError(f"[postgres] creating roles/databases failed:\n{result.stdout}{result.stderr}")
        say(self.name, f"roles and databases ok ({', '.join(DATABASES)})")

    def up(self) -> None:
        super().up()
        self.provision()


class Kafka(Component):
    name = "kafka"
    port = KAFKA_PORT
    address = f"{KAFKA_BOOTSTRAP} (controller :{KAFKA_CONTROLLER_PORT})"
    start_timeout = 90.0

    home = LOCAL / "kafka"
    libs = home / "libs"
    data = home / "data"
    properties = home / "server.properties"
    cluster_id_file = home / "cluster-id"
    log4j = DEPLOY / "kafka" / "log4j2.properties"
    template = DEPLOY / "kafka" / "server.properties.tmpl"
    heap = ["-Xms256m", "-Xmx512m"]

    def java(self, main: str, *args: str, jvm: Iterable[str] = ()) -> list[str]:
        java = shutil.which("java") or str(Path(os.environ.get("JAVA_HOME", "/usr")) / "bin" / "java")
        return [java, *jvm, "-cp", f"{self.libs}/*", f"-Dlog4j2.configurationFile={self.log4j}", main, *args]

    def prepare(self) -> None:
        if not any(self.libs.glob("kafka_2.13-*.jar")):
            raise StackError(f"[kafka] no broker jars in {rel(self.libs)}; run `bash deploy/local/bootstrap.sh`")
        self.data.mkdir(parents=True, exist_ok=True)
        ports = {"broker_port": str(KAFKA_PORT), "controller_port": str(KAFKA_CONTROLLER_PORT)}
        write_if_changed(self.properties, render(self.template, {**ports, "log_dir": str(self.data)}))
        if not (self.data / "meta.properties").exists():
            say(self.name, f"formatting storage {rel(self.data)}")
            args = ["-t", self.cluster_id(), "-c", str(self.properties), "--standalone", "--ignore-formatted"]
            result = self.run_java("kafka.tools.StorageTool", "format", *args)
            if result.returncode != 0:
                raise StackError(f"[kafka] storage format failed:\n{result.stdout}{result.stderr}")

    def cluster_id(self) -> str:
        """A random cluster id, made once and kept in .local/kafka/cluster-id."""
        if not self.cluster_id_file.exists():
            result = self.run_java("kafka.tools.StorageTool", "random-uuid")
            words = result.stdout.split()
            if result.returncode != 0 or not words or not re.fullmatch(r"[A-Za-z0-9_-]{22}", words[-1]):
                raise StackError(f"[kafka] StorageTool random-uuid failed:\n{result.stdout}{result.stderr}")
            self.cluster_id_file.write_text(words[-1] + "\n")
        return self.cluster_id_file.read_text().strip()

    def run_java(self, main: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.java(main, *args), capture_output=True, text=True, timeout=120)

    def launch(self, extra_env: dict[str, str] | None = None) -> None:
        # Serial GC: the heap of a single-node development broker is small and mostly young garbage (short
        # pauses); G1's refinement and worker threads cost CPU whenever clients keep the broker busy.
        # No hsperfdata: its sampler thread wakes every 50 ms (~1 ms/s of an idle broker); jcmd <pid> still works, jps
        # and jstat do not list the broker. C2 stays on: a broker limited to C1 idled ~2 ms/s lower after its
        # warm-up but cost ~35 % more CPU per message under load.
        jvm = [*self.heap, "-XX:+UseSerialGC", "-XX:-UsePerfData", "-XX:+ExitOnOutOfMemoryError"]
        self.proc = spawn(self.name, self.java("kafka.Kafka", str(self.properties), jvm=jvm))

    def is_ready(self) -> bool:
        try:
            return len(kafka_brokers(HOST, self.port)) > 0
        except (OSError, struct.error, ValueError):
            return False


def kafka_brokers(host: str, port: int, timeout: float = 2.0) -> list[tuple[int, str, int]]:
    """A Metadata (v4) request over a plain socket; returns the brokers the cluster reports.
    v4 is the oldest Metadata version Kafka 4.x still serves and the newest without tagged fields."""

    def read_exact(sock: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise OSError("connection closed")
            buf += chunk
        return buf

    client_id = b"kc-stack"
    header = struct.pack(">hhih", 3, 4, 7, len(client_id)) + client_id  # api_key=Metadata, version 4, corr 7
    body = struct.pack(">ib", -1, 0)  # topics = null (all), allow_auto_topic_creation = false
    request = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", read_exact(sock, 4))
        data = read_exact(sock, size)
    correlation_id, _throttle, count = struct.unpack_from(">iii", data, 0)
    if correlation_id != 7:
        raise ValueError("unexpected correlation id")
    offset, brokers = 12, []
    for _ in range(count):
        (node_id,) = struct.unpack_from(">i", data, offset)
        (host_len,) = struct.unpack_from(">h", data, offset + 4)
        broker_host = data[offset + 6 : offset + 6 + host_len].decode()
        offset += 6 + host_len
        (broker_port, rack_len) = struct.unpack_from(">ih", data, offset)
        offset += 6 + max(rack_len, 0)
        brokers.append((node_id, broker_host, broker_port))
    return brokers


def ensure_topics(attempts: int = 3) -> None:
    """Create the system's topics with kc_runtime.topics (owned by the runtime package). A broker that has
    just started may still be settling its metadata, so a failed run is retried a couple of times."""
    if not modules_available(["kc_runtime.topics"])["kc_runtime.topics"]:
        say("topics", "WARNING: kc_runtime.topics not built yet, no topics created")
        return
    started = time.monotonic()
    say("topics", "ensuring…", end="")
    command = [str(VENV_PY), "-m", "kc_runtime.topics", "ensure", "--bootstrap", KAFKA_BOOTSTRAP]
    for attempt in range(1, attempts + 1):
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        if result.returncode == 0:
            print(f" ok ({time.monotonic() - started:.1f}s)", flush=True)
            return
        if "ModuleNotFoundError" in result.stderr and "kc_runtime.topics" in result.stderr:
            print(" skipped", flush=True)
            say("topics", "WARNING: kc_runtime.topics not built yet, no topics created")
            return
        last_line = (result.stderr.strip().splitlines() or ["?"])[-1]
        if attempt < attempts:
            print(f" failed ({last_line[:120]}), retrying…", end="", flush=True)
            time.sleep(2)
    print(" FAILED", flush=True)
    raise StackError(f"[topics] kc_runtime.topics ensure failed:\n{result.stdout}{result.stderr}")


class PythonService(Component):
    """A service or stand-in: `.venv/bin/python -m <module>`, ready when GET /readyz is 200."""

    start_timeout = 60.0

    def __init__(self, spec: ServiceSpec) -> None:
        super().__init__()
        self.spec = spec
        self.name = spec.name
        self.port = spec.port
        extras = "".join(f", {kind} :{port}" for kind, port in spec.extra_ports.items())
        self.address = f"http://{HOST}:{spec.port}{extras}"

    def launch(self, extra_env: dict[str, str] | None = None) -> None:
        env = base_env() | service_env(self.spec) | (extra_env or {})
        self.proc = spawn(self.name, [str(VENV_PY), "-m", self.spec.module], env=env)

    def is_ready(self) -> bool:
        return http_status(f"http://{HOST}:{self.port}/readyz") == 200


# Only in the local profile (`make up`, the compose stack on a laptop): `make bench` measures the gateway's own
# pass-through ceiling through /_bench/echo, proxied exactly like the API routes (headers, ids, access log) to an
# upstream that costs nothing (this nginx, on loopback only). A deployed gateway routes the public API only.
LOCAL_SERVERS = """    upstream kc_bench_echo {
        server 127.0.0.1:8088 max_fails=0;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:8088;
        access_log off;
        location / {
            return 200 '{"ok":true}';
        }
    }
"""
LOCAL_LOCATIONS = "        location = /_bench/echo { proxy_pass http://kc_bench_echo; }  # local profile only\n"


def gateway_values(address: Callable[[str], str], *, local: bool) -> dict[str, str]:
    """The route parts of the gateway template: the public API, plus the token issuer and bench echo if ``local``."""
    upstreams, locations = nginx_routes(address, local=local)
    return {
        "upstreams": "".join(upstreams),
        "locations": "".join(locations),
        "local_servers": LOCAL_SERVERS if local else "",
        "local_locations": LOCAL_LOCATIONS if local else "",
    }


def nginx_routes(address: Callable[[str], str], *, local: bool = True) -> tuple[list[str], list[str]]:
    """The gateway's upstream blocks and locations from ROUTES; ``address`` gives a service's host:port.
    ``local=False``: without the local-only routes (the development token issuer)."""
    upstreams, locations = [], []
    routes = [route for route in ROUTES if local or not route.local_only]
    for target in dict.fromkeys(route.upstream for route in routes):
        upstreams.append(
            f"    upstream {nginx_upstream(target)} {{\n"
            f"        server {address(target)} max_fails=0;\n"
            # Idle connections kept open to each service, so that requests do not pay a TCP handshake and the
            # service a new connection each; sized for ~200 req/s of ~10-50 ms per upstream. The service keeps
            # idle connections longer (kc_runtime.serve.KEEP_ALIVE_S), so the gateway is the one that closes them.
            f"        keepalive 48;\n"
            f"        keepalive_requests 10000;\n"
            f"        keepalive_timeout 60s;\n"
            f"    }}\n"
        )
    for route in routes:
        limit = "limit_req zone=kc_public burst=30 nodelay; " if route.public else ""
        proxy = f"{{ {limit}proxy_pass http://{nginx_upstream(route.upstream)}; }}"
        notes = ", ".join(
            n for n, on in (("local only", route.local_only), ("public, rate-limited", route.public)) if on
        )
        locations.append(f"        # {route.prefix} -> {route.upstream}{f' ({notes})' if notes else ''}\n")
        if route.prefix.endswith("/"):
            locations.append(f"        location {route.prefix} {proxy}\n")
        else:
            locations.append(f"        location = {route.prefix} {proxy}\n")
            locations.append(f"        location {route.prefix}/ {proxy}\n")
    return upstreams, locations


class Gateway(Component):
    name = "gateway"
    port = GATEWAY_PORT
    address = f"http://{HOST}:{GATEWAY_PORT}"
    start_timeout = 15.0

    home = LOCAL / "nginx"
    conf = home / "nginx.conf"
    template = DEPLOY / "nginx.conf.tmpl"

    @staticmethod
    def binary() -> str:
        found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if not found:
            raise StackError("[gateway] nginx not found; run `bash deploy/local/bootstrap.sh`")
        return found

    def config_text(self) -> str:
        user = ""
        if IS_ROOT:  # workers drop to an unprivileged user; they never touch files (see the template)
            group = "nogroup" if _group_exists("nogroup") else "nobody"
            user = f"user nobody {group};"
        return render(
            self.template,
            {
                "user_directive": user,
                "state_dir": str(self.home),
                "log_file": str(log_path(self.name)),
                "listen": f"{HOST}:{self.port}",
                # the local stack is the local profile: the development token issuer and bench echo are routed
                **gateway_values(lambda target: f"{HOST}:{SERVICES_BY_NAME[target].port}", local=True),
            },
        )

    def nginx(self, *args: str) -> list[str]:
        paths = ["-p", f"{self.home}/", "-c", str(self.conf), "-e", str(log_path(self.name))]
        return [self.binary(), *paths, *args]

    def write_config(self) -> bool:
        ensure_dirs()
        self.home.mkdir(parents=True, exist_ok=True)
        changed = write_if_changed(self.conf, self.config_text())
        result = subprocess.run(self.nginx("-t", "-q"), capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(f"[gateway] invalid nginx config {rel(self.conf)}:\n{result.stdout}{result.stderr}")
        return changed

    def prepare(self) -> None:
        self.write_config()

    def launch(self, extra_env: dict[str, str] | None = None) -> None:
        self.proc = spawn(self.name, self.nginx())

    def is_ready(self) -> bool:
        return http_status(f"http://{HOST}:{self.port}/healthz") == 200

    def up(self) -> None:
        pid = self.pid()
        if pid is not None and self.write_config():
            os.kill(pid, signal.SIGHUP)
            time.sleep(0.5)  # the master starts new workers asynchronously
            say(self.name, f"config changed, reloaded (pid {pid})")
        super().up()

    def terminate(self, pid: int) -> None:
        os.kill(pid, signal.SIGTERM)  # the master stops its workers


def nginx_upstream(name: str) -> str:
    return "svc_" + name.replace("-", "_")


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


# ----------------------------------------------------------------------------------------------------------
# The stack
# ----------------------------------------------------------------------------------------------------------

POSTGRES = Postgres()
KAFKA = Kafka()
GATEWAY = Gateway()
SERVICE_COMPONENTS: dict[str, PythonService] = {spec.name: PythonService(spec) for spec in SERVICES}
COMPONENTS: dict[str, Component] = {
    "postgres": POSTGRES,
    "kafka": KAFKA,
    **SERVICE_COMPONENTS,
    "gateway": GATEWAY,
}


def built_services() -> list[PythonService]:
    available = modules_available(spec.module for spec in SERVICES)
    built = []
    for component in SERVICE_COMPONENTS.values():
        if available.get(component.spec.module):
            built.append(component)
        else:
            say(component.name, "not built yet, skipped")
    return built


def start_services(batch: list[PythonService]) -> None:
    """Launch a batch together (they start in parallel), then wait for each to be ready."""
    starting: list[tuple[PythonService, float]] = []
    for component in batch:
        if component.pid() is not None:
            component.up()  # already running: just confirms readiness
            continue
        component.check_port_free()
        starting.append((component, time.monotonic()))
        component.launch()
    for component, started in starting:
        say(component.name, "starting…", end="")
        component.wait_ready(started)


def up(infra_only: bool = False) -> None:
    ensure_dirs()
    began = time.monotonic()
    POSTGRES.up()
    KAFKA.up()
    ensure_topics()
    if not infra_only:
        services = built_services()
        start_services([c for c in services if c.spec.standin])
        start_services([c for c in services if not c.spec.standin])
    GATEWAY.up()
    print(f"\nKundencenter is up: gateway {GATEWAY.address}   ({time.monotonic() - began:.1f}s)")
    print_status()


def stop_components(components: list[Component], deadline: float = STOP_DEADLINE) -> list[str]:
    """Graceful stop (SIGTERM, or the component's own) to each, wait until their process groups are gone,
    SIGKILL what is left after `deadline` seconds. Returns one report line per component stopped."""
    waiting: dict[str, int] = {}
    started = time.monotonic()
    for component in components:
        pid = component.pid()
        if pid is not None:
            component.terminate(pid)
            waiting[component.name] = pid
    reports: list[str] = []

    def all_gone() -> bool:
        reap_children()
        for name, pid in list(waiting.items()):
            if not group_members(pid) and not pid_alive(pid):
                reports.append(f"[{name}] stopped (pid {pid}, {time.monotonic() - started:.1f}s)")
                del waiting[name]
        return not waiting

    if not wait_until(all_gone, deadline):
        for name, pid in waiting.items():
            signal_group(pid, signal.SIGKILL)
            reports.append(f"[{name}] killed (pid {pid} did not stop within {deadline:.0f}s)")
        wait_until(lambda: all(not group_members(pid) for pid in waiting.values()), 5)
    for component in components:
        component.forget()
    return reports


def find_strays() -> list[int]:
    """Processes of ours that are still alive: command line names .local, or they carry our marker."""
    exclude, pid = set(), os.getpid()
    while pid > 1:  # never ourselves or whoever called us
        exclude.add(pid)
        stat = _proc_stat(pid)
        pid = stat[1] if stat else 0
    strays = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in exclude and pid_alive(int(entry)) and is_ours(int(entry)):
            strays.append(int(entry))
    return strays


def down() -> int:
    stages: list[list[Component]] = [
        [GATEWAY, *reversed(SERVICE_COMPONENTS.values())],
        [KAFKA],
        [POSTGRES],
    ]
    reports = []
    for stage in stages:
        stopped = stop_components(stage)
        for line in stopped:
            print(line, flush=True)
        reports += stopped
    strays = find_strays()
    if strays:
        for pid in strays:
            print(f"[down] stray process {pid}: {cmdline(pid)[:100]} — SIGTERM")
            stat = _proc_stat(pid)
            if stat is not None and stat[2] == pid:  # a group leader (as all we start are): the whole group
                signal_group(pid, signal.SIGTERM)
            else:
                os.kill(pid, signal.SIGTERM)
        if not wait_until(lambda: not any(pid_alive(p) for p in strays), 10):
            for pid in strays:
                if pid_alive(pid):
                    print(f"[down] stray process {pid} still alive — SIGKILL")
                    os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not any(pid_alive(p) for p in strays), 5)
    left = find_strays()
    if left:
        print(f"[down] ERROR: processes of ours still alive: {left}")
        return 1
    if not reports and not strays:
        print("nothing was running")
    else:
        print("all stopped; no process of the stack remains")
    return 0


def print_status() -> None:
    available = modules_available(spec.module for spec in SERVICES)
    rows = []
    for name, component in COMPONENTS.items():
        pid = component.pid()
        state = component.state()
        if isinstance(component, PythonService) and not available.get(component.spec.module) and pid is None:
            state = "stopped (not built)"
        rows.append((name, str(pid or "-"), state, component.address))
    widths = [max(len(row[i]) for row in [("NAME", "PID", "STATE", "ADDRESS"), *rows]) for i in range(4)]
    for row in [("NAME", "PID", "STATE", "ADDRESS"), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def logs(name: str | None) -> int:
    if name is not None and name not in COMPONENTS:
        print(f"unknown component {name!r}; one of: {', '.join(COMPONENTS)}", file=sys.stderr)
        return 2
    names = [name] if name else list(COMPONENTS)
    files = [rel(log_path(n)) for n in names if log_path(n).exists() or name]
    if not files:
        print(f"no log files in {rel(LOG_DIR)} yet")
        return 1
    os.chdir(ROOT)
    os.execvp("tail", ["tail", "-n", "30", "-F", *files])
    return 0  # not reached


# ----------------------------------------------------------------------------------------------------------
# Helpers for Python tests
# ----------------------------------------------------------------------------------------------------------


def start_component(name: str, extra_env: dict[str, str] | None = None) -> int:
    """Start one component (if not running) and wait until it is ready; returns its pid.
    `extra_env` (services and stand-ins only) is added to, and overrides, the table's environment."""
    component = COMPONENTS[name]
    if component.pid() is None:
        component.check_port_free()
        component.prepare()
        started = time.monotonic()
        say(name, "starting…", end="")
        component.launch(extra_env)
        component.wait_ready(started)
    elif not component.is_ready():
        component.up()
    if component is POSTGRES:
        POSTGRES.provision()
    pid = component.pid()
    assert pid is not None
    return pid


def stop_component(name: str, sig: int = signal.SIGTERM, wait: bool = True) -> None:
    """Stop one component: SIGTERM (its graceful stop) waits up to 20 s, then SIGKILL. Any other signal
    (e.g. SIGKILL to simulate a crash, SIGSTOP to freeze it) is sent to its process group as is."""
    component = COMPONENTS[name]
    if sig == signal.SIGTERM and wait:
        stop_components([component])
    else:
        component.stop(sig)
        if wait and sig == signal.SIGKILL:
            pid = read_pid_file(pid_path(name))
            if pid is not None:
                wait_until(lambda: not group_members(pid) and not pid_alive(pid), 10)
            component.forget()


def is_ready(name: str) -> bool:
    return COMPONENTS[name].pid() is not None and COMPONENTS[name].is_ready()


# ----------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stack.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start the stack (idempotent)")
    up_parser.add_argument("--infra-only", action="store_true", help="PostgreSQL, Kafka and the gateway only")
    commands.add_parser("down", help="stop everything")
    commands.add_parser("status", help="what runs")
    restart_parser = commands.add_parser("restart", help="restart components (after a code change)")
    restart_parser.add_argument("names", nargs="+", help=", ".join(COMPONENTS))
    logs_parser = commands.add_parser("logs", help="follow log files")
    logs_parser.add_argument("name", nargs="?", help=", ".join(COMPONENTS))
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up(infra_only=args.infra_only)
        elif args.command == "down":
            return down()
        elif args.command == "status":
            print_status()
        elif args.command == "restart":
            for name in args.names:
                if name not in COMPONENTS:
                    raise StackError(f"unknown component {name!r}; known: {', '.join(COMPONENTS)}")
                stop_component(name)
                start_component(name)
        elif args.command == "logs":
            return logs(args.name)
    except StackError as exc:
        print(f"\nERROR: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted (what was started keeps running; `stack.py down` stops it)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
