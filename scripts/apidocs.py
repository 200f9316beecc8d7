"""Generate the committed API documents from the code: OpenAPI (FastAPI) and AsyncAPI (faststream).

    .venv/bin/python -m scripts.apidocs write     # writes docs/api/<service>.{openapi,asyncapi}.json
                                                  # and docs/api/erp.asyncapi.json (the ERP team's interface)

A test regenerates them in memory and fails when the committed files drift from the code.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any, Union

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from contracts import Headers
from contracts.erp import v1 as erp_v1
from contracts.topics import ERP, ERP_INBOUND_TOPICS, ERP_OUTBOUND_TOPICS, TOPICS, Topic

ROOT = Path(__file__).resolve().parents[1]
API_DIR = ROOT / "docs" / "api"

SERVICES = {
    "registration": ("registration.main", "registration.settings", "RegistrationSettings"),
    "users": ("users.main", "users.settings", "UsersSettings"),
    "approval": ("approval.main", "approval.settings", "ApprovalSettings"),
    "erp-sync": ("erp_sync.main", "erp_sync.settings", "ErpSyncSettings"),
    "notifications": ("notifications.main", "notifications.settings", "NotificationsSettings"),
}


def openapi(service: str) -> dict[str, Any]:
    main_mod, settings_mod, settings_cls = SERVICES[service]
    settings = getattr(importlib.import_module(settings_mod), settings_cls)(
        database_url="memory://", log_format="console", process_roles=["api"]
    )
    app = importlib.import_module(main_mod).create_app(settings)
    return app.openapi()


def asyncapi(service: str) -> dict[str, Any]:
    """What the service publishes and consumes, with the payload schemas from ``contracts``."""
    broker = KafkaBroker("kafka:9092")
    for topic in TOPICS:
        payload: Any = Union[tuple(topic.messages)] if len(topic.messages) > 1 else topic.messages[0]  # noqa: UP007
        if topic.owner == service:
            broker.publisher(topic.name, title=f"{topic.name}:publish", description=topic.description, schema=payload)
        if service in topic.consumers:

            def handler(message: payload) -> None:  # type: ignore[valid-type]
                """Documentation only."""

            broker.subscriber(
                topic.name,
                group_id=service,
                title=f"{topic.name}:consume",
                description=topic.description,
            )(handler)
            broker.publisher(
                topic.dlt, title=f"{topic.dlt}:publish", description="Dead letters of " + topic.name, schema=bytes
            )
    spec = AsyncAPI(broker, title=f"Kundencenter {service}", version="1", schema_version="3.0.0")
    return json.loads(spec.to_specification().to_json())


ENVELOPE_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "The header envelope of every message (UTF-8 strings).",
    "properties": {
        Headers.EVENT_ID: {"type": "string", "format": "uuid", "description": "Unique per message; copies keep it"},
        Headers.EVENT_TYPE: {"type": "string", "description": "The message's name, e.g. SalesOrderRequested"},
        Headers.SCHEMA_VERSION: {"type": "string", "description": "Version within the topic's major version"},
        Headers.OCCURRED_AT: {"type": "string", "format": "date-time"},
        Headers.CORRELATION_ID: {"type": "string", "description": "The work this message belongs to"},
        Headers.CAUSATION_ID: {"type": "string", "description": "The message or request that caused it"},
        Headers.PRODUCER: {"type": "string", "description": "Who wrote it (e.g. erp-sync, or the ERP's middleware)"},
        Headers.SOURCE_NOTIFICATION_ID: {
            "type": "string",
            "description": "The producer's outbox position; must rise per partition for messages the ERP writes",
        },
    },
    "required": [
        Headers.EVENT_ID,
        Headers.EVENT_TYPE,
        Headers.SCHEMA_VERSION,
        Headers.OCCURRED_AT,
        Headers.CORRELATION_ID,
        Headers.CAUSATION_ID,
        Headers.PRODUCER,
        Headers.SOURCE_NOTIFICATION_ID,
    ],
}


def _payload(topic: Topic) -> Any:
    return Union[tuple(topic.messages)] if len(topic.messages) > 1 else topic.messages[0]  # noqa: UP007


def erp_asyncapi() -> dict[str, Any]:
    """The ERP-facing contract from the ERP's side: what it receives (``erp.outbound.*``) and sends
    (``erp.inbound.*``), with the header envelope and an example of every message."""
    broker = KafkaBroker("kafka:9092")
    for topic in ERP_OUTBOUND_TOPICS:
        payload = _payload(topic)

        def handler(message: payload) -> None:  # type: ignore[valid-type]
            """Documentation only."""

        broker.subscriber(topic.name, group_id=ERP, title=f"{topic.name}:receive", description=topic.description)(
            handler
        )
        broker.publisher(
            topic.dlt,
            title=f"{topic.dlt}:send",
            description=f"Messages of {topic.name} the ERP cannot process (optional), with the kc-dlt-* reason "
            "headers; erp-sync also leaves here the messages the ERP never answered. erp-sync's operators send them "
            "again to the original topic (POST /ops/dead-letters/retry).",
            schema=bytes,
        )
    for topic in ERP_INBOUND_TOPICS:
        broker.publisher(topic.name, title=f"{topic.name}:send", description=topic.description, schema=_payload(topic))
    spec = AsyncAPI(
        broker,
        title="Kundencenter ERP interface",
        version="1",
        description=erp_v1.__doc__,
        schema_version="3.0.0",
    )
    doc: dict[str, Any] = json.loads(spec.to_specification().to_json())
    by_topic = {t.name: t for t in (*ERP_OUTBOUND_TOPICS, *ERP_INBOUND_TOPICS)}
    for name, message in doc["components"]["messages"].items():
        topic = by_topic.get(name.split(":")[0])
        if topic is None:
            continue
        message["headers"] = ENVELOPE_HEADERS
        message["examples"] = [
            {
                "name": f"{cls.event_type} ({i + 1})" if i else cls.event_type,
                "headers": {
                    Headers.EVENT_TYPE: cls.event_type,
                    Headers.SCHEMA_VERSION: str(cls.schema_version),
                    Headers.PRODUCER: ERP if topic.owner == ERP else topic.owner,
                },
                "payload": example,
            }
            for cls in topic.messages
            for i, example in enumerate((cls.model_config.get("json_schema_extra") or {}).get("examples", []))  # type: ignore[union-attr]
        ]
    return doc


def documents() -> dict[str, dict[str, Any]]:
    out = {}
    for service in SERVICES:
        out[f"{service}.openapi.json"] = openapi(service)
        out[f"{service}.asyncapi.json"] = asyncapi(service)
    out["erp.asyncapi.json"] = erp_asyncapi()
    return out


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    if argv[:1] != ["write"]:
        print(__doc__)
        return 2
    API_DIR.mkdir(parents=True, exist_ok=True)
    for name, doc in documents().items():
        (API_DIR / name).write_text(render(doc))
    print(f"api documents written to {API_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
