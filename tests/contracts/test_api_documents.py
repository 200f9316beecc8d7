"""The committed OpenAPI and AsyncAPI documents are generated from the code and never drift from it."""

import pytest

from scripts.apidocs import API_DIR, documents, render

DOCUMENTS = documents()


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_committed_api_document_matches_the_code(name):
    path = API_DIR / name
    assert path.exists(), f"{name} missing: run `.venv/bin/python -m scripts.apidocs write`"
    assert path.read_text() == render(DOCUMENTS[name]), (
        f"{name} drifted from the code: run `.venv/bin/python -m scripts.apidocs write` and review the diff"
    )


def test_approval_documents_its_order_endpoints_and_error_body():
    paths = DOCUMENTS["approval.openapi.json"]["paths"]
    assert "/api/orders" in paths and "post" in paths["/api/orders"]
    assert "/api/orders/{order_id}/comments" in paths


def test_erp_sync_asyncapi_names_what_it_consumes_and_publishes():
    channels = DOCUMENTS["erp-sync.asyncapi.json"]["channels"]
    addresses = {c["address"] for c in channels.values()}
    assert {"approval.orders.v1", "erp.outbound.sales-orders.v1", "approval.orders.v1.dlt"} <= addresses
