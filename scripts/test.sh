#!/usr/bin/env bash
# `make test`: lint, validate the deploy manifests, start the local stack (unless it already runs), a short
# benchmark, every test layer, short chaos runs (kill -9, then SIGTERM); stop what we started. Ends with one plain summary line.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY=.venv/bin/python
STACK="$PY deploy/local/stack.py"
RESULTS=.local/test-results.xml
summary=""

started=0
cleanup() {
  rc=$?
  if [ "$started" -eq 1 ]; then
    echo "== stopping the stack this run started"
    $STACK down || true
  fi
  [ -n "$summary" ] && echo "$summary"
  exit $rc
}
trap cleanup EXIT

echo "== lint"
bash scripts/lint.sh

echo "== deploy-check (Kubernetes manifests, compose file)"
$PY scripts/deploy_check.py

if ! $STACK status 2>/dev/null | grep -qE '^kafka +[0-9]+ +running\+ready'; then
  started=1
fi
echo "== starting the local stack"
$STACK up

# Name the local stack's services, so the tests use them (and never testcontainers).
export KC_TEST_PG_ADMIN_DSN="${KC_TEST_PG_ADMIN_DSN:-postgresql://postgres@127.0.0.1:54329/postgres}"
export KC_TEST_KAFKA_BOOTSTRAP="${KC_TEST_KAFKA_BOOTSTRAP:-127.0.0.1:19092}"
export KC_TEST_GATEWAY="${KC_TEST_GATEWAY:-http://127.0.0.1:8080}"

echo "== a short benchmark run (the full one: make bench)"
$PY bench/run.py --quick

echo "== tests (unit, service, contracts, deploy, integration, journeys)"
mkdir -p .local
set +e
.venv/bin/pytest -p no:cacheprovider --junitxml="$RESULTS" "$@"
rc=$?
set -e
summary=$($PY - "$RESULTS" <<'PYEOF'
import sys
import xml.etree.ElementTree as ET

try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    sys.exit(0)
suites = [root] if root.tag == "testsuite" else list(root)
total = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(f"tests: {total - failed - skipped} passed, {failed} failed, {skipped} skipped")
PYEOF
)
if [ $rc -ne 0 ]; then
  echo "== tests failed (exit $rc); service logs are in .local/logs/"
  exit $rc
fi

echo "== a short chaos run (the full one: make chaos)"
$PY bench/chaos.py --quick
echo "== SIGTERM to each service under load (graceful stops: nothing lost, nothing doubled)"
$PY bench/chaos.py --quick --signal term
