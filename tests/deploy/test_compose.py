"""The compose stack is the local stack of `make up` with Docker: checked without a Docker daemon."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"


@pytest.fixture(scope="module")
def compose(deploy):
    import yaml

    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def module_of(service: dict) -> str:
    if "entrypoint" in service:
        entry = service["entrypoint"]
        return entry[entry.index("-m") + 1]
    return service["build"]["args"]["SERVICE"].replace("-", "_")


def test_compose_file_follows_the_compose_specification(deploy):
    assert deploy.validate_compose() == []


def test_every_dependency_names_a_service_of_the_file(compose):
    for name, service in compose["services"].items():
        for dependency in service.get("depends_on", {}):
            assert dependency in compose["services"], f"{name} depends on unknown {dependency}"


def test_every_component_of_the_local_stack_runs_its_module_on_its_port(deploy, compose):
    for spec in deploy.stack().SERVICES:
        service = compose["services"][spec.name]
        assert module_of(service) == spec.module, spec.name
        env = environment(service)
        assert env[f"{spec.env_prefix}HTTP_PORT"] == str(spec.port)
        assert env[f"{spec.env_prefix}HTTP_HOST"] == "0.0.0.0"
        assert f"127.0.0.1:{spec.port}:{spec.port}" in service["ports"]


def test_every_environment_variable_is_a_settings_field_of_its_component(deploy, compose):
    for spec in deploy.stack().SERVICES:
        env = environment(compose["services"][spec.name])
        unknown = set(env) - deploy.components()[spec.name].env_names
        assert unknown == set(), f"{spec.name}: {sorted(unknown)}"


def test_each_component_uses_its_own_database_and_role(deploy, compose):
    for spec in deploy.stack().SERVICES:
        env = environment(compose["services"][spec.name])
        url = env.get(f"{spec.env_prefix}DATABASE_URL")
        if spec.database is None:
            assert url is None
            continue
        db = spec.database
        assert url == f"postgresql://{db}:{db}@postgres:5432/{db}"


def test_the_dev_issuer_is_enabled_and_every_service_trusts_it(deploy, compose):
    issuer = environment(compose["services"]["dev-issuer"])
    assert issuer["DEV_ISSUER_ENABLED"] == "true"
    for component in deploy.services():
        env = environment(compose["services"][component.name])
        assert env[f"{component.prefix}JWT_ISSUER"] == issuer["DEV_ISSUER_ISSUER"]
        assert env[f"{component.prefix}JWKS_URL"].startswith(issuer["DEV_ISSUER_ISSUER"])


def test_the_topics_job_runs_before_every_service_that_needs_kafka(compose):
    assert compose["services"]["topics"]["entrypoint"][:4] == ["python", "-m", "kc_runtime.topics", "ensure"]
    for name, service in compose["services"].items():
        if any(key.endswith("KAFKA_BOOTSTRAP_SERVERS") for key in environment(service)):
            assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully", name


def test_the_database_init_script_creates_every_database_of_the_stack(deploy):
    sql = (DOCKER / "generated" / "init-databases.sql").read_text()
    for db in deploy.stack().DATABASES:
        assert f"CREATE DATABASE {db} OWNER {db};" in sql


def test_the_gateway_config_routes_every_prefix_to_its_service(deploy):
    conf = (DOCKER / "generated" / "nginx.conf").read_text()
    st = deploy.stack()
    for route in st.ROUTES:
        assert f"location {route.prefix}" in conf or f"location = {route.prefix} " in conf, route.prefix
        upstream = st.nginx_upstream(route.upstream)
        assert f"server {route.upstream}:{st.SERVICES_BY_NAME[route.upstream].port}" in conf
        assert f"proxy_pass http://{upstream};" in conf
    assert not [line for line in conf.splitlines() if "${" in line and not line.lstrip().startswith("#")]


def test_every_file_mounted_into_a_container_exists(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DOCKER / source).is_file(), f"{name}: {source}"


def test_every_image_built_is_a_workspace_member(compose):
    members = {tomllib.loads(path.read_text())["project"]["name"] for path in ROOT.glob("*/pyproject.toml")} | {
        tomllib.loads(path.read_text())["project"]["name"] for path in ROOT.glob("services/*/pyproject.toml")
    }
    for name, service in compose["services"].items():
        if "build" in service:
            assert f"kc-{service['build']['args']['SERVICE']}" in members, name


def test_the_dockerfile_installs_one_member_without_dev_dependencies_and_runs_unprivileged():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", dockerfile, re.M)
    assert 'uv sync --frozen --no-dev --no-editable --package "kc-${SERVICE}"' in dockerfile
    user = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert user and not user[-1].startswith(("0", "root"))
    entrypoint = (DOCKER / "entrypoint.sh").read_text()
    assert 'exec python -m "$module"' in entrypoint
