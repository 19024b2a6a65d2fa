#!/usr/bin/env bash
# The desktop app's speed and weight (issue 5): time from launch to the
# accounts list rendered with 100 accounts, resident memory of the app and its
# web process after that, and the size of the .deb bundle.
#
#   bench/app.sh [runs]    (default 5)
#
# Builds the release app and its .deb with Tauri's command-line tool from npm,
# signs 100 accounts in against the local test servers (through the vault, as
# the app would), then launches the app under Xvfb through WebDriver `runs`
# times and waits for 100 account rows. Targets: under 1 s to first render,
# under 150 MB resident together, bundle under 15 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
scripts/setup.sh
npm --prefix ui run build --silent >/dev/null
(cd src-tauri && npx --yes @tauri-apps/cli@2 build --bundles deb >&2)
cargo build -p mcpauth-vault --example vault_probe --locked
deb=$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb | head -n 1)
export MCPAUTH_APP="$CARGO_TARGET_DIR/release/mcpauth-app" BENCH_RUNS=$RUNS BENCH_DEB="$deb"
E2E_SKIP_BUILD=1 E2E_SKIP_SETUP=1 scripts/e2e.sh bench/app-startup.test.mjs
