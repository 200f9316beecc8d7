"""The operator API's credential: required in every profile, no default outside development."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from kc_runtime.eventstore import ServiceApplication
from kc_runtime.ops import OpsTokenMissing, development_ops_token
from kc_runtime.service import HttpApi, ServiceRuntime
from kc_runtime.settings import ServiceSettings


def runtime(**settings: object) -> ServiceRuntime:
    app = ServiceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    return ServiceRuntime(
        ServiceSettings(service_name="svc", database_url=SecretStr("memory://"), process_roles=["api"], **settings),
        app=app,
        api=HttpApi("svc"),
    )


def test_a_service_outside_the_development_profile_refuses_to_start_without_an_operator_token():
    with pytest.raises(OpsTokenMissing, match="KC_OPS_TOKEN is not set"):
        runtime(profile="production")


def test_the_images_profile_comes_from_kc_profile(monkeypatch):
    monkeypatch.setenv("KC_PROFILE", "production")
    assert ServiceSettings().profile == "production"
    monkeypatch.delenv("KC_PROFILE")
    assert ServiceSettings().profile == "development"


async def test_in_production_only_the_configured_token_opens_the_operator_api():
    http = runtime(profile="production", ops_token=SecretStr("s3cret-operator-token")).http
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=http), base_url="http://svc") as c:
        dev = {"Authorization": f"Bearer {development_ops_token('svc')}"}
        assert (await c.get("/ops/parked", headers=dev)).status_code == 401
        assert (await c.get("/ops/parked")).status_code == 401
        ok = await c.get("/ops/parked", headers={"Authorization": "Bearer s3cret-operator-token"})
        assert ok.status_code == 200 and ok.json() == []


async def test_in_development_the_development_token_opens_it_and_nothing_else_does():
    http = runtime(profile="development").http
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=http), base_url="http://svc") as c:
        assert (await c.get("/ops/parked")).status_code == 401
        dev = {"Authorization": f"Bearer {development_ops_token('svc')}"}
        assert (await c.get("/ops/parked", headers=dev)).status_code == 200
