"""Production's deny-by-default network policies let every pod do its work and nothing more: each pod is selected by
the policies meant for it, and only the services that fetch persons' keys reach users' API pods (ADR 0035)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.conftest import named, pod_spec, workloads

KEY_FETCHERS = {"approval", "notifications", "erp-sync", "registration"}
PROD = "overlays/prod"


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes' label selector (matchLabels, matchExpressions with In/NotIn/Exists/DoesNotExist)."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        value, op = labels.get(e["key"]), e["operator"]
        if (op == "In" and value not in e["values"]) or (op == "NotIn" and value in e["values"]):
            return False
        if (op == "Exists" and value is None) or (op == "DoesNotExist" and value is not None):
            return False
    return True


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def policies(objects: list[dict[str, Any]], labels: dict[str, str], kind: str) -> list[dict[str, Any]]:
    return [p for p in named(objects, "NetworkPolicy").values()
            if kind in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)]  # fmt: skip


def ingress_from(objects: list[dict[str, Any]], target: dict[str, str], source: dict[str, str]) -> set[Any]:
    """The ports of ``target``'s pods that pods labelled ``source`` (same namespace) may reach."""
    ports: set[Any] = set()
    for policy in policies(objects, target, "Ingress"):
        for rule in policy["spec"].get("ingress") or []:
            peers = [p for p in rule.get("from") or [] if "podSelector" in p and "namespaceSelector" not in p]
            if any(selects(p["podSelector"], source) for p in peers):
                ports |= {p["port"] for p in rule.get("ports") or []}
    return ports


def egress_to(objects: list[dict[str, Any]], source: dict[str, str], target: dict[str, str]) -> set[Any]:
    """The ports pods labelled ``source`` may reach on ``target``'s pods (rules naming pods, or any destination)."""
    ports: set[Any] = set()
    for policy in policies(objects, source, "Egress"):
        for rule in policy["spec"].get("egress") or []:
            peers = rule.get("to")
            if not peers or any("podSelector" in p and "namespaceSelector" not in p
                                and selects(p["podSelector"], target) for p in peers):  # fmt: skip
                ports |= {p["port"] for p in rule.get("ports") or []}
    return ports


@pytest.fixture(scope="module")
def prod(rendered) -> list[dict[str, Any]]:
    objects = rendered[PROD]
    assert named(objects, "NetworkPolicy"), "production runs the network policies"
    return objects


def test_every_production_pod_may_reach_dns_postgresql_and_kafka(prod):
    # deny-by-default selects every pod; a pod the egress policy does not select (a worker without the labels
    # the policy names) could reach nothing at all
    for workload in workloads(prod):
        labels = pod_labels(workload)
        allowed = {port for policy in policies(prod, labels, "Egress") for rule in policy["spec"].get("egress") or []
                   for port in (p["port"] for p in rule.get("ports") or [])}  # fmt: skip
        assert {53, 5432, 9093} <= allowed, f"{workload['metadata']['name']}: egress {sorted(map(str, allowed))}"


def test_only_the_services_that_fetch_keys_reach_users_api_pods_and_only_on_its_port(prod):
    deployments = named(prod, "Deployment")
    users_api = pod_labels(deployments["users"])
    for name, deployment in deployments.items():
        labels = pod_labels(deployment)
        service = labels["app.kubernetes.io/name"]
        inbound, outbound = ingress_from(prod, users_api, labels), egress_to(prod, labels, users_api)
        if service in KEY_FETCHERS:
            assert inbound == {"http"} and 8080 in outbound, name
        else:
            assert inbound == set(), name
    http = {p["name"]: p["containerPort"] for p in pod_spec(deployments["users"])["containers"][0]["ports"]}["http"]
    assert http == 8080  # the egress rule's port is users' container port (policies see the pod, not the Service)


def test_users_and_the_services_that_fetch_keys_present_one_token_from_one_secret(rendered):
    for build in ("base", PROD):
        deployments = named(rendered[build], "Deployment")
        expected = {"users": ["USERS_INTERNAL_TOKEN"]}
        for name, deployment in deployments.items():
            service = pod_labels(deployment)["app.kubernetes.io/name"]
            env = {e["name"]: e for c in pod_spec(deployment)["containers"] for e in c.get("env", [])}
            tokens = {n: e for n, e in env.items() if n.endswith("INTERNAL_TOKEN")}
            if service in KEY_FETCHERS or name == "users":
                assert tokens, f"{build}: {name} has no users internal token"
                for n, e in tokens.items():
                    assert e["valueFrom"]["secretKeyRef"] == {"name": "users-internal", "key": "token"}, (build, n)
                if name == "users":
                    assert list(tokens) == expected["users"]
            else:
                assert not tokens, f"{build}: {name} needs no users internal token"
        config = named(rendered[build], "ConfigMap")
        for service in KEY_FETCHERS:
            data = next(c["data"] for n, c in config.items() if n.startswith(f"{service}-config"))
            prefix = service.upper().replace("-", "_") + "_"
            assert data[f"{prefix}USERS_INTERNAL_URL"] == "http://users"
