#!/usr/bin/env bash
# Runs every fuzz target for a given time each and prints executions per target.
#   scripts/fuzz.sh [seconds-per-target] [target...]
# Inputs that once broke an invariant live in fuzz/regressions/<target> (kept
# out of the corpus so `cargo fuzz cmin` never drops them).
# Needs the nightly toolchain and cargo-fuzz (installed here when missing).
# New inputs that reach new code are added to fuzz/corpus/<target>; a crash is
# saved under fuzz/artifacts/<target> and stops that target with a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-60}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(www_authenticate discovery_documents token_response callback_url deep_link export_jsonc)
fi
# Our crates forbid unsafe code, so the default is coverage-guided fuzzing without
# AddressSanitizer (several times the executions per second); SANITIZER=address
# adds it for the dependencies' unsafe code.
SANITIZER="${SANITIZER:-none}"
export CARGO_TARGET_DIR="${MCPAUTH_FUZZ_TARGET_DIR:-/var/tmp/mcpauth-fuzz-target}"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo +nightly install cargo-fuzz --locked
(cd fuzz && cargo +nightly fuzz build -O -s "$SANITIZER")

total=0
failed=0
printf '%-22s %14s %10s %8s\n' target executions exec/s corpus
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log="$(mktemp)"
  status=0
  (cd fuzz && cargo +nightly fuzz run -O -s "$SANITIZER" "$t" -- -max_total_time="$SECONDS_EACH" \
      -print_final_stats=1 -max_len=65536 -timeout=10 -rss_limit_mb=2048) >"$log" 2>&1 || status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  files=$(find "fuzz/corpus/$t" -type f | wc -l)
  printf '%-22s %14s %10s %8s\n' "$t" "${execs:-?}" "${rate:-?}" "$files"
  total=$((total + ${execs:-0}))
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "  $t FAILED (exit $status); the input (if it crashed) is in fuzz/artifacts/$t; log: $log"
    grep -E 'panicked|ERROR|SUMMARY|^error' "$log" | head -5 | sed 's/^/  /' || true
  else
    rm -f "$log"
  fi
done
echo "total executions: $total"
exit "$failed"
