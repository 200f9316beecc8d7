"""The deploy artefacts, rendered once per session by scripts/deploy_check.py (which installs its tools)."""

from __future__ import annotations

import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.deploy.pg_cluster import cluster  # noqa: F401  (the fixture: a PostgreSQL cluster of the tests' own)

ROOT = Path(__file__).resolve().parents[2]


def _load_deploy_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_check", ROOT / "scripts" / "deploy_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["deploy_check"] = module
    spec.loader.exec_module(module)
    module.require_libs()
    return module


@pytest.fixture(scope="session")
def deploy() -> ModuleType:
    return sys.modules.get("deploy_check") or _load_deploy_check()


@pytest.fixture(scope="session")
def rendered(deploy: ModuleType) -> dict[str, list[dict[str, Any]]]:
    """Every kustomize build (base, overlays/dev, overlays/prod) as a list of objects."""
    with ThreadPoolExecutor(len(deploy.BUILDS)) as pool:  # kustomize runs as a process: build them together
        return dict(zip(deploy.BUILDS, pool.map(deploy.render, deploy.BUILDS), strict=True))


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "Job")]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def named(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "builds_image: builds an image's environment (uv sync per image; slow)")
    config.addinivalue_line(
        "markers",
        "postgres_cluster: starts a PostgreSQL cluster of its own (the server binaries that make up installs)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `make check` leaves these out (-m "not builds_image"): each builds a fresh virtualenv like the Dockerfile's
    # step, ~10-20 s apiece; `make test` runs them.
    for item in items:
        if "image" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.builds_image)
