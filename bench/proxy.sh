#!/usr/bin/env bash
# Proxied tool call (issue 7, table 2): a stdio MCP client (the official SDK)
# calls a tool over and over through `mcpauth proxy`, through mcp-remote (npm)
# given the same token in a header, and directly over Streamable HTTP with the
# token (the floor). Per call: the median of each run; per proxy: resident
# memory after the calls. bench/proxy-call.mjs does the measuring.
#
#   bench/proxy.sh [runs] [calls]     (default 5 runs of 200 calls)
#
# Runs in a private D-Bus session with a fresh gnome-keyring against the local
# test servers (no added delay). Targets: within 1.1x of the floor per call,
# faster than mcp-remote.
source "$(dirname "$0")/common.sh"
RUNS=${1:-5}
CALLS=${2:-200}
npm ci --prefix bench --silent --no-audit --no-fund
cargo build --release -p mcpauth-cli --locked
cargo build --release -p mcpauth-vault --example bench --locked
export RUNS CALLS
export MCPAUTH_HOME="$WORK/home" MCPAUTH_KEYRING_SERVICE=mcpauth-bench-proxy
XDG_DATA_HOME="$WORK/keyring" scripts/keyring-session.sh bash -c '
  set -euo pipefail
  source bench/servers.sh
  "$CARGO_TARGET_DIR/release/examples/bench" prepare "$mcp" 1 1 >&2
  account=$("$CARGO_TARGET_DIR/release/mcpauth" list --json | node -e "let s=\"\";process.stdin.on(\"data\",d=>s+=d).on(\"end\",()=>console.log(JSON.parse(s).accounts[0].id))")
  BENCH_TOKEN=$("$CARGO_TARGET_DIR/release/mcpauth" token "$account") \
    node bench/proxy-call.mjs --mcp "$mcp" --mcpauth "$CARGO_TARGET_DIR/release/mcpauth" \
      --account "$account" --calls "$CALLS" --runs "$RUNS" > "$WORK/proxy.json"
'
python3 - "$WORK" <<'PY'
import json, statistics, sys
r = json.load(open(f"{sys.argv[1]}/proxy.json"))
med = r["median_ms"]
def row(name, xs, fmt="{:.2f}", extra=""):
    s = sorted(xs)
    return f"| {name} | {fmt.format(s[0])} | {fmt.format(statistics.median(s))} | {fmt.format(s[-1])} |{extra}"
floor = statistics.median(med["direct"])
print(f"| per call, ms ({r['runs']} runs × {r['calls']} calls; median of each run) | min | median | max | / floor |")
print("|---|---|---|---|---|")
for name, key in (("direct HTTP, SDK client (floor)", "direct"), ("mcpauth proxy", "mcpauth"), ("mcp-remote", "mcp-remote")):
    print(row(name, med[key], extra=f" {statistics.median(med[key]) / floor:.2f}x |"))
print("\n| resident memory after the calls, MB | min | median | max |")
print("|---|---|---|---|")
for key in ("mcpauth", "mcp-remote"):
    print(row(f"{key}: RSS", r["memory_mb"][key]["rss"], "{:.1f}"))
    print(row(f"{key}: peak (VmHWM)", r["memory_mb"][key]["hwm"], "{:.1f}"))
PY
