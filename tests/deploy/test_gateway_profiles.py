"""The gateway routes only the public API; the development token issuer and the bench echo exist only in the local
profile (`make up`, the compose stack on a laptop), never in a deployed gateway."""

from __future__ import annotations


def test_a_gateway_outside_the_local_profile_routes_neither_the_token_issuer_nor_the_bench_echo(deploy):
    st = deploy.stack()
    values = st.gateway_values(lambda target: f"{target}:8000", local=False)
    text = "".join(values.values())
    assert "/dev-auth" not in text and "_bench" not in text and "dev_issuer" not in text
    assert "location /api/users/" in text and "location = /api/registrations" in text


def test_the_local_profile_routes_them_and_says_so(deploy):
    st = deploy.stack()
    values = st.gateway_values(lambda target: f"{target}:8000", local=True)
    assert "location /dev-auth/" in values["locations"] and "(local only)" in values["locations"]
    assert "/_bench/echo" in values["local_locations"] and "local profile only" in values["local_locations"]


def test_the_gateway_takes_only_short_plain_request_ids(deploy):
    template = (deploy.ROOT / "deploy" / "local" / "nginx.conf.tmpl").read_text()
    assert template.count('"~^[A-Za-z0-9._:-]{1,64}$"') == 2  # X-Request-ID and X-Correlation-ID
    assert "default $http_x_request_id" not in template
