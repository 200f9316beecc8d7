#!/usr/bin/env bash
# `make bench`: start the stack if needed, run the benchmark (args pass through, e.g. --quick), stop what we started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STACK=".venv/bin/python deploy/local/stack.py"
started=0
if ! $STACK status 2>/dev/null | grep -qE '^approval +[0-9]+ +running\+ready'; then started=1; fi
trap '[ "$started" -eq 1 ] && $STACK down >/dev/null || true' EXIT
$STACK up >/dev/null
if [ "${1:-}" = "--chaos" ]; then
  shift
  .venv/bin/python bench/chaos.py "$@"
else
  .venv/bin/python bench/run.py "$@"
fi
