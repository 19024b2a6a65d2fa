#!/usr/bin/env bash
# Runs tests again and again on a loaded machine, to show they cannot flake:
# `stress-ng --cpu N` (N = the machine's cores) keeps every core busy beside
# them, as a build or a busy CI runner would.
#
#   scripts/soak.sh [RUNS] [PART]     RUNS defaults to 5, PART to "all"
#
# PART is one of
#   all    scripts/test.sh, the whole test command (README.md)
#   rust   the Rust tests that start processes or count time: the vault's
#          processes.rs and faults.rs, the CLI's proxy, proxy_faults,
#          proxy_network, proxy_load and network tests (in a private D-Bus
#          session with a fresh keyring)
#   ui     the front end's Vitest suite
#
# Every run's last lines go to $SOAK_LOG (default target/soak.log, or the
# Cargo target directory's), and the script ends with one line:
# "soak: K of RUNS runs passed (PART, stress-ng --cpu N on N cores)".
# It exits non-zero unless every run passed.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
PART=${2:-all}
case "$PART" in all | rust | ui) ;; *) echo "soak: PART is all, rust or ui, not '$PART'" >&2; exit 2 ;; esac
case "$RUNS" in '' | *[!0-9]*) echo "soak: RUNS is a number of runs, not '$RUNS'" >&2; exit 2 ;; esac
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
SOAK_LOG=${SOAK_LOG:-$CARGO_TARGET_DIR/soak.log}
mkdir -p "$(dirname "$SOAK_LOG")"

if ! command -v stress-ng >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y --no-install-recommends stress-ng >&2 ||
    { echo "soak: cannot install stress-ng (Debian's package); install it and run again" >&2; exit 1; }
fi

cores=$(nproc)
RUST_TESTS=(-p mcpauth-vault -p mcpauth-cli --test processes --test faults --test proxy --test proxy_faults --test proxy_network --test proxy_load --test network)
# Everything is built (and installed) once, unloaded: the soak is about the
# tests, not about how long a loaded build takes.
scripts/setup.sh
case "$PART" in
  rust)
    cargo build -p mcpauth-test-rmcp -p mcpauth-cli --locked
    cargo test --locked "${RUST_TESTS[@]}" --no-run
    ;;
esac

stress-ng --cpu "$cores" --timeout 0 >/dev/null 2>&1 &
stress=$!
trap 'kill "$stress" 2>/dev/null || true' EXIT

one_run() {
  case "$PART" in
    all) scripts/test.sh ;;
    ui) npm --prefix ui test --silent ;;
    rust)
      local keyring
      keyring=$(mktemp -d)
      XDG_DATA_HOME="$keyring" scripts/keyring-session.sh cargo test --locked --no-fail-fast "${RUST_TESTS[@]}"
      local rc=$?
      rm -rf "$keyring"
      return $rc
      ;;
  esac
}

passed=0
: >"$SOAK_LOG"
for i in $(seq 1 "$RUNS"); do
  out=$(mktemp)
  start=$(date +%s)
  if one_run >"$out" 2>&1; then rc=0; passed=$((passed + 1)); else rc=$?; fi
  secs=$(($(date +%s) - start))
  {
    echo "== run $i of $RUNS ($PART): exit $rc after $secs s, load $(cut -d' ' -f1-3 /proc/loadavg)"
    # The result lines, and all of a failed run's output worth reading.
    grep -E '^(tests:|test result:| *Tests |✖|FAIL|---- )' "$out" || true
    if [ "$rc" -ne 0 ]; then
      # Each failed Rust test's message (its panic), then the end of the run.
      grep -E -A20 '^---- .* stdout ----$' "$out" | grep -vE '^ +([0-9]+: | +at )' | head -n 300 || true
      # The panic itself: a test that prints what it saw first pushes it
      # past those twenty lines.
      grep -E -A15 "^thread '.*' \(?[0-9]*\)? ?panicked at" "$out" | grep -vE '^ +([0-9]+: | +at )' | head -n 300 || true
      # Each failed e2e test with its error (test.sh prints them whole).
      sed -n '/^✖ failing tests:/,/^e2e: /p' "$out" | head -n 300 || true
      tail -n 200 "$out"
    fi
  } | tee -a "$SOAK_LOG" >&2
  rm -f "$out"
done
echo "soak: $passed of $RUNS runs passed ($PART, stress-ng --cpu $cores on $cores cores)" | tee -a "$SOAK_LOG"
[ "$passed" -eq "$RUNS" ]
