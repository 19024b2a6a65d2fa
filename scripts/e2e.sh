#!/usr/bin/env bash
# shellcheck disable=SC2317  # (functions run from traps look unreachable to it)
# End-to-end tests of the desktop app: the real app binary in a real window,
# driven through tauri-driver + WebKitWebDriver with WebdriverIO (tests/e2e).
#
#   scripts/e2e.sh [TEST_FILE...]      default: every tests/e2e/*.test.mjs
#
# Installs what is missing (system packages and the npm projects via
# scripts/setup.sh, tauri-driver via `cargo install`, tests/e2e's npm
# packages), builds the web front end and the app, then runs the tests with
# `node --test` inside a private X server (Xvfb) and a private D-Bus session
# holding a fresh, unlocked gnome-keyring. Prints node's test summary and
# exits non-zero when a test failed.
#
# Environment (all optional):
#   CARGO_TARGET_DIR   shared build directory (default: target)
#   MCPAUTH_APP        app binary to test (default: $CARGO_TARGET_DIR/debug/mcpauth-app)
#   E2E_SKIP_BUILD=1   do not build ui/ and the app (test what is there)
#   E2E_SKIP_SETUP=1   do not run scripts/setup.sh (no apt-get, no npm ci of other projects)
#   E2E_TEST_TIMEOUT   per-test timeout in ms (default 300000)
#   E2E_VERBOSE=1      print the logs of every test file, not only on failure
#   MCPAUTH_E2E_KEEP=1 keep each test file's temp dir (MCPAUTH_HOME, HOME, …)
#
# Screenshots land in tests/e2e/screenshots/, logs (tauri-driver,
# WebKitWebDriver, the app's stderr, the test servers, approve.mjs) in
# tests/e2e/logs/<test file>/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export CARGO_TERM_COLOR=never

