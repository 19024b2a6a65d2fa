# Sourced first by every bench script: stops at the first error, works from
# the repository root, builds into CARGO_TARGET_DIR (default ./target), runs
# scripts/setup.sh unless BENCH_SKIP_SETUP is set, and gives a work directory,
# $WORK (exported), removed on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
[ -n "${BENCH_SKIP_SETUP:-}" ] || scripts/setup.sh
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export WORK

# need <command...>: installs each missing command's Debian package (same name).
need() {
  local tool sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  for tool in "$@"; do
    command -v "$tool" >/dev/null || "${sudo[@]}" apt-get install -y -qq "$tool" >/dev/null
  done
}
