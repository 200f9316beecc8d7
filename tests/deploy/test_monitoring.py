"""The monitoring objects (components/monitoring) hold together: every alert has its runbook and every runbook its
alert; every series an alert or a dashboard asks for is one the code defines, with labels it has; the dashboards are
what scripts/dashboards.py generates from the code; every service is scraped in every overlay."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from scripts import dashboards
from tests.deploy.conftest import ROOT, named, pod_spec

RULES = ROOT / "deploy" / "k8s" / "components" / "monitoring" / "prometheus-rules.yaml"
RUNBOOKS = ROOT / "docs" / "runbooks"
OVERLAYS = ("overlays/dev", "overlays/prod")
# what Prometheus itself provides: the scrape's own series and the target labels the operator attaches
PROMETHEUS_SERIES = {"up": ()}
TARGET_LABELS = {"namespace", "pod", "container", "job", "instance", "endpoint", "component"}
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
    "unless", "rate", "irate", "increase", "histogram_quantile", "le", "bool", "offset", "absent", "topk",
}  # fmt: skip
SERIES = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?")


def alerts() -> list[dict[str, Any]]:
    rule = yaml.safe_load(RULES.read_text())
    return [r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]


def dashboard_exprs() -> list[tuple[str, str]]:
    found = []
    for path in sorted(dashboards.DASHBOARDS_DIR.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found.append((f"{path.name}: {panel['title']}", target["expr"]))
    return found


def every_expr() -> list[tuple[str, str]]:
    return [(f"alert {a['alert']}", a["expr"]) for a in alerts()] + dashboard_exprs()


def selectors(expr: str) -> list[tuple[str, list[str]]]:
    """(series name, label names of its matchers) of every series an expression selects."""
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values and strings out of the way
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    found = []
    for name, matchers in SERIES.findall(expr):
        if name in PROMQL_WORDS or re.fullmatch(r"[0-9e.]+", name):
            continue
        labels = re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers)
        found.append((name, labels))
    return found


def grouping_labels(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', '""', expr)
    groups = re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr)
    return {label.strip() for group in groups for label in group.split(",") if label.strip()}


@pytest.fixture(scope="module")
def series() -> dict[str, tuple[str, ...]]:
    """Every series name the code can export → its label names (and Prometheus' own series)."""
    known = {name: d.labels for name, d in dashboards.series_names(dashboards.definitions()).items()}
    return known | PROMETHEUS_SERIES


def test_every_alert_names_its_runbook_and_the_runbook_exists():
    for alert in alerts():
        url = alert["annotations"]["runbook_url"]
        assert url == f"docs/runbooks/{alert['alert']}.md", alert["alert"]
        assert (ROOT / url).is_file(), f"{alert['alert']}: {url} does not exist"


def test_every_runbook_belongs_to_an_alert():
    names = {alert["alert"] for alert in alerts()}
    pages = {path.stem for path in RUNBOOKS.glob("*.md") if path.name != "README.md"}
    assert pages - names == set(), "runbooks without an alert"


def test_every_alert_has_a_severity_a_summary_and_a_description():
    for alert in alerts():
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}, alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]


def test_the_alerts_cover_what_an_operator_must_hear_about(series):
    used = {name for _, expr in every_expr() if _.startswith("alert") for name, _labels in selectors(expr)}
    for needed in (
        "kc_relay_active", "kc_relay_lag_events", "kc_consumer_lag_messages", "kc_dead_lettered_total",
        "kc_http_request_duration_seconds_count", "kc_http_request_duration_seconds_bucket",
        "kc_approvals_oldest_pending_seconds", "kc_erp_sync_failures_total", "kc_erp_sync_pending",
    ):  # fmt: skip
        assert needed in used, needed


def test_every_series_an_alert_or_a_dashboard_uses_is_defined_by_the_code(series):
    exprs = every_expr()
    assert len(exprs) > 20
    for where, expr in exprs:
        for name, _labels in selectors(expr):
            assert name in series, f"{where}: {name} is no metric of the code ({expr})"


def test_every_label_an_alert_or_a_dashboard_matches_or_groups_by_is_one_its_series_have(series):
    for where, expr in every_expr():
        chosen = selectors(expr)
        available = set(TARGET_LABELS) | {"le"}
        for name, labels in chosen:
            unknown = set(labels) - set(series[name]) - TARGET_LABELS
            assert not unknown, f"{where}: {name} has no label {sorted(unknown)}"
            available |= set(series[name])
        unknown = grouping_labels(expr) - available
        assert not unknown, f"{where}: groups by {sorted(unknown)}, which none of its series has ({expr})"


