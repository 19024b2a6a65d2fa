#!/usr/bin/env bash
# Times `mcpauth token` for a valid cached token, as a whole process, against
# `secret-tool lookup` reading one item from the same keyring: the floor for
# any keyring-backed credential helper. Target: within 1.5x of the floor.
#
#   bench/token.sh [runs]      (default 100 runs each, after 10 warm-up runs)
#
# Runs in a private D-Bus session with a fresh gnome-keyring, against the
# local test servers; builds the release binary first. Needs hyperfine
# (installed here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-100}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
scripts/setup.sh
command -v hyperfine >/dev/null || { SUDO=(); [ "$(id -u)" -ne 0 ] && SUDO=(sudo); "${SUDO[@]}" apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -p mcpauth-cli --locked
cargo build -p mcpauth-vault --example vault_probe --locked
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export WORK RUNS
export MCPAUTH_HOME="$WORK/home" MCPAUTH_KEYRING_SERVICE=mcpauth-bench
XDG_DATA_HOME="$WORK/keyring" dbus-run-session -- bash -c '
  set -euo pipefail
  printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  coproc SERVERS { node tests/servers/start.mjs 2>/dev/null; }
  read -r line <&"${SERVERS[0]}"
  mcp=$(node -e "console.log(JSON.parse(process.argv[1]).mcp.current)" "$line")
  id=$("$CARGO_TARGET_DIR/debug/examples/vault_probe" sign-in "$mcp" bench-user)
  token=$("$CARGO_TARGET_DIR/release/mcpauth" token "$id")
  # One item holding just the token, in the same keyring (ours holds the whole token bundle).
  printf %s "$token" | secret-tool store --label=floor service mcpauth-bench-floor account floor
  [ "$(secret-tool lookup service mcpauth-bench-floor account floor)" = "$token" ]
  hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$WORK/result.json" \
    --command-name "secret-tool lookup (floor)" "secret-tool lookup service mcpauth-bench-floor account floor" \
    --command-name "mcpauth token" "$CARGO_TARGET_DIR/release/mcpauth token $id"
  python3 - "$WORK/result.json" <<"PY"
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
floor, ours = r["secret-tool lookup (floor)"], r["mcpauth token"]
print("| command | min ms | median ms | max ms |")
print("|---|---|---|---|")
for name, x in (("secret-tool lookup (floor)", floor), ("mcpauth token", ours)):
    lo, mid, hi = (x[k] * 1000 for k in ("min", "median", "max"))
    print(f"| {name} | {lo:.1f} | {mid:.1f} | {hi:.1f} |")
ratio = ours["median"] / floor["median"]
print(f"\nratio of medians: {ratio:.2f}x (target: at most 1.5x)")
PY'
