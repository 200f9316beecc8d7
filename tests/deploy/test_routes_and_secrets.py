"""Routes and Secrets as a shared cluster needs them: every HTTPRoute names its hosts and leads to paths its service
serves, and every Secret a manifest references is listed (with its keys) in docs/platform.md — `make deploy-check`
fails otherwise."""

from __future__ import annotations

import re

import pytest


def without_row(text: str, secret: str) -> str:
    """docs/platform.md with ``secret`` taken out of the Secrets table (its row, or its name in a shared row)."""
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith("| `") and f"`{secret}`" in line.split("|")[1]:
            names = [n for n in re.findall(r"`([^`]+)`", line.split("|")[1]) if n != secret]
            if not names:
                continue
            cells = line.split("|")
            cells[1] = " " + ", ".join(f"`{n}`" for n in names) + " "
            line = "|".join(cells)
        lines.append(line)
    return "".join(lines)


@pytest.fixture(scope="module")
def documented(deploy):
    return deploy.documented_secrets(deploy.PLATFORM_DOC.read_text())


@pytest.mark.parametrize("build", ["base", "overlays/dev", "overlays/prod"])
def test_every_secret_a_manifest_references_is_listed_with_its_keys(deploy, rendered, documented, build):
    assert deploy.undocumented_secrets(rendered[build], documented) == []


def test_every_listed_secret_is_used_by_some_manifest(deploy, rendered, documented):
    assert deploy.unreferenced_secrets(rendered, documented) == []


def test_the_secrets_the_issue_named_are_listed(documented):
    assert documented["erp-sync-ops"] == {"token"}
    assert documented["registration-token"] == {"secret"}


def test_a_referenced_secret_missing_from_the_table_fails_the_deploy_check(deploy, rendered, tmp_path, monkeypatch):
    doc = tmp_path / "platform.md"
    doc.write_text(without_row(deploy.PLATFORM_DOC.read_text(), "erp-sync-ops"))
    assert "`erp-sync-ops`" not in doc.read_text()
    monkeypatch.setattr(deploy, "PLATFORM_DOC", doc)
    assert deploy.check_routes_and_secrets(rendered) > 0
    problems = deploy.undocumented_secrets(rendered["base"], deploy.documented_secrets(doc.read_text()))
    assert problems and all("erp-sync-ops" in p for p in problems), problems
    assert any("Deployment/erp-sync" in p and "Job/erp-sync-db-init" in p for p in problems), problems


def test_the_deploy_check_passes_with_the_table_as_it_is(deploy, rendered):
    assert deploy.check_routes_and_secrets(rendered) == 0


def test_a_key_the_table_does_not_list_is_a_problem(deploy, rendered, documented):
    table = {**documented, "notifications-smtp": {"username"}}
    problems = deploy.undocumented_secrets(rendered["base"], table)
    assert problems == [p for p in problems if "notifications-smtp: key password" in p] and problems


def test_secrets_are_found_in_env_envfrom_volumes_projections_and_keda_trigger_authentications(deploy):
    objects = [
        {"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"template": {"spec": {
            "containers": [{"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s-env", "key": "k"}}}],
                            "envFrom": [{"secretRef": {"name": "s-envfrom"}}]}],
            "volumes": [{"name": "v", "secret": {"secretName": "s-volume", "items": [{"key": "ca.crt", "path": "c"}]}},
                        {"name": "p", "projected": {"sources": [{"secret": {"name": "s-projected"}}]}}],
        }}}},
        {"kind": "TriggerAuthentication", "metadata": {"name": "t"},
         "spec": {"secretTargetRef": [{"parameter": "password", "name": "s-keda", "key": "password"}]}},
        {"kind": "Secret", "metadata": {"name": "brought-along"}, "stringData": {"a": "b"}},
    ]  # fmt: skip
    assert set(deploy.secret_references(objects)) == {
        ("s-env", "k"), ("s-envfrom", None), ("s-volume", "ca.crt"), ("s-projected", None), ("s-keda", "password"),
    }  # fmt: skip


@pytest.mark.parametrize("build", ["base", "overlays/dev", "overlays/prod"])
def test_every_httproute_names_the_hosts_it_answers_on(deploy, rendered, build):
    routes = [o for o in rendered[build] if o["kind"] == "HTTPRoute"]
    assert routes
    assert all(o["spec"].get("hostnames") for o in routes)
    assert deploy.route_problems(rendered[build], overlay=build != "base") == []


def test_the_overlays_replace_the_bases_placeholder_host(deploy, rendered):
    for build, host in (
        ("overlays/dev", "kundencenter.dev.example.com"),
        ("overlays/prod", "kundencenter.example.com"),
    ):
        hosts = {h for o in rendered[build] if o["kind"] == "HTTPRoute" for h in o["spec"]["hostnames"]}
        assert hosts == {host}, build
    assert {h for o in rendered["base"] if o["kind"] == "HTTPRoute" for h in o["spec"]["hostnames"]} == {
        deploy.HOSTNAME_PLACEHOLDER
    }


def test_a_route_without_hostnames_or_on_the_placeholder_in_an_overlay_is_a_problem(deploy):
    bare = {"kind": "HTTPRoute", "metadata": {"name": "users"}, "spec": {"rules": []}}
    placeholder = {
        "kind": "HTTPRoute",
        "metadata": {"name": "users"},
        "spec": {"hostnames": [deploy.HOSTNAME_PLACEHOLDER]},
    }
    assert deploy.route_problems([bare], overlay=False)
    assert deploy.route_problems([placeholder], overlay=True)
    assert deploy.route_problems([placeholder], overlay=False) == []


def test_every_route_leads_to_paths_its_service_serves(deploy):
    assert deploy.dead_routes() == []


def test_a_route_to_a_service_that_serves_nothing_there_is_a_problem(deploy, monkeypatch):
    table = deploy.stack()
    monkeypatch.setattr(table, "ROUTES", [*table.ROUTES, table.Route("/api/erp", "erp-sync")])
    assert deploy.dead_routes() == ["route /api/erp -> erp-sync: erp-sync serves no path there"]
