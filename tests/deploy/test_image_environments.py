"""What each image holds, checked without a Docker engine: the Dockerfile's build step (`uv sync --frozen
--no-dev --no-editable --package kc-<SERVICE>`) is run into a fresh environment per build arg of the compose
file, and every entrypoint that runs in that image must start from it — no development dependency (pytest, the
stand-ins, the other services) may be needed, and nothing the service needs may be missing from its package."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.test_compose import DOCKER, ROOT, environment, module_of

SERVICES = {"registration", "users", "approval", "erp-sync", "notifications"}
FRONTEND = "frontend"
DEV_ONLY = ("pytest", "schemathesis", "ruff", "mypy", "import_linter", "py_spy")


@pytest.fixture(scope="module")
def compose(deploy):
    import yaml

    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH (deploy/local/bootstrap.sh installs it)")
    built: dict[str, Path] = {}

    def build(service: str) -> Path:
        if service not in built:
            venv = tmp_path_factory.mktemp(f"image-{service}") / "venv"
            env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"}
            env.pop("VIRTUAL_ENV", None)
            # the workspace's own packages are built afresh: uv reuses a built wheel of a local package until its
            # pyproject.toml changes, so an image of the working tree could otherwise hold older code of them
            fresh = [
                arg
                for member in ("kc-contracts", "kc-runtime", f"kc-{service}")
                for arg in ("--refresh-package", member)
            ]
            done = subprocess.run(
                [uv, "sync", "--frozen", "--no-dev", "--no-editable", "--package", f"kc-{service}", "-q", *fresh],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            built[service] = venv
        return built[service]

    return build


def python(venv: Path, code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd="/", env={**clean, **(env or {})}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def images(compose) -> dict[str, list[tuple[str, dict]]]:
    """Build arg SERVICE → the compose services (name, definition) that run in that image."""
    out: dict[str, list[tuple[str, dict]]] = {}
    for name, service in compose["services"].items():
        if "build" in service:
            out.setdefault(service["build"]["args"]["SERVICE"], []).append((name, service))
    return out


def test_every_image_of_the_compose_file_is_checked(compose):
    assert set(images(compose)) == SERVICES | {FRONTEND, "standins", "runtime"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_image_builds_its_app_and_holds_no_development_tool(image, compose, service):
    venv = image(service)
    package = service.replace("-", "_")
    (name, definition) = images(compose)[service][0]
    prefix = package.upper() + "_"
    env = {**environment(definition), f"{prefix}DATABASE_URL": "memory://"}
    built = python(
        venv,
        f"import {package}.main as m, fastapi; app = m.create_app(); "
        "print(isinstance(app, fastapi.FastAPI) and 'FastAPI', len(app.routes))",
        env,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert built.stdout.splitlines()[-1].startswith("FastAPI"), built.stdout  # (logs go to stdout before it)
    assert module_of(definition) == package, name
    # the db-init Job runs the schema tool from the same image
    schema = python(venv, "import kc_runtime.schema, kc_runtime.topics")
    assert schema.returncode == 0, schema.stderr[-2000:]
    # ... and the service's migration history ships in the image (ADR 0019)
    history = python(venv, f"from kc_runtime import migrations as m; print(m.head(m.history('{package}')))")
    assert history.returncode == 0 and history.stdout.strip(), history.stderr[-2000:]
    site = next((venv / "lib").glob("python3*/site-packages"))
    present = {p.name.split("-")[0].lower() for p in site.iterdir()}
    assert not present & set(DEV_ONLY), f"development tools in the {service} image: {present & set(DEV_ONLY)}"
    others = (SERVICES - {service}) | {"standins"}
    assert not present & {o.replace("-", "_") for o in others}, "another service's code in the image"


def test_the_frontend_image_builds_its_app_and_holds_no_development_tool_nor_a_service(image, compose):
    venv = image(FRONTEND)
    (name, definition) = images(compose)[FRONTEND][0]
    built = python(
        venv,
        "import frontend.main as m; app = m.create_app(); print(type(app).__name__, len(app.routes))",
        environment(definition),
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert built.stdout.splitlines()[-1].startswith("FastAPI"), built.stdout
    assert module_of(definition) == FRONTEND, name
    site = next((venv / "lib").glob("python3*/site-packages"))
    present = {p.name.split("-")[0].lower() for p in site.iterdir()}
    assert not present & set(DEV_ONLY), f"development tools in the frontend image: {present & set(DEV_ONLY)}"
    assert not present & {o.replace("-", "_") for o in SERVICES | {"standins"}}, "a service's code in the image"


@pytest.mark.parametrize("service", ["standins", "runtime"])
def test_the_helper_images_import_what_their_entrypoints_run(image, compose, service):
    venv = image(service)
    for name, definition in images(compose)[service]:
        module = module_of(definition)
        found = python(venv, f"import importlib.util as u; assert u.find_spec('{module}') is not None")
        assert found.returncode == 0, f"{name}: {module} not in the {service} image\n{found.stderr[-2000:]}"
        imported = python(venv, f"import importlib; importlib.import_module('{module.rsplit('.', 1)[0]}')")
        assert imported.returncode == 0, f"{name}: {imported.stderr[-2000:]}"
