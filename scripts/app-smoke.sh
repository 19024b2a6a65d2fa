#!/usr/bin/env bash
# shellcheck disable=SC2317  # (functions run from traps look unreachable to it)
# Smoke test of the desktop app: start it on a virtual X display, wait for its
# "MCP Auth" window, screenshot the screen and check that the page rendered.
#
#   scripts/app-smoke.sh [APP_BINARY] [OUTPUT_PNG]
#
# APP_BINARY  defaults to ${CARGO_TARGET_DIR:-target}/debug/mcpauth-app
# OUTPUT_PNG  defaults to tests/e2e/screenshots/app-start.png
#
# Environment (all optional):
#   APP_SMOKE_TIMEOUT         seconds to wait for the window (default 60)
#   APP_SMOKE_RENDER_TIMEOUT  seconds to wait, once the window shows, for the
#                             page to render (default 30)
#   APP_SMOKE_MIN_COLORS      a rendered page has more distinct colours than
#                             this inside the window (default 10)
#   APP_SMOKE_VERBOSE=1       print the app's and the session's output on
#                             success too
#
# Needs: xvfb-run and xauth (xvfb), dbus-run-session (dbus), xwininfo
# (x11-utils), import and convert (imagemagick), setsid and timeout.
#
# The app runs with a throwaway HOME and XDG directories, in a private X server
# and a private D-Bus session, so it neither reads nor leaves anything in the
# real home (the session bus may start portals and gnome-keyring on the app's
# behalf; they live in the throwaway directories too). Exits 0 when the page
# rendered; otherwise non-zero with the reason and the app's output on stderr.
# Either way the app, and every process started for this run, is gone when the
# script returns.
set -euo pipefail

# Messages go to fd 3 when the outer part opened it (the inner part's stderr
# is shared with the session's daemons, whose chatter goes to a log file).
log() {
    if { true >&3; } 2>/dev/null; then
        printf 'app-smoke: %s\n' "$*" >&3
    else
        printf 'app-smoke: %s\n' "$*" >&2
    fi
}
die() { log "FAIL: $*"; exit 1; }

