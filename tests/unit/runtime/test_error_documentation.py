"""The OpenAPI documents describe the error bodies the services really send (not FastAPI's own 422 body)."""

from __future__ import annotations

import jsonschema
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from kc_runtime.errors import ApiError, DocumentedErrors, install_error_handlers


class Line(BaseModel):
    quantity: int = Field(gt=0)


def app() -> FastAPI:
    http = DocumentedErrors()
    install_error_handlers(http)

    @http.post("/lines")
    def add(line: Line) -> dict:
        if line.quantity > 100:
            raise ApiError(409, "too_many", "Not that many.")
        return {"ok": True}

    return http


def error_schema(doc: dict, status: str) -> dict:
    ref = doc["paths"]["/lines"]["post"]["responses"][status]["content"]["application/json"]["schema"]["$ref"]
    return {**doc["components"]["schemas"][ref.rsplit("/", 1)[1]], "components": doc["components"]}


def test_the_document_names_the_error_body_for_validation_and_every_other_client_error():
    doc = app().openapi()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "ValidationError" not in doc["components"]["schemas"]
    assert set(doc["paths"]["/lines"]["post"]["responses"]) >= {"200", "422", "4XX"}
    assert error_schema(doc, "422") == error_schema(doc, "4XX")


def test_the_bodies_sent_match_the_documented_schema():
    http = app()
    doc = http.openapi()
    client = TestClient(http)
    invalid = client.post("/lines", json={"quantity": 0})
    refused = client.post("/lines", json={"quantity": 101})
    assert (invalid.status_code, refused.status_code) == (422, 409)
    jsonschema.validate(invalid.json(), error_schema(doc, "422"))
    jsonschema.validate(refused.json(), error_schema(doc, "4XX"))
    assert invalid.json()["error"]["details"][0]["field"] == "body.quantity"
    try:
        jsonschema.validate({"detail": [{"loc": ["body"], "msg": "x"}]}, error_schema(doc, "422"))
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("FastAPI's own validation body must not pass as ours")
