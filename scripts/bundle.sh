#!/usr/bin/env bash
# Builds the release app and its .deb, with the `mcpauth` command inside it:
# the package installs /usr/bin/mcpauth-app and /usr/bin/mcpauth, side by
# side, and the app writes that absolute path into the MCP clients'
# configuration files it exports to (src-tauri/src/cli.rs).
#
#   scripts/bundle.sh      prints the path of the .deb on stdout
#
# Tauri's command-line tool comes from npm (@tauri-apps/cli 2.x, a prebuilt
# binary). The CLI's path is given on the command line (--config), because
# tauri.conf.json cannot name a CARGO_TARGET_DIR outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR=$PWD/$CARGO_TARGET_DIR ;; esac
npm --prefix ui run build --silent >/dev/null
cargo build --release --locked -p mcpauth-cli >&2
# Stripped, as Tauri strips the app: symbols are half the binary's size.
cli="$CARGO_TARGET_DIR/release/bundle/mcpauth"
mkdir -p "$(dirname "$cli")"
cp "$CARGO_TARGET_DIR/release/mcpauth" "$cli"
strip "$cli"
config=$(printf '{"bundle":{"linux":{"deb":{"files":{"/usr/bin/mcpauth":"%s"}}}}}' "$cli")
(cd src-tauri && npx --yes @tauri-apps/cli@2 build --bundles deb --config "$config" >&2)
deb=$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb | head -n 1)
# The package must hold both commands; a bundle without the CLI is a broken export.
contents=$(dpkg-deb --contents "$deb")
for f in usr/bin/mcpauth-app usr/bin/mcpauth; do
  grep -qE " (\./)?$f\$" <<<"$contents" || { echo "bundle: $deb has no /$f" >&2; exit 1; }
done
echo "$deb"
