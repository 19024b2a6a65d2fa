#!/usr/bin/env bash
# Runs a command in a private D-Bus session with a fresh, unlocked
# gnome-keyring (Secret Service) whose files live under $XDG_DATA_HOME.
#
#   XDG_DATA_HOME=<dir> scripts/keyring-session.sh <command...>
#
# Used by the test command (scripts/test.sh, scripts/e2e.sh) and the
# benchmarks (bench/). The daemon runs in the foreground of a background job:
# started with `--unlock` alone it daemonizes, and on this machine that daemon
# was seen to exit in the middle of a benchmark, after which D-Bus activated a
# new one whose keyring is locked (every write then fails wanting a password
# prompt). Returns the command's exit status.
set -euo pipefail
if [ -z "${IN_KEYRING_SESSION:-}" ]; then
  exec env IN_KEYRING_SESSION=1 dbus-run-session -- "$(realpath "$0")" "$@"
fi
printf pw | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
up=
for _ in $(seq 100); do
  if gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.NameHasOwner org.freedesktop.secrets 2>/dev/null | grep -q true; then
    up=1
    break
  fi
  sleep 0.1
done
[ -n "$up" ] || { echo "keyring-session: gnome-keyring-daemon did not start within 10 s (is it installed? scripts/setup.sh)" >&2; exit 1; }
# A fresh keyring creates its default collection on the first write; several
# first writes at once make it try to prompt (there is no display) and fail.
printf x | secret-tool store --label=warm-up service mcpauth-warm-up account warm-up
"$@"
