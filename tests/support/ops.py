"""The operator token of a service's /ops/ API as the tests see it: ``KC_TEST_<SERVICE>_OPS_TOKEN`` if set, else the
development profile's token (the local stack and the tests' own processes run in the development profile)."""

from __future__ import annotations

import os

from kc_runtime.ops import development_ops_token


def ops_token(service: str) -> str:
    variable = f"KC_TEST_{service.upper().replace('-', '_')}_OPS_TOKEN"
    return os.environ.get(variable) or development_ops_token(service)


def ops_headers(service: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ops_token(service)}"}
