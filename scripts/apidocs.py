"""Generate the committed API documents from the code: OpenAPI (FastAPI) and AsyncAPI (faststream).

    .venv/bin/python -m scripts.apidocs write     # writes docs/api/<service>.{openapi,asyncapi}.json

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

from contracts.topics import TOPICS

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
        database_url="memory://", log_format="console", roles=["api"]
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


def documents() -> dict[str, dict[str, Any]]:
    out = {}
    for service in SERVICES:
        out[f"{service}.openapi.json"] = openapi(service)
        out[f"{service}.asyncapi.json"] = asyncapi(service)
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
