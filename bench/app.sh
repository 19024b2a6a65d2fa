#!/usr/bin/env bash
# The desktop app's speed and weight (issues 5 and 7): time from launch to the
# accounts list rendered, memory of the app and its WebKit processes after
# that, and the size of the .deb bundle. Beside it, the floor for memory:
# WebKitGTK's own MiniBrowser showing about:blank on the same display.
#
#   bench/app.sh [runs] [accounts]    (default 5 runs, 100 accounts)
#
# Builds the release app and its .deb with Tauri's command-line tool from npm
# and the release bench binary, signs <accounts> accounts in against the local
# test servers (through the vault, as the app would), then launches the app
# <runs> times on an Xvfb display (bench/app_startup.py; no WebDriver, so the
# time is the app's own). Runs in a private D-Bus session with a fresh
# gnome-keyring. Targets (issue 5, 100 accounts): under 1 s to first render,
# under 150 MB resident for the app and its web process, bundle under 15 MB;
# (issue 15) with the window closed, under 60 MB for every process of the app,
# and re-opening to the accounts list under 0.5 s.
source "$(dirname "$0")/common.sh"
RUNS=${1:-5}
ACCOUNTS=${2:-100}
deb=$(scripts/bundle.sh)
cargo build --release -p mcpauth-vault --example bench --locked
export RUNS ACCOUNTS
export MCPAUTH_HOME="$WORK/home" MCPAUTH_KEYRING_SERVICE=mcpauth-bench-app
XDG_DATA_HOME="$WORK/keyring" scripts/keyring-session.sh bash -c '
  set -euo pipefail
  source bench/servers.sh
  "$CARGO_TARGET_DIR/release/examples/bench" prepare "$mcp" "$ACCOUNTS" 8 >&2
  xvfb-run -a -s "-screen 0 1280x800x24" \
    python3 bench/app_startup.py "$CARGO_TARGET_DIR/release/mcpauth-app" "$ACCOUNTS" "$RUNS" > "$WORK/app.json"
  minibrowser=$(ls /usr/lib/*/webkit2gtk-4.1/MiniBrowser | head -n 1)
  xvfb-run -a -s "-screen 0 1280x800x24" \
    python3 bench/app_startup.py --floor "$RUNS" "$minibrowser" about:blank > "$WORK/floor.json"
  # The same with accelerated compositing off, as the app sets its web view.
  WEBKIT_DISABLE_COMPOSITING_MODE=1 xvfb-run -a -s "-screen 0 1280x800x24" \
    python3 bench/app_startup.py --floor "$RUNS" "$minibrowser" about:blank > "$WORK/floor-nocomp.json"
'
python3 - "$WORK" "$deb" <<'PY'
import json, os, statistics, sys
work, deb = sys.argv[1], sys.argv[2]
app, floor, nocomp = (json.load(open(f"{work}/{n}.json")) for n in ("app", "floor", "floor-nocomp"))
def row(name, xs, unit_fmt="{:.0f}"):
    s = sorted(xs)
    f = lambda x: unit_fmt.format(x)
    return f"| {name} | {f(s[0])} | {f(statistics.median(s))} | {f(s[-1])} |"
runs, fl = app["runs"], floor["runs"]
g = lambda rs, k: [r.get(k, 0) for r in rs]
plus = lambda rs, a, b: [r.get(a, 0) + r.get(b, 0) for r in rs]
print(f"| measure ({len(runs)} runs, {app['accounts']} accounts) | min | median | max |")
print("|---|---|---|---|")
print(row("first render, from exec (ms)", g(runs, "from_exec_ms")))
print(row("first render, from main (ms)", g(runs, "from_main_ms")))
for kind in ("rss", "pss"):
    print(row(f"{kind.upper()}: app + web process (MB)", plus(runs, f"app_{kind}", f"web_{kind}")))
    print(row(f"{kind.upper()}: app (MB)", g(runs, f"app_{kind}")))
    print(row(f"{kind.upper()}: web process (MB)", g(runs, f"web_{kind}")))
    print(row(f"{kind.upper()}: network process (MB, outside the target)", g(runs, f"network_{kind}")))
print(row("re-open to the accounts list, from the second launch (ms)", g(runs, "reopen_from_launch_ms")))
print(row("re-open to the accounts list, in the app (ms)", g(runs, "reopen_in_app_ms")))
for kind in ("rss", "pss"):
    print(row(f"window closed, {kind.upper()}: every process of the app (MB)",
              [r.get(f"closed_app_{kind}", 0) + r.get(f"closed_web_{kind}", 0) + r.get(f"closed_network_{kind}", 0) for r in runs]))
    print(row(f"started at login (--hidden), {kind.upper()}: every process (MB)",
              [r.get(f"hidden_app_{kind}", 0) + r.get(f"hidden_web_{kind}", 0) + r.get(f"hidden_network_{kind}", 0) for r in runs]))
for kind in ("rss", "pss"):
    print(row(f"floor, MiniBrowser about:blank, {kind.upper()}: browser + web process (MB)", plus(fl, f"app_{kind}", f"web_{kind}")))
    print(row(f"floor, same with compositing off (as the app), {kind.upper()} (MB)", plus(nocomp["runs"], f"app_{kind}", f"web_{kind}")))
    print(row(f"floor, compositing off, {kind.upper()}: browser (MB)", g(nocomp["runs"], f"app_{kind}")))
    print(row(f"floor, compositing off, {kind.upper()}: web process (MB)", g(nocomp["runs"], f"web_{kind}")))
print(f"\n.deb bundle: {os.path.getsize(deb) / 2**20:.1f} MB ({os.path.basename(deb)})")
# Where the first render's time goes: each start-up step the app logged, as
# the median over the runs of its time after launch, in the median run's order.
steps = [r.get("steps", {}) for r in runs]
names = sorted({n for s in steps for n in s}, key=lambda n: statistics.median([s[n] for s in steps if n in s]))
if names:
    print("\n| start-up step (ms after main, median) | at | since the step before |")
    print("|---|---|---|")
    before = 0.0
    for n in names:
        at = statistics.median([s[n] for s in steps if n in s])
        print(f"| {n} | {at:.0f} | {at - before:+.0f} |")
        before = at
PY