say() { printf 'e2e: %s\n' "$*" >&2; }
step() { printf '\n==> %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

# --------------------------------------------------------------------------
# What is missing
# --------------------------------------------------------------------------
if [[ "${E2E_SKIP_SETUP:-}" != 1 ]]; then
    step "installing what is missing (scripts/setup.sh)"
    scripts/setup.sh
fi
for tool in xvfb-run xauth dbus-run-session gnome-keyring-daemon WebKitWebDriver cargo node npm; do
    command -v "$tool" >/dev/null 2>&1 || { say "'$tool' is missing (scripts/setup.sh installs it)"; exit 1; }
done

# tauri-driver 2.x, from crates.io. Built in cargo's own temp dir, not in the
# shared CARGO_TARGET_DIR, so it neither waits for nor blocks the app's build.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if [[ -z "${TAURI_DRIVER:-}" ]]; then
    if ! cargo install --list 2>/dev/null | grep -q '^tauri-driver v2\.'; then
        step "installing tauri-driver (cargo install, about 1-3 minutes)"
        t0=$(now)
        env -u CARGO_TARGET_DIR cargo install tauri-driver --locked --version '^2' --quiet
        say "tauri-driver installed in $(since "$t0")"
    fi
    TAURI_DRIVER=$(command -v tauri-driver)
fi
export TAURI_DRIVER

# tests/e2e's npm packages. --ignore-scripts: webdriverio pulls in
# edgedriver/geckodriver, whose install scripts would try to download drivers.
if [[ ! -d tests/e2e/node_modules ]] ||
    [[ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]]; then
    step "npm ci in tests/e2e"
    npm ci --prefix tests/e2e --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
fi

# --------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------
if [[ "${E2E_SKIP_BUILD:-}" != 1 ]]; then
    step "building the web front end (ui/dist)"
    npm --prefix ui run build --silent >/dev/null
    step "building the app and the command (cargo build -p mcpauth-app -p mcpauth-cli)"
    t0=$(now)
    cargo build -p mcpauth-app -p mcpauth-cli --locked
    say "app built in $(since "$t0")"
fi
app=${MCPAUTH_APP:-$CARGO_TARGET_DIR/debug/mcpauth-app}
[[ -x "$app" ]] || { say "no app binary at $app"; exit 1; }
MCPAUTH_APP=$(realpath "$app")
export MCPAUTH_APP

# --------------------------------------------------------------------------
# Run, in a private X server and D-Bus session, with a throwaway home
# --------------------------------------------------------------------------
if [[ $# -gt 0 ]]; then
    tests=("$@")
else
    tests=(tests/e2e/*.test.mjs)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mcpauth-e2e.XXXXXX")
# Every process started below inherits this marker; the sweep finds the ones
# that outlive the run by it (tauri-driver, WebKitWebDriver, the app, WebKit's
# helpers, Xvfb, dbus-daemon, gnome-keyring, portals).
export MCPAUTH_E2E_SCRIPT_RUN="e2e-$$-$RANDOM$RANDOM"

run_pids() {
    local env_file pid
    for env_file in /proc/[0-9]*/environ; do
        pid=${env_file#/proc/}
        pid=${pid%/environ}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        if grep -qzxF "MCPAUTH_E2E_SCRIPT_RUN=$MCPAUTH_E2E_SCRIPT_RUN" "$env_file" 2>/dev/null; then
            [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] || echo "$pid"
        fi
    done
}
interrupted=""
wait_run_ended() { # up to 3 s
    local _
    for _ in $(seq 30); do
        [[ -z "$(run_pids)" ]] && return 0
        sleep 0.1
    done
    return 1
}
sweep() {
    local pids signal
    # After a normal end the session's daemons are on their way out: let them go.
    # Interrupted: the tests still run, so do not wait for them.
    [[ -n "$interrupted" ]] || wait_run_ended || true
    for signal in TERM KILL; do
        pids=$(run_pids)
        [[ -z "$pids" ]] && break
        # Name what is left, so that a leak is visible.
        say "SIG$signal to leftovers: $(for p in $pids; do printf '%s(%s) ' "$p" "$(cat /proc/"$p"/comm 2>/dev/null)"; done)"
        # shellcheck disable=SC2086
        kill "-$signal" $pids 2>/dev/null || true
        wait_run_ended && break
    done
    rm -rf "$work"
}
trap sweep EXIT
trap 'interrupted=1; exit 130' INT
trap 'interrupted=1; exit 143' TERM

mkdir -p "$work/home/.config" "$work/home/.local/share" "$work/home/.cache" "$work/runtime" "$work/tmp" "$work/keyring"
chmod 700 "$work/runtime"
export HOME="$work/home"
export XDG_CONFIG_HOME="$HOME/.config"
export XDG_CACHE_HOME="$HOME/.cache"
export XDG_RUNTIME_DIR="$work/runtime"
# The keyring's own directory: a fresh one, so its password is the one below.
export XDG_DATA_HOME="$work/keyring"
export TMPDIR="$work/tmp"
export MCPAUTH_E2E_TMP="$work/tmp"
unset WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS WEBKIT_DISABLE_DMABUF_RENDERER
mkdir -p tests/e2e/screenshots tests/e2e/logs

step "running ${#tests[@]} test file(s) under Xvfb with a fresh gnome-keyring"
say "app: $MCPAUTH_APP"
say "tauri-driver: $TAURI_DRIVER; $(dpkg-query -W -f='webkit2gtk-driver ${Version}' webkit2gtk-driver 2>/dev/null || true); node $(node --version)"
status=0
t0=$(now)
touch "$work/started"
# In the background + wait, so that a signal to this script is handled at once.
# The session's daemons (dbus-daemon, portals, gnome-keyring, at-spi) inherit
# stdout and stderr: both go to session.log; fds 4 and 3 carry node's own
# stdout and stderr to ours.
# shellcheck disable=SC2016  # ($@ and E2E_TEST_TIMEOUT expand in the inner bash)
xvfb-run -a -e "$work/xvfb.log" -s "-screen 0 1280x1024x24" \
    scripts/keyring-session.sh bash -c '
        exec node --test --test-concurrency=1 --test-reporter=spec \
            --test-timeout="${E2E_TEST_TIMEOUT:-300000}" "$@" >&4 2>&3
        ' e2e "${tests[@]}" 3>&2 4>&1 >"$work/session.log" 2>&1 </dev/null &
wait $! || status=$?
say "tests ran in $(since "$t0")"

if [[ $status -ne 0 || "${E2E_VERBOSE:-}" == 1 ]]; then
    for log in tests/e2e/logs/*/*.log; do
        [[ -s "$log" && "$log" -nt "$work/started" ]] || continue
        say "$log, last 40 lines:"
        tail -n 40 "$log" | sed 's/^/  | /' >&2
    done
    for f in session xvfb; do
        [[ -s "$work/$f.log" ]] || continue
        say "$f output, last 20 lines:"
        tail -n 20 "$work/$f.log" | sed 's/^/  | /' >&2
    done
fi
say "screenshots: $(find tests/e2e/screenshots -name '*.png' -newer "$work/started" 2>/dev/null | wc -l) new in tests/e2e/screenshots/"
if [[ $status -eq 0 ]]; then say "PASS"; else say "FAIL (exit $status)"; fi
exit "$status"
