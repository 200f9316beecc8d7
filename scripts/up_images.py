"""`make up-images` / `make down-images` / `make smoke-images`: the stack from the images `make images` built,
run with podman next to the local stack of `make up` without touching it.

Every component of deploy/local/stack.py (the services, the frontend, the stand-ins) runs from its image as the
Kubernetes manifests run it — read-only root filesystem, /tmp a tmpfs, no capabilities, user 10001 — in host
networking on the local stack's ports plus 1000 (services 9101…9106, stand-ins 9111…9113, SMTP 3525), behind a
gateway on http://127.0.0.1:9080 (nginx with the local stack's template and route table, as `make up` runs it).

Kafka and PostgreSQL are the local stack's broker and server (there is no image of either without a registry):
the images' stack is kept apart from the local one by its own databases (``img_<database>``), a topic prefix
(``img.``, the topics created by the runtime image's ``kc_runtime.topics ensure``) and its own consumer groups
(``img-<component>``), so neither sees the other's records. `make up` must be running.

The services' databases are set up as on a cluster: scripts/provision_db.py gives each a migration role and a
runtime role (``img_<database>_migrate``, ``img_<database>_app``; password = name), a db-init step — the
service's image running ``python -m kc_runtime.schema create`` as the migration role, what the
``<service>-db-init`` Job does — creates the tables, and the service runs as the runtime role with
``<PREFIX>CREATE_SCHEMA=false``.

``smoke`` runs the five-minute tour (scripts/demo.py: register → confirm → order over budget → approve with a
change → at the ERP) through the images' gateway.
"""

# ruff: noqa: S603, S607, S108 — this script runs fixed command lines (podman, nginx, the demo) on fixed paths

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
sys.path.insert(0, str(ROOT / "scripts"))

import provision_db  # noqa: E402  (scripts/provision_db.py: the databases, roles and grants)
import stack  # noqa: E402  (deploy/local/stack.py: the component and route tables)

OFFSET = 1000
GATEWAY_PORT = stack.GATEWAY_PORT + OFFSET
SMTP_PORT = stack.SMTP_PORT + OFFSET
PREFIX = "img."
TAG = os.environ.get("KC_IMAGE_TAG", "local")
HOME = ROOT / ".local" / "images" / "stack"
CONTAINER = "kc-img-{}"
READY_DEADLINE_S = 120.0
ADMIN_DSN = os.environ.get("KC_TEST_PG_ADMIN_DSN", f"postgresql://postgres@{stack.HOST}:{stack.POSTGRES_PORT}/postgres")


def say(text: str) -> None:
    print(f"[up-images] {text}", flush=True)


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(ROOT / ".local" / "images" / "containers.conf")}
    done = subprocess.run(["podman", *args], capture_output=True, text=True, env=env)
    if check and done.returncode != 0:
        raise SystemExit(f"[up-images] podman {' '.join(args[:3])} … failed:\n{done.stdout}{done.stderr}")
    return done


def image_of(spec: stack.ServiceSpec) -> str:
    return f"kundencenter/{'standins' if spec.standin else spec.name}:{TAG}"


def port(spec: stack.ServiceSpec) -> int:
    return spec.port + OFFSET


def database(spec: stack.ServiceSpec) -> str | None:
    return f"img_{spec.database}" if spec.database else None


def environment(spec: stack.ServiceSpec) -> dict[str, str]:
    """The local stack's environment of ``spec`` (stack.service_env), moved to the images' ports, databases,
    topic prefix and consumer groups."""
    p = spec.env_prefix
    env = stack.service_env(spec)
    env[p + "HTTP_PORT"] = str(port(spec))
    env[p + "JWKS_URL"] = f"http://{stack.HOST}:{port(stack.SERVICES_BY_NAME['dev-issuer'])}/.well-known/jwks.json"
    env[p + "SMTP_PORT"] = str(SMTP_PORT)
    env[p + "TOPIC_PREFIX"] = PREFIX
    env[p + "CONSUMER_GROUP"] = f"img-{spec.name}"
    env[p + "PROFILE"] = "development"  # a laptop's stack: the images' KC_PROFILE=production wants OPS_TOKEN
    env["KC_MODULE"] = spec.module
    if spec.database:
        db = database(spec)
        if provisioned(spec):  # as on a cluster: the runtime role (no DDL); the db-init step made the tables
            env[p + "DATABASE_URL"] = db_url(spec, runtime=True)
            env[p + "CREATE_SCHEMA"] = "false"
        else:  # the ERP simulator (a stand-in): one role owning its database
            env[p + "DATABASE_URL"] = f"postgresql://{db}:{db}@{stack.HOST}:{stack.POSTGRES_PORT}/{db}"
    if spec.name == "dev-issuer":
        env[p + "KEY_FILE"] = "/tmp/signing-key.pem"  # the container's tmpfs
    if spec.name == "smtp-sink":
        env[p + "SMTP_PORT"] = str(SMTP_PORT)
    for key in ("SHOP_BASE_URL", "API_BASE_URL"):
        if p + key in env:
            env[p + key] = env[p + key].replace(f":{stack.GATEWAY_PORT}", f":{GATEWAY_PORT}")
    return env


