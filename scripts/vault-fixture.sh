#!/usr/bin/env bash
# Makes the upgrade fixture of crates/vault/tests/upgrade.rs with an old
# commit's own code: checks the commit out in a temporary worktree, runs
# scripts/vault-fixture/make_fixture.rs there against the test servers and
# the real keyring, and stores what it wrote under
# crates/vault/tests/fixtures/vault-<commit>/.
#
#   scripts/vault-fixture.sh [COMMIT]     (default: the last schema-1 commit)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
commit=$(git rev-parse --short=8 "${1:-33ad2317}")
out="$root/crates/vault/tests/fixtures/vault-$commit"
tree=$(mktemp -d /tmp/mcpauth-fixture.XXXXXX)
trap 'git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true; rm -rf "$tree"' EXIT

git worktree add --detach "$tree" "$commit" >/dev/null
cp scripts/vault-fixture/make_fixture.rs "$tree/crates/vault/tests/make_fixture.rs"
# The old test servers' packages are a subset of today's.
[ -d tests/servers/node_modules ] || npm --prefix tests/servers ci --silent
ln -s "$root/tests/servers/node_modules" "$tree/tests/servers/node_modules"

rm -rf "$out"
keyring_home=$(mktemp -d)
(cd "$tree" && MCPAUTH_FIXTURE_OUT="$out" XDG_DATA_HOME="$keyring_home" \
    "$root/scripts/keyring-session.sh" \
    cargo test --locked -p mcpauth-vault --test make_fixture -- --nocapture)
rm -rf "$keyring_home"
echo "fixture written to ${out#"$root"/}:"
ls -l "$out"
