#!/usr/bin/env bash
# Runs a command in a private D-Bus session with a fresh, unlocked
# gnome-keyring (Secret Service) whose files live under $XDG_DATA_HOME.
#
#   XDG_DATA_HOME=<dir> bench/keyring-session.sh <command...>
#
# The daemon runs in the foreground of a background job: started with
# `--unlock` alone it daemonizes, and on this machine that daemon was seen to
# exit in the middle of a benchmark, after which D-Bus activated a new one
# whose keyring is locked (every write then fails wanting a password prompt).
set -euo pipefail
if [ -z "${IN_KEYRING_SESSION:-}" ]; then
  exec env IN_KEYRING_SESSION=1 dbus-run-session -- "$0" "$@"
fi
printf pw | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
for _ in $(seq 100); do
  gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.NameHasOwner org.freedesktop.secrets 2>/dev/null | grep -q true && break
  sleep 0.1
done
# A fresh keyring creates its default collection on the first write; several
# first writes at once make it try to prompt (there is no display) and fail.
printf x | secret-tool store --label=warm-up service mcpauth-bench-warm-up account warm-up
"$@"
