#!/usr/bin/env bash
# Starts the local demo servers (two authorization servers and three MCP
# servers on 127.0.0.1:4400-4404) and the MCP Auth desktop app, installing
# what is missing first. Stop with Ctrl-C (or Quit in the tray); the servers
# stop with the app.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
scripts/setup.sh
npm --prefix ui run build --silent >/dev/null
# The CLI too: the app's exports run the mcpauth beside it.
cargo build -p mcpauth-app -p mcpauth-cli --locked
node tests/servers/start.mjs --fixed-ports --ignore-stdin > "${TMPDIR:-/tmp}/mcpauth-demo-servers.json" &
servers=$!
trap 'kill "$servers" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  [ -s "${TMPDIR:-/tmp}/mcpauth-demo-servers.json" ] && break
  kill -0 "$servers" 2>/dev/null || { echo "demo: the servers did not start" >&2; exit 1; }
  sleep 0.2
done
cat >&2 <<'MSG'
demo: servers are up
  current MCP server (OAuth, path-aware metadata):  http://127.0.0.1:4402/mcp
  fallback MCP server (issuer with a path):         http://127.0.0.1:4403/mcp
  legacy 2025-03-26 MCP server:                     http://127.0.0.1:4400/legacy/mcp
  authorization server (any user name/password):    http://127.0.0.1:4400
  try:  cargo run -p mcpauth-cli -- discover http://127.0.0.1:4402/mcp
  closing the window keeps MCP Auth in the tray: Quit it there, or press Ctrl-C here
MSG
"$CARGO_TARGET_DIR/debug/mcpauth-app"
