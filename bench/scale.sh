#!/usr/bin/env bash
# Scale (issue 7, table 4): <accounts> accounts (default 1,000).
#  - `mcpauth list --json` over them (hyperfine, whole process);
#  - a refresh storm: every account due at once, refreshed by the app's
#    scheduler (crates/vault/src/scheduler.rs) in its own process, timed until
#    each account holds a new generation; its peak resident memory;
#  - the ceiling: the authorization server's own refresh throughput at the
#    scheduler's concurrency, measured by a plain load generator (the same
#    refresh requests straight at the token endpoint, no vault, no keyring).
#  - to show where the storm's time goes: the keyring alone (200 token-sized
#    writes through the vault's keyring store, same concurrency, into the
#    keyring holding the storm's accounts), and the storm again on a vault that keeps its
#    secrets in a file (MCPAUTH_SECRET_STORE=plaintext: insecure, for this
#    comparison only).
# The app's first render with 1,000 accounts is `bench/app.sh 5 1000`.
#
#   bench/scale.sh [runs] [accounts]    (default 5 runs, 1000 accounts)
#
# Runs in a private D-Bus session with a fresh gnome-keyring against the local
# test servers (no added delay). Target: storm at least 80% of the ceiling,
# peak resident memory under 100 MB, no failed refresh.
source "$(dirname "$0")/common.sh"
RUNS=${1:-5}
ACCOUNTS=${2:-1000}
need hyperfine
cargo build --release -p mcpauth-cli --locked
cargo build --release -p mcpauth-vault --example bench --locked
export RUNS ACCOUNTS
XDG_DATA_HOME="$WORK/keyring" scripts/keyring-session.sh bash -c '
  set -euo pipefail
  source bench/servers.sh
  issuer=$(get issuer)
  bench="$CARGO_TARGET_DIR/release/examples/bench"
  # Two vaults: the scheduler storms one; the load generator spends the other'"'"'s tokens.
  MCPAUTH_HOME="$WORK/storm" MCPAUTH_KEYRING_SERVICE=mcpauth-bench-storm "$bench" prepare "$mcp" "$ACCOUNTS" 8 >&2
  # The load generator only needs refresh tokens, so its vault keeps them in a
  # file: the keyring then holds the storm'"'"'s accounts only, as a user'"'"'s would.
  MCPAUTH_HOME="$WORK/ceiling" MCPAUTH_SECRET_STORE=plaintext "$bench" prepare "$mcp" "$ACCOUNTS" 8 >&2
  MCPAUTH_HOME="$WORK/plain" MCPAUTH_SECRET_STORE=plaintext "$bench" prepare "$mcp" "$ACCOUNTS" 8 >&2
  export MCPAUTH_HOME="$WORK/storm" MCPAUTH_KEYRING_SERVICE=mcpauth-bench-storm
  hyperfine -N --warmup 3 --runs 20 --export-json "$WORK/list.json" \
    --command-name "mcpauth list --json" "$CARGO_TARGET_DIR/release/mcpauth list --json" >&2
  [ "$("$CARGO_TARGET_DIR/release/mcpauth" list --json | node -e "let s=\"\";process.stdin.on(\"data\",d=>s+=d).on(\"end\",()=>console.log(JSON.parse(s).accounts.length))")" = "$ACCOUNTS" ]
  for _ in $(seq "$RUNS"); do "$bench" storm "$ACCOUNTS" >> "$WORK/storm.jsonl"; done
  concurrency=$(head -n 1 "$WORK/storm.jsonl" | node -e "let s=\"\";process.stdin.on(\"data\",d=>s+=d).on(\"end\",()=>console.log(JSON.parse(s).concurrency))")
  # 200 writes per run are enough for a rate, into the keyring as full as the storm saw it.
  for _ in $(seq "$RUNS"); do "$bench" keyring-writes 200 "$concurrency" >> "$WORK/keyring.jsonl"; done
  for _ in $(seq "$RUNS"); do
    MCPAUTH_HOME="$WORK/plain" MCPAUTH_SECRET_STORE=plaintext "$bench" storm "$ACCOUNTS" >> "$WORK/plain.jsonl"
  done
  MCPAUTH_HOME="$WORK/ceiling" MCPAUTH_SECRET_STORE=plaintext \
    "$bench" ceiling "$issuer" "$concurrency" "$RUNS" > "$WORK/ceiling.json"
'
python3 - "$WORK" <<'PY'
import json, statistics, sys
work = sys.argv[1]
lst = json.load(open(f"{work}/list.json"))["results"][0]
storms = [json.loads(l) for l in open(f"{work}/storm.jsonl")]
plain = [json.loads(l) for l in open(f"{work}/plain.jsonl")]
keyring = [json.loads(l) for l in open(f"{work}/keyring.jsonl")]
ceiling = json.load(open(f"{work}/ceiling.json"))
def row(name, xs, fmt="{:.1f}"):
    s = sorted(xs)
    return f"| {name} | {fmt.format(s[0])} | {fmt.format(statistics.median(s))} | {fmt.format(s[-1])} |"
n = storms[0]["accounts"]
print(f"| measure ({n} accounts) | min | median | max |")
print("|---|---|---|---|")
print(row("`mcpauth list --json` (ms, 20 runs)", [lst["min"] * 1000, lst["median"] * 1000, lst["max"] * 1000]))
print(row(f"storm: refreshes per second ({len(storms)} runs, {storms[0]['concurrency']} at a time)", [s["per_second"] for s in storms]))
print(row("storm: seconds until every account refreshed", [s["seconds"] for s in storms]))
print(row("storm: peak resident memory (MB)", [s["peak_rss_mb"] for s in storms]))
print(row(f"ceiling: load generator, refreshes per second ({ceiling['concurrency']} at a time)", ceiling["per_second"]))
print(row("keyring alone: token-sized writes per second (same concurrency)", [k["per_second"] for k in keyring]))
print(row("storm with secrets in a file (insecure; comparison only): refreshes per second", [s["per_second"] for s in plain]))
print(row("storm with secrets in a file: peak resident memory (MB)", [s["peak_rss_mb"] for s in plain]))
failed = sum(s["failed"] + s["not_refreshed"] for s in storms + plain) + sum(k["failed"] for k in keyring)
ratio = statistics.median(s["per_second"] for s in storms) / statistics.median(ceiling["per_second"])
print(f"\nstorm / ceiling (medians): {ratio:.0%} (target: at least 80%); failed or not refreshed: {failed}; "
      f"load generator failures: {ceiling['failed']}")
for name, runs in (("storm", storms), ("storm with a file store", plain)):
    for s in runs:
        if s.get("first_failure"):
            print(f"{name}: {s['failed']} failed, {s['not_refreshed']} not refreshed; first: {s['first_failure']}")
PY