def test_the_check_of_series_names_fails_on_an_unknown_metric(series):
    assert [name for name, _ in selectors('sum by (kc_service) (rate(kc_no_such_total{topic="x"}[5m]))')] == [
        "kc_no_such_total"
    ]
    assert "kc_no_such_total" not in series
    assert selectors('kc_relay_lag_events{namespace=~"$namespace", kc_service=~"a"}') == [
        ("kc_relay_lag_events", ["namespace", "kc_service"])
    ]


def test_the_committed_dashboards_are_what_the_metric_definitions_generate():
    documents = dashboards.documents()
    committed = {path.name for path in dashboards.DASHBOARDS_DIR.glob("*.json")}
    assert committed == set(documents), "run `.venv/bin/python -m scripts.dashboards write`"
    for name, text in documents.items():
        assert (dashboards.DASHBOARDS_DIR / name).read_text() == text, (
            f"{name} is stale: run `.venv/bin/python -m scripts.dashboards write`"
        )


def test_the_dashboards_show_what_the_issue_asks_for():
    titles = {json.loads(p.read_text())["title"] for p in dashboards.DASHBOARDS_DIR.glob("*.json")}
    panels = " | ".join(where for where, _ in dashboard_exprs())
    for wanted in ("Orders by status", "Orders waiting for an approver", "Waiting for the ERP's answer", "Relay lag",
                   "Consumer lag", "dead-letter", "Server errors", "latency"):  # fmt: skip
        assert wanted.lower() in panels.lower(), wanted
    assert len(titles) == len(dashboards.DASHBOARDS)


def test_a_panel_naming_a_metric_the_code_does_not_define_fails_the_generation():
    board = dashboards.Dashboard("x", "x", "x", (dashboards.Row("r", (dashboards.Panel("kc_gone_total", "rate"),)),))
    with pytest.raises(ValueError, match="kc_gone_total"):
        dashboards.dashboard_json(board, dashboards.definitions())


def test_a_panel_grouping_by_a_label_the_metric_lacks_fails_the_generation():
    panel = dashboards.Panel("kc_relay_lag_events", "max", by=("topic",))
    board = dashboards.Dashboard("x", "x", "x", (dashboards.Row("r", (panel,)),))
    with pytest.raises(ValueError, match="topic"):
        dashboards.dashboard_json(board, dashboards.definitions())


def test_no_metric_of_the_code_carries_a_label_named_service():
    for definition in dashboards.definitions().values():
        assert "service" not in definition.labels, definition.name
        assert definition.labels[0] == "kc_service", definition.name


@pytest.mark.parametrize("build", OVERLAYS)
def test_every_service_is_scraped_by_a_pod_monitor_on_its_api_pods_and_workers(deploy, rendered, build):
    objects = rendered[build]
    monitors = named(objects, "PodMonitor")
    for component in deploy.services():
        monitor = monitors[component.name]
        selector = monitor["spec"]["selector"]
        (roles,) = selector["matchExpressions"]
        deployments = [
            d for d in named(objects, "Deployment").values()
            if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/name") == component.name
        ]  # fmt: skip
        assert deployments, component.name
        for deployment in deployments:
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert selector["matchLabels"].items() <= labels.items()
            assert labels["app.kubernetes.io/component"] in roles["values"]
            ports = {p["name"] for p in pod_spec(deployment)["containers"][0]["ports"]}
            for endpoint in monitor["spec"]["podMetricsEndpoints"]:
                assert endpoint["port"] in ports and endpoint["path"] == "/metrics"


@pytest.mark.parametrize("build", OVERLAYS)
def test_every_overlay_has_the_alerts_and_the_dashboards_for_grafanas_sidecar(rendered, build):
    objects = rendered[build]
    assert "kundencenter" in named(objects, "PrometheusRule")
    config = named(objects, "ConfigMap")["kundencenter-dashboards"]
    assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert set(config["data"]) == {p.name for p in dashboards.DASHBOARDS_DIR.glob("*.json")}
    for text in config["data"].values():
        assert json.loads(text)["uid"].startswith("kc-")


def test_runbook_index_lists_every_runbook():
    index = (RUNBOOKS / "README.md").read_text()
    for path in RUNBOOKS.glob("Kundencenter*.md"):
        assert f"({path.name})" in index, path.name
