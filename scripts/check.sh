#!/usr/bin/env bash
# `make check`: the fast loop — lint and every test that needs no running stack (unit, service, contracts,
# deploy), spread over the machine's cores. `make test` still runs everything, with the stack.
#
# Left out here, run by `make test`: tests/integration (Kafka + PostgreSQL), tests/journeys (the whole stack
# through the gateway), tests/standins (starts the stand-ins as processes; the ERP simulator's need PostgreSQL
# and Kafka), the image-environment builds in tests/deploy (marker builds_image: a virtualenv per image) and the
# tests that start a PostgreSQL cluster of their own (marker postgres_cluster: TLS to the database).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS=0

# Only the virtualenv is needed (no PostgreSQL, Kafka, nginx): sync it, quick when it is up to date.
UV="$(command -v uv || ls "$HOME/.local/bin/uv" /usr/local/bin/uv 2>/dev/null | head -n1 || true)"
if [ -n "$UV" ]; then "$UV" sync --all-packages --frozen -q; else bash deploy/local/bootstrap.sh; fi

echo "== lint"
bash scripts/lint.sh

echo "== tests that need no running stack (unit, service, contracts, deploy)"
# The stack's addresses point at a closed port: a test selected here that needs the stack fails instead of
# passing by accident on a machine where `make up` runs; naming them also keeps testcontainers away.
export KC_TEST_USE_TESTCONTAINERS=0
export KC_TEST_PG_ADMIN_DSN="postgresql://postgres@127.0.0.1:9/postgres"
export KC_TEST_KAFKA_BOOTSTRAP="127.0.0.1:9"
export KC_TEST_GATEWAY="http://127.0.0.1:9"
# Keep compiled test modules: pytest's assertion rewriting of ~200 test modules costs each worker several
# seconds when PYTHONDONTWRITEBYTECODE forbids caching the result (__pycache__ is git-ignored).
unset PYTHONDONTWRITEBYTECODE
# pytest-xdist (a dev dependency) spreads the tests over the cores: one worker per core.
parallel=()
if .venv/bin/python -c "import xdist" 2>/dev/null; then parallel=(-n "${KC_CHECK_WORKERS:-auto}"); fi
.venv/bin/pytest -q -p no:cacheprovider -p no:schemathesis "${parallel[@]}" -m "not builds_image and not postgres_cluster" \
  tests/unit tests/service tests/contracts tests/deploy "$@"

echo "check: done in ${SECONDS} s"
