#!/usr/bin/env bash
# `make test`: lint, start the local stack (unless it already runs), run every test layer, stop what we started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY=.venv/bin/python
STACK="$PY deploy/local/stack.py"

echo "== lint"
bash scripts/lint.sh

echo "== deploy-check (Kubernetes manifests, compose file)"
.venv/bin/python scripts/deploy_check.py

started=0
if ! $STACK status 2>/dev/null | grep -qE '^kafka +[0-9]+ +running\+ready'; then
  started=1
fi
cleanup() {
  rc=$?
  if [ "$started" -eq 1 ]; then
    echo "== stopping the stack this run started"
    $STACK down || true
  fi
  exit $rc
}
trap cleanup EXIT

echo "== starting the local stack"
$STACK up

# Name the local stack's services, so the tests use them (and never testcontainers).
export KC_TEST_PG_ADMIN_DSN="${KC_TEST_PG_ADMIN_DSN:-postgresql://postgres@127.0.0.1:54329/postgres}"
export KC_TEST_KAFKA_BOOTSTRAP="${KC_TEST_KAFKA_BOOTSTRAP:-127.0.0.1:19092}"
export KC_TEST_GATEWAY="${KC_TEST_GATEWAY:-http://127.0.0.1:8080}"

echo "== tests (unit, service, contracts, integration, journeys)"
set +e
.venv/bin/pytest -p no:cacheprovider "$@"
rc=$?
set -e
if [ $rc -ne 0 ]; then
  echo "== tests failed (exit $rc); service logs are in .local/logs/"
  exit $rc
fi

echo "== a short benchmark run (the full one: make bench)"
.venv/bin/python bench/run.py --quick
