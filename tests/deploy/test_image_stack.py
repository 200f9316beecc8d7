"""The images' stack (`make up-images`, scripts/up_images.py) runs beside the local stack of `make up` without
taking its ports, its databases, its topics or its consumer groups."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def images():
    spec = importlib.util.spec_from_file_location("up_images", ROOT / "scripts" / "up_images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["up_images"] = module
    spec.loader.exec_module(module)
    return module


def local_ports(stack) -> set[int]:
    ports = {stack.POSTGRES_PORT, stack.KAFKA_PORT, stack.KAFKA_CONTROLLER_PORT, stack.GATEWAY_PORT, stack.SMTP_PORT}
    return ports | {s.port for s in stack.SERVICES} | {8088}


def test_no_component_listens_on_a_port_of_the_local_stack(images):
    stack = images.stack
    taken = local_ports(stack)
    for spec in stack.SERVICES:
        env = images.environment(spec)
        listens = {int(env[spec.env_prefix + "HTTP_PORT"])}
        if spec.name == "smtp-sink":
            listens.add(int(env[spec.env_prefix + "SMTP_PORT"]))
        assert not listens & taken, spec.name
    assert images.GATEWAY_PORT not in taken


def test_the_gateway_listens_and_proxies_only_on_the_images_ports(images, tmp_path, monkeypatch):
    monkeypatch.setattr(images, "HOME", tmp_path)
    text = images.gateway_conf().read_text()
    stack = images.stack
    listens = {int(line.split(":")[-1].rstrip(";")) for line in text.splitlines() if line.strip().startswith("listen")}
    upstreams = {
        int(line.split(":")[-1].split()[0]) for line in text.splitlines() if line.strip().startswith("server 127")
    }
    assert images.GATEWAY_PORT in listens
    assert not (listens | upstreams) & local_ports(stack)


def test_its_databases_topics_and_consumer_groups_are_its_own(images):
    stack = images.stack
    for spec in stack.SERVICES:
        env = images.environment(spec)
        assert env[spec.env_prefix + "TOPIC_PREFIX"] == "img."
        assert env[spec.env_prefix + "CONSUMER_GROUP"] == f"img-{spec.name}"
        if spec.database:
            assert env[spec.env_prefix + "DATABASE_URL"].endswith(f"/img_{spec.database}")
            assert f"/{spec.database}" not in env[spec.env_prefix + "DATABASE_URL"].replace(f"/img_{spec.database}", "")


def test_each_component_runs_from_its_image_with_its_module(images):
    stack = images.stack
    assert images.image_of(stack.SERVICES_BY_NAME["erp-simulator"]) == "kundencenter/standins:local"
    assert images.image_of(stack.SERVICES_BY_NAME["erp-sync"]) == "kundencenter/erp-sync:local"
    assert images.environment(stack.SERVICES_BY_NAME["erp-simulator"])["KC_MODULE"] == "standins.erp_simulator"
