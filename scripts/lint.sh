#!/usr/bin/env bash
# `make lint`: ruff (style and bugs), import-linter (layer rules), mypy (types).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
.venv/bin/ruff check --quiet .
.venv/bin/lint-imports --no-cache >/dev/null && echo "import-linter: layer rules kept"
.venv/bin/mypy --no-error-summary contracts/src runtime/src services/*/src standins/src && echo "mypy: ok"
