#!/usr/bin/env bash
# Runs every check and test of MCP Auth, installing what is missing first:
# formatting, clippy, the test servers' smoke test, `cargo test` for the
# libraries and the command-line tool (inside a private D-Bus session with a
# fresh gnome-keyring), the MCP conformance suite against `mcpauth proxy`,
# the desktop app opened in a real window under Xvfb, and the app's
# end-to-end tests through WebDriver.
# Ends with one line: "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export CARGO_TERM_COLOR=never
LOG_DIR=$(mktemp -d)
trap 'rm -rf "$LOG_DIR"' EXIT

step() { printf '\n==> %s\n' "$*" >&2; }

step "installing what is missing"
scripts/setup.sh

step "formatting"
cargo fmt --all -- --check

step "building the web front end"
npm --prefix ui run build --silent >/dev/null

step "front-end unit tests (Vitest)"
NO_COLOR=1 FORCE_COLOR=0 npm --prefix ui test --silent 2>&1 | sed 's/\x1b\[[0-9;]*m//g' | tee "$LOG_DIR/vitest.log" | grep -E 'Test Files|Tests ' >&2 || true
ui_passed=$(awk '/^ *Tests / {for (i = 1; i <= NF; i++) if ($i == "passed") print $(i-1)}' "$LOG_DIR/vitest.log" | head -n 1)
ui_failed=$(awk '/^ *Tests / {for (i = 1; i <= NF; i++) if ($i == "failed" || $i == "failed,") print $(i-1)}' "$LOG_DIR/vitest.log" | head -n 1)
[ -n "$ui_passed" ] || { tail -n 40 "$LOG_DIR/vitest.log" >&2; ui_failed=${ui_failed:-1}; }
# What a failed test saw (each failure prints the page it waited on).
[ "${ui_failed:-0}" -eq 0 ] || sed -n '/Failed Tests/,$p' "$LOG_DIR/vitest.log" | head -n 400 >&2

step "clippy (libraries, command-line tool and app)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the Rust SDK test server (rmcp, 2026-07-28)"
cargo build -p mcpauth-test-rmcp --locked

step "test servers smoke test"
node tests/servers/smoke.mjs | tee "$LOG_DIR/smoke.log" | tail -n 1

step "cargo test (private D-Bus session, fresh gnome-keyring)"
KEYRING_HOME=$(mktemp -d)
XDG_DATA_HOME="$KEYRING_HOME" scripts/keyring-session.sh \
  cargo test --locked --no-fail-fast 2>&1 | tee "$LOG_DIR/cargo-test.log" | grep -E '^(test result|error|failures:|---- )' >&2 || true
rm -rf "$KEYRING_HOME"
if grep -qE 'test result: FAILED|^error' "$LOG_DIR/cargo-test.log"; then
  cat "$LOG_DIR/cargo-test.log" >&2
  cargo_ok=0
else
  cargo_ok=1
fi

step "the MCP conformance suite against mcpauth proxy (every client scenario)"
KEYRING_HOME=$(mktemp -d)
XDG_DATA_HOME="$KEYRING_HOME" scripts/keyring-session.sh \
  node tests/conformance/run.mjs --mcpauth "$CARGO_TARGET_DIR/debug/mcpauth" --jobs 4 \
  > "$LOG_DIR/conformance.log" 2>&1 || true
rm -rf "$KEYRING_HOME"
grep -E '^(FAIL|PASS|expected failure:|stale|conformance:)' "$LOG_DIR/conformance.log" >&2 || true
conformance_passed=$(awk '/^conformance:/ {print $2}' "$LOG_DIR/conformance.log")
conformance_failed=$(awk '/^conformance:/ {print $4}' "$LOG_DIR/conformance.log")
if [ -z "$conformance_passed" ]; then
  tail -n 60 "$LOG_DIR/conformance.log" >&2
  conformance_failed=1
elif [ "${conformance_failed:-0}" -gt 0 ]; then
  # What the suite saw, so that a failure in CI reads without a rerun.
  grep -A200 '^FAIL' "$LOG_DIR/conformance.log" | head -n 400 >&2
fi

step "the desktop app opens its window (Xvfb)"
cargo build -p mcpauth-app --locked
app_ok=0
scripts/app-smoke.sh "$CARGO_TARGET_DIR/debug/mcpauth-app" "$CARGO_TARGET_DIR/screenshots/app-start.png" && app_ok=1

step "the app end to end (WebDriver, Xvfb, real servers, keyring and Chromium)"
E2E_SKIP_SETUP=1 scripts/e2e.sh 2>&1 | tee "$LOG_DIR/e2e.log" | grep -E '^(✔|✖|ℹ (pass|fail))' >&2 || true
e2e_passed=$(awk '/^ℹ pass/ {print $3}' "$LOG_DIR/e2e.log")
e2e_failed=$(awk '/^ℹ fail/ {print $3}' "$LOG_DIR/e2e.log")
if [ -z "$e2e_passed" ]; then
  tail -n 60 "$LOG_DIR/e2e.log" >&2
  e2e_failed=1
elif [ "${e2e_failed:-0}" -gt 0 ]; then
  # Each failure with what it saw (page text, app log tail; screenshots in
  # tests/e2e/screenshots, logs in tests/e2e/logs).
  sed -n '/^✖ failing tests:/,$p' "$LOG_DIR/e2e.log" | head -n 400 >&2
fi

step "the IPC bindings are current"
bindings_ok=0
cargo test -p mcpauth-app --locked 2>&1 | tail -n 3 && bindings_ok=1

passed=$(awk '/^test result:/ {p += $4} END {print p + 0}' "$LOG_DIR/cargo-test.log")
failed=$(awk '/^test result:/ {f += $6} END {print f + 0}' "$LOG_DIR/cargo-test.log")
smoke_passed=$(awk '/checks passed/ {print $1}' "$LOG_DIR/smoke.log")
smoke_failed=$(awk '/checks passed/ {print $4}' "$LOG_DIR/smoke.log")
passed=$((passed + ${smoke_passed:-0} + app_ok + ${e2e_passed:-0} + bindings_ok + ${ui_passed:-0} + ${conformance_passed:-0}))
failed=$((failed + ${smoke_failed:-1} + 1 - app_ok + 1 - cargo_ok + ${e2e_failed:-1} + 1 - bindings_ok + ${ui_failed:-0} + ${conformance_failed:-1}))
echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
