"""kc_runtime.errors.JsonResponse: error bodies rendered by orjson, byte for byte what Starlette's JSONResponse
wrote, and amounts as strings."""

from __future__ import annotations

from decimal import Decimal

from fastapi.responses import JSONResponse

from kc_runtime.errors import JsonResponse, error_body, error_response


def test_an_error_body_is_the_same_bytes_as_starlettes_json_response() -> None:
    body = error_body(
        "price_changed",
        "Der Preis hat sich geändert — bitte prüfen.",
        [{"field": "lines.0.unit_price", "shown": {"amount": "9.90", "currency": "EUR"}, "quantity": 3, "ok": None}],
    )
    assert JsonResponse(body).body == JSONResponse(body).body
    assert (
        error_response(409, "conflict", "Changed concurrently.").body
        == JSONResponse(error_body("conflict", "Changed concurrently.")).body
    )


def test_an_amount_is_written_as_a_string() -> None:
    assert JsonResponse({"amount": Decimal("12.50")}).body == b'{"amount":"12.50"}'


def test_the_content_type_and_status_are_starlettes() -> None:
    response = error_response(404, "not_found", "Not found.")
    assert response.status_code == 404 and response.media_type == "application/json"
