#!/usr/bin/env bash
# Proxied tool call (issue 7, table 2; issue 13): a stdio MCP client (the
# official SDK) calls a tool over and over through `mcpauth proxy`, through
# mcp-remote (npm) given the same token in a header, and directly over
# Streamable HTTP with the token (the floor); against an SDK 1.x server
# (2025-11-25) and an SDK 2.x server of 2026-07-28. Per call: the median of each run; per proxy: resident
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
  # The SDK 1.x server (2025-11-25, the proxy passes messages through) and the
  # SDK 2.x server of 2026-07-28 (the proxy translates for a 1.x client).
  for server in current ts2; do
    url=$(get "mcp.$server")
    "$CARGO_TARGET_DIR/release/examples/bench" prepare "$url" 1 1 >&2
    account=$("$CARGO_TARGET_DIR/release/mcpauth" list --json | node -e "let s=\"\";process.stdin.on(\"data\",d=>s+=d).on(\"end\",()=>console.log(JSON.parse(s).accounts.find(a=>a.server_url===process.argv[1]).id))" "$url")
    flags=(); [ "$server" = ts2 ] && flags=(--modern)
    BENCH_TOKEN=$("$CARGO_TARGET_DIR/release/mcpauth" token "$account") \
      node bench/proxy-call.mjs --mcp "$url" --mcpauth "$CARGO_TARGET_DIR/release/mcpauth" \
        --account "$account" --calls "$CALLS" --runs "$RUNS" "${flags[@]}" > "$WORK/proxy-$server.json"
  done
'
python3 - "$WORK" <<'PY'
import json, statistics, sys
NAMES = {
    "direct": "direct HTTP, SDK client (floor)",
    "mcpauth": "mcpauth proxy",
    "mcpauth-2026": "mcpauth proxy, 2026-07-28 client",
    "mcp-remote": "mcp-remote",
}
def row(name, xs, fmt="{:.2f}", extra=""):
    s = sorted(xs)
    return f"| {name} | {fmt.format(s[0])} | {fmt.format(statistics.median(s))} | {fmt.format(s[-1])} |{extra}"
for server, title in (("current", "SDK 1.x server, 2025-11-25 (1.x client)"), ("ts2", "SDK 2.x server, 2026-07-28 (the 1.x client's 2025-11-25 translated by the proxy)")):
    r = json.load(open(f"{sys.argv[1]}/proxy-{server}.json"))
    med = r["median_ms"]
    floor = statistics.median(med["direct"])
    print(f"\n{title}\n")
    print(f"| per call, ms ({r['runs']} runs × {r['calls']} calls; median of each run) | min | median | max | / floor |")
    print("|---|---|---|---|---|")
    for key in ("direct", "mcpauth", "mcpauth-2026", "mcp-remote"):
        if key in r.get("failed", {}):
            print(f"| {NAMES[key]} | fails: {r['failed'][key][:120]} | | | |")
        elif med.get(key):
            print(row(NAMES[key], med[key], extra=f" {statistics.median(med[key]) / floor:.2f}x |"))
    print("\n| resident memory after the calls, MB | min | median | max |")
    print("|---|---|---|---|")
    for key, m in r["memory_mb"].items():
        if m["rss"]:
            print(row(f"{NAMES[key]}: RSS", m["rss"], "{:.1f}"))
            print(row(f"{NAMES[key]}: peak (VmHWM)", m["hwm"], "{:.1f}"))
PY
