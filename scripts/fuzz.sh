#!/usr/bin/env bash
# `make fuzz`: the schemathesis fuzz tests (tests/journeys/test_fuzz_*.py) with many more examples than `make
# test` runs, through the gateway of the local stack (started here unless it runs; stopped again if started
# here). KC_FUZZ_EXAMPLES sets the examples per operation and caller (default 300); extra arguments go to
# pytest (e.g. -k approval). Ends with what the fuzzer reached: the answers per operation and caller.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY=.venv/bin/python
STACK="$PY deploy/local/stack.py"

started=0
cleanup() {
  rc=$?
  if [ "$started" -eq 1 ]; then
    echo "== stopping the stack this run started"
    $STACK down || true
  fi
  exit $rc
}
trap cleanup EXIT

if ! $STACK status 2>/dev/null | grep -qE '^gateway +[0-9]+ +running\+ready'; then
  started=1
fi
$STACK up

export KC_FUZZ_EXAMPLES="${KC_FUZZ_EXAMPLES:-300}"
export KC_FUZZ_TRACE="$ROOT/.local/fuzz-trace.jsonl"
mkdir -p .local
: >"$KC_FUZZ_TRACE"

echo "== fuzzing with $KC_FUZZ_EXAMPLES examples per operation and caller"
set +e
.venv/bin/pytest -p no:cacheprovider --timeout=0 -q tests/journeys/test_fuzz_*.py "$@"
rc=$?
set -e

echo "== answers per operation and caller (status:error code x count; trace in .local/fuzz-trace.jsonl)"
$PY - "$KC_FUZZ_TRACE" <<'PYEOF'
import collections
import json
import sys

answers = collections.defaultdict(collections.Counter)
with open(sys.argv[1]) as trace:
    for line in trace:
        service, caller, operation, status, code = json.loads(line)
        answers[(operation, caller)][f"{status}:{code}" if code else str(status)] += 1
for (operation, caller), counts in sorted(answers.items()):
    shown = " ".join(f"{k}x{n}" for k, n in sorted(counts.items()))
    print(f"{operation:58} {caller:19} {shown}")
print(f"{sum(sum(c.values()) for c in answers.values())} requests")
PYEOF
exit $rc
