"""Grafana dashboards of the Kundencenter, generated from the code's metric definitions.

    .venv/bin/python -m scripts.dashboards write    # writes deploy/k8s/components/monitoring/dashboards/*.json
    .venv/bin/python -m scripts.dashboards check    # exit 1 when a committed dashboard differs from the code

`python scripts/deploy_check.py generate` writes them too (with the other generated files), and `make deploy-check`
validates them with the Grafana Foundation SDK's strict dashboard model. components/monitoring turns them into a
ConfigMap labelled for Grafana's dashboard sidecar.

Every panel names a metric of the code: the runtime's (``kc_runtime.metrics``, ``kc_runtime.fence``,
``kc_runtime.published``) and each service's (``services/*/src/**/metrics.py``). The panel's title and unit come
from the metric's definition, its description is the metric's help text, and a panel that names a metric or a label
the code does not define fails the generation — so a renamed metric cannot leave a dashboard showing nothing.
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.metrics import MetricWrapperBase

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS_DIR = ROOT / "deploy" / "k8s" / "components" / "monitoring" / "dashboards"
RUNTIME_MODULES = ("kc_runtime.metrics", "kc_runtime.fence", "kc_runtime.published")
SERVICE_LABEL = "kc_service"
SELECTOR = 'namespace=~"$namespace", kc_service=~"$service"'
RATE = "$__rate_interval"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SUFFIXES = {"gauge": ("",), "histogram": ("_bucket", "_count", "_sum", "_created")}


# ----------------------------------------------------------------------------------------------------------
# The metric definitions of the code
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Definition:
    """One metric as the code defines it (prometheus_client): its name as written there (a counter's with
    ``_total``), type, labels and help."""

    name: str
    type: str
    labels: tuple[str, ...]
    help: str
    module: str

    @property
    def series(self) -> tuple[str, ...]:
        """The names its samples carry on /metrics (a counter's ``_total`` and ``_created``, a histogram's
        ``_bucket``, …)."""
        if self.type == "counter":
            base = self.name.removesuffix("_total")
            return (base + "_total", base + "_created")
        return tuple(self.name + suffix for suffix in SUFFIXES[self.type])


def service_metric_modules() -> list[str]:
    """services/<name>/src/<package>/**/metrics.py as module names."""
    modules = []
    for path in sorted(ROOT.glob("services/*/src/*/**/metrics.py")):
        src = next(p for p in path.parents if p.name == "src")
        modules.append(".".join(path.relative_to(src).with_suffix("").parts))
    return modules


def definitions() -> dict[str, Definition]:
    """Every metric the runtime and the services define, by name (as written in the code)."""
    found: dict[str, Definition] = {}
    for module_name in (*RUNTIME_MODULES, *service_metric_modules()):
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                (described,) = value.describe()
                name = described.name + ("_total" if described.type == "counter" else "")
                # prometheus_client keeps the label names on the wrapper only (no public accessor)
                labels = tuple(value._labelnames)
                found[name] = Definition(name, described.type, labels, described.documentation, module_name)
    return found


def series_names(defined: dict[str, Definition]) -> dict[str, Definition]:
    """Every series name a scrape can show → its definition."""
    return {series: d for d in defined.values() for series in d.series}


# ----------------------------------------------------------------------------------------------------------
# Panels
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """A time series panel of one metric.

    ``show``: ``rate`` (a counter per second), ``sum``/``max`` (a gauge), ``quantiles`` (a histogram's p50, p95, p99),
    ``count_rate`` (a histogram's observations per second) or ``expr`` (``expr`` as given, ``{sel}`` and ``{rate}`` filled in). ``by``: the labels besides ``kc_service`` to
    keep apart; ``where``: extra label matchers."""

    metric: str
    show: str
    by: tuple[str, ...] = ()
    where: str = ""
    title: str = ""
    expr: str = ""
    unit: str = ""
    legend: str = ""


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    tags: tuple[str, ...] = field(default=("kundencenter",))


def _selector(panel: Panel) -> str:
    return SELECTOR + (f", {panel.where}" if panel.where else "")


def _group(panel: Panel, *extra: str) -> str:
    return ", ".join((SERVICE_LABEL, *panel.by, *extra))


def targets(panel: Panel, d: Definition) -> list[dict[str, Any]]:
    sel = _selector(panel)
    legend = panel.legend or " ".join("{{" + label + "}}" for label in (SERVICE_LABEL, *panel.by))
    if panel.show == "expr":
        exprs = [(panel.expr.format(sel=sel, rate=RATE), legend)]
    elif panel.show == "rate":
        _require(d, "counter", panel)
        exprs = [(f"sum by ({_group(panel)}) (rate({d.name}{{{sel}}}[{RATE}]))", legend)]
    elif panel.show == "count_rate":
        _require(d, "histogram", panel)
        exprs = [(f"sum by ({_group(panel)}) (rate({d.name}_count{{{sel}}}[{RATE}]))", legend)]
    elif panel.show in ("sum", "max"):
        _require(d, "gauge", panel)
        exprs = [(f"{panel.show} by ({_group(panel)}) ({d.name}{{{sel}}})", legend)]
    elif panel.show == "quantiles":
        _require(d, "histogram", panel)
        exprs = [
            (
                f"histogram_quantile({q}, sum by ({_group(panel, 'le')}) (rate({d.name}_bucket{{{sel}}}[{RATE}])))",
                f"p{round(q * 100)} {legend}",
            )
            for q in (0.5, 0.95, 0.99)
        ]
    else:
        raise ValueError(f"panel of {panel.metric}: unknown show {panel.show!r}")
    return [
        {"datasource": DATASOURCE, "refId": chr(ord("A") + i), "expr": expr, "legendFormat": text, "range": True}
        for i, (expr, text) in enumerate(exprs)
    ]


def _require(d: Definition, kind: str, panel: Panel) -> None:
    if d.type != kind:
        raise ValueError(f"panel {panel.show} of {d.name}: a {d.type}, not a {kind}")


def unit_of(panel: Panel, d: Definition) -> str:
    if panel.unit:
        return panel.unit
    if d.name.endswith("_seconds"):
        return "s"
    return "ops" if panel.show == "rate" else "short"


def title_of(panel: Panel, d: Definition) -> str:
    if panel.title:
        return panel.title
    text = d.help.split(",")[0].split(" (")[0].split(":")[0]
    return text + (" per second" if panel.show == "rate" else "")


def panel_json(panel: Panel, defined: dict[str, Definition], panel_id: int, x: int, y: int) -> dict[str, Any]:
    d = defined.get(panel.metric)
    if d is None:
        raise ValueError(f"a panel names {panel.metric}, which no metric definition of the code has")
    unknown = [label for label in (*panel.by,) if label not in d.labels]
    if unknown:
        raise ValueError(f"a panel of {d.name} groups by {unknown}, labels it does not have ({d.labels})")
    return {
        "type": "timeseries",
        "id": panel_id,
        "title": title_of(panel, d),
        "description": f"{d.help} (`{d.name}`, {d.module})",
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "targets": targets(panel, d),
        "fieldConfig": {"defaults": {"unit": unit_of(panel, d), "min": 0}, "overrides": []},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def variables() -> list[dict[str, Any]]:
    def query(name: str, label: str, expression: str) -> dict[str, Any]:
        return {
            "type": "query",
            "name": name,
            "label": label,
            "datasource": DATASOURCE,
            "query": {"query": expression, "refId": name, "qryType": 1},
            "definition": expression,
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1,
            "hide": 0,
            "options": [],
        }

    return [
        {
            "type": "datasource",
            "name": "datasource",
            "label": "Prometheus",
            "query": "prometheus",
            "current": {"selected": False, "text": "default", "value": "default"},
            "hide": 0,
            "options": [],
            "refresh": 1,
            "regex": "",
        },
        # kc_relay_active: every backend service exports it from every pod with the relay role
        query("namespace", "namespace", "label_values(kc_http_request_duration_seconds_count, namespace)"),
        query(
            "service",
            "service",
            'label_values(kc_http_request_duration_seconds_count{namespace=~"$namespace"}, kc_service)',
        ),
    ]


def dashboard_json(dashboard: Dashboard, defined: dict[str, Definition]) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    panel_id, y = 1, 0
    for row in dashboard.rows:
        panels.append(
            {"type": "row", "id": panel_id, "title": row.title, "collapsed": False, "panels": [],
             "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}}
        )  # fmt: skip
        panel_id, y = panel_id + 1, y + 1
        for i, panel in enumerate(row.panels):
            panels.append(panel_json(panel, defined, panel_id, x=12 * (i % 2), y=y + 8 * (i // 2)))
            panel_id += 1
        y += 8 * ((len(row.panels) + 1) // 2)
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": list(dashboard.tags),
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "links": [],
        "annotations": {"list": []},
        "templating": {"list": variables()},
        "panels": panels,
    }


# ----------------------------------------------------------------------------------------------------------
# The dashboards
# ----------------------------------------------------------------------------------------------------------

RELAY_LAG_OF_ACTIVE = (
    "max by (kc_service) (kc_relay_lag_events{{{sel}}} and on (namespace, pod, kc_service) (kc_relay_active == 1))"
)
HTTP_ERROR_RATIO = (
    'sum by (kc_service) (rate(kc_http_request_duration_seconds_count{{{sel}, status=~"5.."}}[{rate}]))'
    " / sum by (kc_service) (rate(kc_http_request_duration_seconds_count{{{sel}}}[{rate}]))"
)

DASHBOARDS = (
    Dashboard(
        uid="kc-orders",
        title="Kundencenter / Orders and approvals",
        description="Orders flowing through approval to the ERP, and the approvals waiting for a decision.",
        rows=(
            Row(
                "Orders flowing",
                (
                    Panel("kc_orders", "sum", by=("status",), title="Orders by status", legend="{{status}}"),
                    Panel(
                        "kc_relay_published_total",
                        "rate",
                        by=("topic",),
                        where='topic=~".*order.*"',
                        title="Order messages published per second",
                        legend="{{topic}}",
                    ),
                    Panel(
                        "kc_consumer_messages_total",
                        "rate",
                        by=("topic",),
                        where='topic=~".*order.*", outcome="applied"',
                        title="Order messages applied per second",
                    ),
                    Panel(
                        "kc_http_request_duration_seconds",
                        "count_rate",
                        by=("route",),
                        where='kc_service="approval", method="POST"',
                        title="Order requests per second (approval)",
                        unit="reqps",
                        legend="{{route}}",
                    ),
                ),
            ),
            Row(
                "Approvals waiting",
                (
                    Panel("kc_approvals_pending", "max", title="Orders waiting for an approver"),
                    Panel("kc_approvals_oldest_pending_seconds", "max", title="Longest wait for an approval"),
                ),
            ),
        ),
    ),
    Dashboard(
        uid="kc-erp-sync",
        title="Kundencenter / ERP sync",
        description="The exchange with the ERP: what waits for its answer, what went wrong, the price mirror.",
        rows=(
            Row(
                "Exchanges",
                (
                    Panel(
                        "kc_erp_sync_pending",
                        "max",
                        by=("kind",),
                        title="Waiting for the ERP's answer",
                        legend="{{kind}}",
                    ),
                    Panel(
                        "kc_erp_sync_failures_total",
                        "rate",
                        by=("kind", "outcome"),
                        title="Failures per second",
                        legend="{{kind}} {{outcome}}",
                    ),
                ),
            ),
            Row(
                "Prices",
                (
                    Panel("kc_erp_sync_prices_total", "rate", by=("change",), legend="{{change}}"),
                    Panel(
                        "kc_erp_sync_price_list_requests_total",
                        "rate",
                        by=("reason", "outcome"),
                        legend="{{reason}} {{outcome}}",
                    ),
                    Panel("kc_erp_sync_price_delay_seconds", "quantiles", title="Price change delay (ERP to erp-sync)"),
                ),
            ),
        ),
    ),
    Dashboard(
        uid="kc-pipeline",
        title="Kundencenter / Relay, consumers and dead letters",
        description="Outbox relays, Kafka consumers, dead-letter topics and parked events of every service.",
        rows=(
            Row(
                "Outbox relay",
                (
                    Panel(
                        "kc_relay_lag_events",
                        "expr",
                        expr=RELAY_LAG_OF_ACTIVE,
                        title="Relay lag (events stored, not yet published)",
                    ),
                    Panel("kc_relay_active", "sum", title="Replicas holding the relay lock (1 expected)"),
                    Panel("kc_relay_published_total", "rate", by=("topic",), legend="{{topic}}"),
                    Panel("kc_publication_wait_seconds", "quantiles", by=("outcome",)),
                ),
            ),
            Row(
                "Consumers",
                (
                    Panel(
                        "kc_consumer_lag_messages",
                        "sum",
                        by=("topic",),
                        title="Consumer lag (messages)",
                        legend="{{kc_service}} {{topic}}",
                    ),
                    Panel("kc_consumer_messages_total", "rate", by=("outcome",)),
                    Panel("kc_consumer_retries_total", "rate", by=("topic",)),
                    Panel("kc_fence_seconds", "quantiles", by=("scope",), title="Read fence wait"),
                ),
            ),
            Row(
                "Dead letters and parked events",
                (
                    Panel("kc_dead_lettered_total", "rate", by=("topic", "reason")),
                    Panel("kc_parked_aggregates", "max", by=("follower",), legend="{{kc_service}} {{follower}}"),
                    Panel("kc_parked_events_total", "rate", by=("follower", "kind")),
                    Panel("kc_parked_events_released_total", "rate", by=("follower",)),
                ),
            ),
        ),
    ),
    Dashboard(
        uid="kc-http",
        title="Kundencenter / HTTP errors and latency",
        description="Requests, server errors and latency of every service's HTTP API.",
        rows=(
            Row(
                "Errors",
                (
                    Panel(
                        "kc_http_request_duration_seconds",
                        "count_rate",
                        by=("status",),
                        title="Requests per second",
                        unit="reqps",
                        legend="{{kc_service}} {{status}}",
                    ),
                    Panel(
                        "kc_http_request_duration_seconds",
                        "expr",
                        expr=HTTP_ERROR_RATIO,
                        title="Server errors (5xx) share of requests",
                        unit="percentunit",
                    ),
                ),
            ),
            Row(
                "Latency",
                (
                    Panel("kc_http_request_duration_seconds", "quantiles", title="Request latency"),
                    Panel(
                        "kc_http_request_duration_seconds",
                        "expr",
                        title="p95 latency by route",
                        expr="histogram_quantile(0.95, sum by (kc_service, route, le) "
                        '(rate(kc_http_request_duration_seconds_bucket{{{sel}, route!="unmatched"}}[{rate}])))',
                        legend="{{kc_service}} {{route}}",
                    ),
                ),
            ),
        ),
    ),
)


def documents(defined: dict[str, Definition] | None = None) -> dict[str, str]:
    """File name → the dashboard's JSON text, as committed."""
    defined = defined or definitions()
    return {
        f"{d.uid}.json": json.dumps(dashboard_json(d, defined), indent=2, ensure_ascii=False) + "\n" for d in DASHBOARDS
    }


def main(argv: list[str]) -> int:
    command = argv[:1]
    if command == ["write"]:
        DASHBOARDS_DIR.mkdir(parents=True, exist_ok=True)
        for name, text in documents().items():
            (DASHBOARDS_DIR / name).write_text(text)
        print(f"dashboards written to {DASHBOARDS_DIR.relative_to(ROOT)}")
        return 0
    if command == ["check"]:
        stale = [
            n
            for n, t in documents().items()
            if not (DASHBOARDS_DIR / n).exists() or (DASHBOARDS_DIR / n).read_text() != t
        ]
        for name in stale:
            print(
                f"stale: {DASHBOARDS_DIR.relative_to(ROOT) / name} (run `.venv/bin/python -m scripts.dashboards write`)"
            )
        return 1 if stale else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