def provisioned(spec: stack.ServiceSpec) -> bool:
    """The services' databases come from scripts/provision_db.py (a migration and a runtime role each)."""
    return spec.name in provision_db.SERVICES


def db_url(spec: stack.ServiceSpec, *, runtime: bool) -> str:
    db = database(spec)
    assert db is not None
    role = provision_db.roles(db)[1 if runtime else 0]
    return f"postgresql://{role}:{role}@{stack.HOST}:{stack.POSTGRES_PORT}/{db}"


def ensure_databases() -> None:
    import psycopg

    product = [s for s in stack.SERVICES if s.database and provisioned(s)]
    for spec in product:  # local passwords: the role's name
        for role in provision_db.roles(database(spec) or ""):
            os.environ[f"KC_DB_PASSWORD_{role.upper()}"] = role
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        for spec in product:  # an image stack from before the two roles: its tables go to the migration role
            db = database(spec)
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (db,)).fetchone():
                provision_db.provision(ADMIN_DSN, [db or ""])
                with psycopg.connect(provision_db.url_for(ADMIN_DSN, db or ""), autocommit=True) as old:
                    old.execute(f'REASSIGN OWNED BY "{db}" TO "{provision_db.roles(db or "")[0]}"')
                conn.execute(f'DROP ROLE IF EXISTS "{db}"')
    provision_db.provision(ADMIN_DSN, [database(s) or "" for s in product])
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        for spec in stack.SERVICES:
            db = database(spec)
            if db is None or provisioned(spec):
                continue
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (db,)).fetchone():
                conn.execute(f"CREATE ROLE \"{db}\" LOGIN PASSWORD '{db}'")
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
                conn.execute(f'CREATE DATABASE "{db}" OWNER "{db}"')
    say(f"databases ok ({', '.join(d for s in stack.SERVICES if (d := database(s)))})")


def ensure_topics() -> None:
    podman(
        "run", "--rm", "--network", "host", "--read-only", "--cap-drop", "ALL", "--entrypoint", "python",
        f"kundencenter/runtime:{TAG}", "-m", "kc_runtime.topics", "ensure", "--bootstrap", stack.KAFKA_BOOTSTRAP,
        "--prefix", PREFIX,
    )  # fmt: skip
    say(f"topics ok (prefix {PREFIX})")


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own loopback address)
            return bool(response.status == 200)
    except OSError:
        return False


def wait_ready(name: str, url: str) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    while not ready(url):
        state = podman("inspect", "--format", "{{.State.Status}}", CONTAINER.format(name), check=False).stdout.strip()
        if state not in ("running", "created"):
            logs = podman("logs", "--tail", "30", CONTAINER.format(name), check=False)
            raise SystemExit(f"[up-images] {name} is {state or 'gone'}:\n{logs.stdout}{logs.stderr}")
        if time.monotonic() > deadline:
            raise SystemExit(f"[up-images] {name} not ready at {url} within {READY_DEADLINE_S:.0f} s")
        time.sleep(0.5)


def db_init(spec: stack.ServiceSpec) -> None:
    """What the <service>-db-init Job does: the service's image creates its tables as the migration role."""
    env = {**environment(spec), spec.env_prefix + "DATABASE_URL": db_url(spec, runtime=False)}
    args = ["run", "--rm", "--network", "host", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
            "--entrypoint", "python"]  # fmt: skip
    for key, value in sorted(env.items()):
        args += ["--env", f"{key}={value}"]
    podman(*args, image_of(spec), "-m", "kc_runtime.schema", "create", spec.module)
    say(f"{spec.name:<14} tables ok (as {provision_db.roles(database(spec) or '')[0]})")


