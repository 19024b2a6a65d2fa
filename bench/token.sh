#!/usr/bin/env bash
# Times `mcpauth token` for a valid cached token, as a whole process, against
# `secret-tool lookup` reading one item from the same keyring (the floor for
# any keyring-backed credential helper) and against `gh auth token` (GitHub's
# CLI, Debian package gh, with a stored token). Target: within 1.5x of the floor.
#
#   bench/token.sh [runs]      (default 100 runs each, after 10 warm-up runs)
#
# Runs in a private D-Bus session with a fresh gnome-keyring, against the
# local test servers; builds the release binary first. Needs hyperfine and gh
# (installed here if missing). Debian 12's gh (2.23) keeps its token in
# hosts.yml, a plain file: it never asks the keyring (gh 2.24 and later do).
source "$(dirname "$0")/common.sh"
RUNS=${1:-100}
need hyperfine gh
cargo build --release -p mcpauth-cli --locked
cargo build -p mcpauth-vault --example vault_probe --locked
export RUNS
export MCPAUTH_HOME="$WORK/home" MCPAUTH_KEYRING_SERVICE=mcpauth-bench
XDG_DATA_HOME="$WORK/keyring" scripts/keyring-session.sh bash -c '
  set -euo pipefail
  source bench/servers.sh
  id=$("$CARGO_TARGET_DIR/debug/examples/vault_probe" sign-in "$mcp" bench-user)
  token=$("$CARGO_TARGET_DIR/release/mcpauth" token "$id")
  # One item holding just the token, in the same keyring (ours holds the whole token bundle).
  printf %s "$token" | secret-tool store --label=floor service mcpauth-bench-floor account floor
  [ "$(secret-tool lookup service mcpauth-bench-floor account floor)" = "$token" ]
  # gh configured as `gh auth login --with-token` leaves it (that command checks
  # the token with api.github.com, which this bench must not need).
  export GH_CONFIG_DIR="$WORK/gh"
  mkdir -p "$GH_CONFIG_DIR"
  printf "github.com:\n    oauth_token: %s\n    user: bench\n    git_protocol: https\n" "$token" > "$GH_CONFIG_DIR/hosts.yml"
  [ "$(gh auth token)" = "$token" ]
  hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$WORK/result.json" \
    --command-name "secret-tool lookup (floor)" "secret-tool lookup service mcpauth-bench-floor account floor" \
    --command-name "mcpauth token" "$CARGO_TARGET_DIR/release/mcpauth token $id" \
    --command-name "gh auth token" "gh auth token"
  python3 - "$WORK/result.json" <<"PY"
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
floor = r["secret-tool lookup (floor)"]
print("| command | min ms | median ms | max ms | median / floor |")
print("|---|---|---|---|---|")
for name, x in r.items():
    lo, mid, hi = (x[k] * 1000 for k in ("min", "median", "max"))
    ratio = x["median"] / floor["median"]
    print(f"| {name} | {lo:.1f} | {mid:.1f} | {hi:.1f} | {ratio:.2f}x |")
print("\ntarget: mcpauth token at most 1.5x the floor")
PY'
