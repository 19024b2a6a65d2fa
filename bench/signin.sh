#!/usr/bin/env bash
# Sign-in machine time (issue 7, table 1): everything but the user's clicks —
# probe, discovery, dynamic registration, authorization request, the login and
# consent pages answered by a script, code exchange, storage — against the
# test servers with a fixed delay on every HTTP answer (tests/servers
# --delay-ms, default 50 ms). Compared in the same run with the official MCP
# TypeScript SDK's client doing the same sign-in (bench/signin-sdk.mjs), and
# with the floor: the sequential round trips the protocol needs, each costing
# one measured round trip to the delayed servers.
#
#   bench/signin.sh [runs] [delay-ms]     (default 5 runs, 50 ms)
#
# Builds the release bench binary; runs in a private D-Bus session with a
# fresh gnome-keyring (our sign-in stores its tokens there; the SDK keeps them
# in memory, having no storage of its own). Prints a Markdown table.
source "$(dirname "$0")/common.sh"
RUNS=${1:-5}
DELAY=${2:-50}
npm ci --prefix bench --silent --no-audit --no-fund
cargo build --release -p mcpauth-vault --example bench --locked
export RUNS DELAY
export MCPAUTH_HOME="$WORK/home" MCPAUTH_KEYRING_SERVICE=mcpauth-bench-signin
XDG_DATA_HOME="$WORK/keyring" scripts/keyring-session.sh bash -c '
  set -euo pipefail
  source bench/servers.sh --delay-ms "$DELAY"
  issuer=$(get issuer); prm=$(get prm.current)
  bench="$CARGO_TARGET_DIR/release/examples/bench"
  # One round trip to the delayed servers, 20 times: the unit of the floor.
  node -e "
    const url = process.argv[1]; const times = [];
    (async () => {
      for (let i = 0; i < 21; i++) { const t = performance.now(); await (await fetch(url)).text(); if (i) times.push(performance.now() - t); }
      console.log(JSON.stringify({ round_trip_ms: times }));
    })();" "$prm" > "$WORK/rt.json"
  "$bench" sign-in "$mcp" "$issuer" "$RUNS" > "$WORK/ours.json"
  node bench/signin-sdk.mjs --mcp "$mcp" --issuer "$issuer" --runs "$RUNS" > "$WORK/sdk.json"
  node bench/signin-sdk.mjs --mcp "$mcp" --issuer "$issuer" --runs "$RUNS" --cache-discovery > "$WORK/sdk-cached.json"
'
python3 - "$WORK" "$DELAY" <<'PY'
import json, statistics, sys
work, delay = sys.argv[1], sys.argv[2]
load = lambda n: json.load(open(f"{work}/{n}.json"))
ours, sdk, cached, rt = load("ours"), load("sdk"), load("sdk-cached"), load("rt")
rt_ms = statistics.median(rt["round_trip_ms"])
# The floor's round trips: the probe (401 with the challenge), the protected
# resource metadata, the authorization server metadata, the registration, the
# authorization server's own pages (its login and consent; the same for every
# client, counted from our run), the code exchange. Each needs the answer of
# the one before it.
pages = [r for r in ours["request_log"] if r["path"].startswith(("/auth", "/interaction"))]
floor_trips = 4 + len(pages) + 1
floor_ms = floor_trips * rt_ms
def row(name, runs, trips):
    s = sorted(runs)
    return f"| {name} | {s[0]:.0f} | {statistics.median(s):.0f} | {s[-1]:.0f} | {trips} |"
print(f"delay {delay} ms per answer; one round trip: median {rt_ms:.1f} ms over 20\n")
print("| sign-in | min ms | median ms | max ms | requests |")
print("|---|---|---|---|---|")
print(f"| floor: {floor_trips} sequential round trips × {rt_ms:.1f} ms | {floor_ms:.0f} | {floor_ms:.0f} | {floor_ms:.0f} | {floor_trips} |")
print(row("mcpauth (vault, release)", ours["runs_ms"], "/".join(map(str, sorted(set(ours["requests"]))))))
print(row("TypeScript SDK auth()", sdk["runs_ms"], "/".join(map(str, sorted(set(sdk["requests"]))))))
print(row("TypeScript SDK auth(), discovery cached", cached["runs_ms"], "/".join(map(str, sorted(set(cached["requests"]))))))
m = statistics.median
print(f"\nmcpauth / SDK: {m(ours['runs_ms']) / m(sdk['runs_ms']):.2f}x; "
      f"/ SDK with discovery cached: {m(ours['runs_ms']) / m(cached['runs_ms']):.2f}x; "
      f"/ floor: {m(ours['runs_ms']) / floor_ms:.2f}x (target: at most 0.6x the SDK, at most the floor's round trips)")
print("\nour requests (last run):")
for r in ours["request_log"]:
    print(f"  {r['server']:8} {r['method']:5} {r['path']}")
PY
