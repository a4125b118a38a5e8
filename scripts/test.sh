#!/usr/bin/env bash
# Set up everything from the project's own files (scripts/setup.sh) and run the whole test suite:
# the VS Code client's unit tests and .vsix packaging, then the Python tests.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

if command -v npm >/dev/null 2>&1 && [ -d client-vscode/node_modules ]; then
  (cd client-vscode && npm test && npm run --silent package)
else
  echo "npm not found: skipping the VS Code client's tests" >&2
fi

# Python last, so its summary line closes the output.
exec .venv/bin/python -m pytest -q "$@"