def start(spec: stack.ServiceSpec) -> None:
    name = CONTAINER.format(spec.name)
    podman("rm", "-f", name, check=False)
    if spec.database and provisioned(spec):
        db_init(spec)
    args = ["run", "-d", "--name", name, "--network", "host", "--read-only", "--tmpfs", "/tmp",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]  # fmt: skip
    for key, value in sorted(environment(spec).items()):
        args += ["--env", f"{key}={value}"]
    podman(*args, image_of(spec))
    wait_ready(spec.name, f"http://{stack.HOST}:{port(spec)}/readyz")
    say(f"{spec.name:<14} ready on {stack.HOST}:{port(spec)} ({image_of(spec)})")


def gateway_conf() -> Path:
    HOME.mkdir(parents=True, exist_ok=True)
    values = stack.gateway_values(lambda t: f"{stack.HOST}:{stack.SERVICES_BY_NAME[t].port + OFFSET}", local=True)
    # the local profile's bench echo server listens on 8088 beside the local gateway: ours on 9088
    values["local_servers"] = values["local_servers"].replace(":8088", f":{8088 + OFFSET}")
    text = stack.render(
        stack.Gateway.template,
        {
            "user_directive": "user nobody nogroup;" if os.geteuid() == 0 else "",
            "state_dir": str(HOME),
            "log_file": str(HOME / "gateway.log"),
            "listen": f"{stack.HOST}:{GATEWAY_PORT}",
            **values,
        },
    )
    conf = HOME / "nginx.conf"
    conf.write_text(text)
    return conf


def nginx(*args: str) -> list[str]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    return [binary, "-p", f"{HOME}/", "-c", str(HOME / "nginx.conf"), "-e", str(HOME / "gateway.log"), *args]


def up() -> None:
    if not ready(f"http://{stack.HOST}:{stack.GATEWAY_PORT}/healthz"):
        raise SystemExit("[up-images] the local stack's Kafka and PostgreSQL are needed: run `make up` first")
    ensure_databases()
    ensure_topics()
    for spec in stack.SERVICES:
        start(spec)
    gateway_conf()
    if (HOME / "nginx.pid").exists():
        subprocess.run(nginx("-s", "stop"), capture_output=True)
    # The template says `daemon off;` (make up supervises its nginx): started in a session of its own, it outlives
    # this script like the containers do, its output in its log; `down` stops it through its pid file.
    with open(HOME / "gateway.log", "ab") as log:
        gateway = subprocess.Popen(nginx(), stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    wait_ready_gateway = time.monotonic() + 15
    while not ready(f"http://{stack.HOST}:{GATEWAY_PORT}/healthz"):
        if gateway.poll() is not None:
            raise SystemExit(f"[up-images] the gateway exited ({gateway.returncode}); see {HOME / 'gateway.log'}")
        if time.monotonic() > wait_ready_gateway:
            raise SystemExit("[up-images] the gateway did not answer")
        time.sleep(0.2)
    say(f"gateway        ready on http://{stack.HOST}:{GATEWAY_PORT} — `make smoke-images` runs the tour there")


def down() -> None:
    for spec in reversed(stack.SERVICES):
        podman("rm", "-f", "-t", "20", CONTAINER.format(spec.name), check=False)
    if (HOME / "nginx.pid").exists():
        subprocess.run(nginx("-s", "stop"), capture_output=True)
    say("stopped (the databases img_* and the topics img.* stay; the local stack is untouched)")


def status() -> None:
    print(podman("ps", "-a", "--filter", "name=kc-img-", "--format", "{{.Names}}\t{{.Status}}\t{{.Image}}").stdout)


def smoke() -> int:
    erp, sink = stack.SERVICES_BY_NAME["erp-simulator"], stack.SERVICES_BY_NAME["smtp-sink"]
    return subprocess.call([
        sys.executable, str(ROOT / "scripts" / "demo.py"), "--fresh",
        "--gateway", f"http://{stack.HOST}:{GATEWAY_PORT}",
        "--erp", f"http://{stack.HOST}:{port(erp)}", "--smtp-sink", f"http://{stack.HOST}:{port(sink)}",
    ])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "smoke"])
    command = parser.parse_args().command
    if command == "up":
        up()
    elif command == "down":
        down()
    elif command == "status":
        status()
    else:
        return smoke()
    return 0


if __name__ == "__main__":
    sys.exit(main())
