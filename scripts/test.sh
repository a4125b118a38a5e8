#!/usr/bin/env bash
# Set up everything from the project's own files and run the whole test suite.
# Re-running is cheap: pip reuses its wheel cache (llama-cpp-python is built once, ~13 min on 2 cores)
# and the virtual environment is reused when pyproject.toml has not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
stamp="$venv/.ragls-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip wheel
  "$venv/bin/python" -m pip install --quiet -e '.[test]'
  echo "$want" > "$stamp"
fi

# The VS Code client: unit tests and the .vsix, when Node.js is installed.
if command -v npm >/dev/null 2>&1 && [ -f client-vscode/package-lock.json ]; then
  (cd client-vscode && npm ci --no-audit --no-fund --loglevel=error && npm test && npm run --silent package)
else
  echo "npm not found: skipping the VS Code client's tests" >&2
fi

# Python last, so its summary line closes the output.
exec "$venv/bin/python" -m pytest -q "$@"
