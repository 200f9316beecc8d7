"""Production's deny-by-default network policies let every pod do its work: each pod is selected by the policies
meant for it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.conftest import named, workloads

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