# -----------------------------------------------------------------------------
# Outer part: check the inputs, make the throwaway home, run the rest of this
# script inside a private X server and D-Bus session, then sweep up.
# -----------------------------------------------------------------------------
if [[ -z "${APP_SMOKE_INNER:-}" ]]; then
    app=${1:-${CARGO_TARGET_DIR:-target}/debug/mcpauth-app}
    out=${2:-tests/e2e/screenshots/app-start.png}

    for tool in xvfb-run xauth dbus-run-session xwininfo import convert setsid timeout; do
        command -v "$tool" >/dev/null 2>&1 ||
            die "'$tool' is not installed (apt-get install xvfb xauth dbus x11-utils imagemagick)"
    done
    [[ -f "$app" && -x "$app" ]] || die "no app binary at '$app' (build it: cargo build -p mcpauth-app)"

    app=$(realpath "$app")
    mkdir -p "$(dirname "$out")"
    out=$(realpath "$out")
    script=$(realpath "${BASH_SOURCE[0]}")

    work=$(mktemp -d "${TMPDIR:-/tmp}/app-smoke.XXXXXX")
    # Every process of this run inherits this marker; the sweep below finds
    # the ones that outlived the session by it.
    export APP_SMOKE_RUN_ID="app-smoke-$$-$RANDOM$RANDOM"

    # Processes of this run still alive (by the marker in their environment).
    run_pids() {
        local env_file pid
        for env_file in /proc/[0-9]*/environ; do
            pid=${env_file#/proc/}
            pid=${pid%/environ}
            [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
            # (Kernel threads and processes that just ended cannot be read.)
            if grep -qzxF "APP_SMOKE_RUN_ID=$APP_SMOKE_RUN_ID" "$env_file" 2>/dev/null; then
                # Zombies are dead already; their parent or init reaps them.
                [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] || echo "$pid"
            fi
        done
    }

    # Wait a moment for this run's processes to end, then end the stragglers:
    # SIGTERM first (so Xvfb removes its lock files), SIGKILL last.
    sweep() {
        local pids="" signal
        for signal in "" TERM KILL; do
            if [[ -n "$signal" ]]; then
                log "sending SIG$signal to processes this run left behind: $(tr '\n' ' ' <<<"$pids")"
                # shellcheck disable=SC2086
                kill "-$signal" $pids 2>/dev/null || true
            fi
            for _ in $(seq 30); do
                pids=$(run_pids)
                [[ -z "$pids" ]] && break 2
                sleep 0.1
            done
        done
        [[ -z "$pids" ]] || log "still alive: $(tr '\n' ' ' <<<"$pids")"
        rm -rf "$work"
    }
    trap sweep EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    # The throwaway home, for the app and for everything the session bus starts.
    mkdir -p "$work/home/.config" "$work/home/.local/share" "$work/home/.cache" \
        "$work/home/.local/state" "$work/runtime"
    chmod 700 "$work/runtime"
    export HOME="$work/home"
    export XDG_CONFIG_HOME="$HOME/.config"
    export XDG_DATA_HOME="$HOME/.local/share"
    export XDG_CACHE_HOME="$HOME/.cache"
    export XDG_STATE_HOME="$HOME/.local/state"
    export XDG_RUNTIME_DIR="$work/runtime"
    # Temporary files too (xvfb-run's Xauthority among them), so that even a
    # run ended by a signal leaves nothing in /tmp.
    mkdir -p "$work/tmp"
    export TMPDIR="$work/tmp"
    unset WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS

    export APP_SMOKE_INNER=1 APP_SMOKE_WORK="$work"
    status=0
    # -a picks a free display number; -e keeps the X server's own messages.
    # Fd 3 carries this script's messages past the session log, which gets
    # what the bus daemon and the services it starts print.
    # It runs in the background so that a signal to this script is handled at
    # once (bash runs traps only between foreground commands).
    xvfb-run -a -e "$work/xvfb.log" -s "-screen 0 1280x800x24" \
        dbus-run-session -- bash "$script" "$app" "$out" \
        3>&2 >"$work/session.log" 2>&1 </dev/null &
    wait $! || status=$?
    if [[ $status -ne 0 || "${APP_SMOKE_VERBOSE:-}" == 1 ]]; then
        for f in xvfb session; do
            if [[ -s "$work/$f.log" ]]; then
                log "$f output, last 40 lines:"
                tail -n 40 "$work/$f.log" | sed 's/^/  | /' >&2
            fi
        done
    fi
    exit "$status"
fi

# -----------------------------------------------------------------------------
# Inner part: runs under Xvfb ($DISPLAY set) and dbus-run-session.
# -----------------------------------------------------------------------------
app=$1
out=$2
work=$APP_SMOKE_WORK
window_timeout=${APP_SMOKE_TIMEOUT:-60}
render_timeout=${APP_SMOKE_RENDER_TIMEOUT:-30}
min_colors=${APP_SMOKE_MIN_COLORS:-10}
app_log="$work/app.log"
shot="$work/shot.png"
app_pid=""

# The display is Xvfb: X11 only, no GPU. Debian 12's WebKitGTK 2.50 renders on
# it without the two WebKit/Mesa switches below (checked), but they are the
# usual cure for a webview that stays blank on a GPU-less X server, and they
# pin the software path so screenshots do not vary with the machine's GPU.
export GDK_BACKEND=x11
export WEBKIT_DISABLE_DMABUF_RENDERER="${WEBKIT_DISABLE_DMABUF_RENDERER:-1}"
export LIBGL_ALWAYS_SOFTWARE="${LIBGL_ALWAYS_SOFTWARE:-1}"
# No accessibility bus from the app: it is one more daemon to outlive it.
export NO_AT_BRIDGE="${NO_AT_BRIDGE:-1}"

app_alive() { [[ -n "$app_pid" ]] && kill -0 "$app_pid" 2>/dev/null; }
group_alive() { [[ -n "$app_pid" ]] && kill -0 -- "-$app_pid" 2>/dev/null; }

# Kill the app's whole process group (the app and its WebKit processes), then
# wait until none of it is left.
stop_app() {
    [[ -n "$app_pid" ]] || return 0
    if group_alive; then
        kill -TERM -- "-$app_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            group_alive || break
            sleep 0.1
        done
        if group_alive; then
            log "the app ignored SIGTERM for 5 s; sending SIGKILL"
            kill -KILL -- "-$app_pid" 2>/dev/null || true
        fi
    fi
    wait "$app_pid" 2>/dev/null || true
    for _ in $(seq 50); do
        group_alive || break
        sleep 0.1
    done
    app_pid=""
}
trap stop_app EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    log "FAIL: $*"
    if [[ -s "$app_log" ]]; then
        log "app output (stdout and stderr), last 60 lines:"
        tail -n 60 "$app_log" | sed 's/^/  | /' >&3
    else
        log "the app printed nothing"
    fi
    exit 1
}

# Reap the app after it died by itself and report how.
app_died() {
    local status=0
    wait "$app_pid" || status=$?
    app_pid=""
    fail "the app exited (status $status) $1"
}

# setsid makes the app the leader of a new process group, so that stop_app
# reaches WebKit's helper processes too. (A background child of this script is
# never a group leader, so setsid execs the app in place: $! is the app.)
setsid "$app" >"$app_log" 2>&1 </dev/null &
app_pid=$!
log "started $app (pid $app_pid) on display $DISPLAY"

# 1. Wait for a viewable window named "MCP Auth".
window=""
deadline=$((SECONDS + window_timeout))
while ((SECONDS < deadline)); do
    app_alive || app_died "before its window appeared"
    for id in $(xwininfo -root -tree 2>/dev/null | awk '/"MCP Auth":/ {print $1}'); do
        if xwininfo -id "$id" 2>/dev/null | grep -q 'Map State: IsViewable'; then
            window=$id
            break 2
        fi
    done
    sleep 0.5
done
[[ -n "$window" ]] || fail "no viewable window named \"MCP Auth\" within ${window_timeout}s"

geometry=$(xwininfo -id "$window")
win_x=$(awk '/Absolute upper-left X:/ {print $4}' <<<"$geometry")
win_y=$(awk '/Absolute upper-left Y:/ {print $4}' <<<"$geometry")
win_w=$(awk '/Width:/ {print $2}' <<<"$geometry")
win_h=$(awk '/Height:/ {print $2}' <<<"$geometry")
log "window $window: ${win_w}x${win_h} at +${win_x}+${win_y}"

# 2. Give WebKit time to load and paint, then screenshot until the window holds
# a real page: an empty or unpainted webview is one flat colour.
sleep 2
colors=0
deadline=$((SECONDS + render_timeout))
while :; do
    app_alive || app_died "while the page was loading"
    timeout 20 import -window root "$shot" || fail "import could not take a screenshot"
    colors=$(convert "$shot" -crop "${win_w}x${win_h}+${win_x}+${win_y}" +repage -format %k info:)
    ((colors > min_colors)) && break
    ((SECONDS < deadline)) || break
    sleep 1
done
cp "$shot" "$out"
((colors > min_colors)) ||
    fail "the window looks empty: $colors distinct colour(s) in it (want more than $min_colors); screenshot in $out"

# 3. Stop the app; the outer part sweeps up whatever the session bus started.
stop_app
if [[ "${APP_SMOKE_VERBOSE:-}" == 1 && -s "$app_log" ]]; then
    log "app output:"
    sed 's/^/  | /' "$app_log" >&3
fi
log "OK: the page rendered ($colors colours in the window); screenshot in $out"
