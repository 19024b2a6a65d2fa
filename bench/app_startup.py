#!/usr/bin/env python3
"""The release app's first render and memory (bench/app.sh runs this inside a
private D-Bus session with gnome-keyring and an Xvfb display).

    app_startup.py <app binary> <accounts expected> <runs>
    app_startup.py --floor <runs> <command...>


Each run launches the app with MCPAUTH_LOG set and waits for its line
"first render: N accounts, M ms after launch", which the front end triggers
once the accounts list is in the page and painted (ui/src/lib/store.svelte.ts,
src-tauri/src/startup.rs). Two times per run: from exec (measured here, so it
includes loading the program and its libraries) and from `main` (the app's
own figure), and the app's start-up timeline (the line after it: each step of
the backend and the page, in ms after launch, at the end of the same line). One second later, the memory of the app and of each WebKit
process it started: resident (RSS) and proportional (PSS: shared pages divided
among the processes that map them, so libraries are not counted twice).
Then the window is closed (tests/e2e/wm-close.py, as a window manager's close
button), the memory of the closed app read once it settled, and the window
opened again by a second launch, timed until the page logs "window reopened"
(the accounts list painted). Last, the app is started as at login
(--hidden) and its memory read. Prints one JSON line.

--floor: the same memory figures for another WebKitGTK program (bench/app.sh
gives WebKitGTK's own MiniBrowser showing about:blank), 3 s after its start.
"""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time

LINE = re.compile(r"first render: (\d+) accounts, (\d+) ms after launch")
REOPEN = re.compile(r"window reopened: (\d+) accounts rendered (\d+) ms after it was asked for")  # ", on #/…" follows
WM_CLOSE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e", "wm-close.py")
NAMES = {"mcpauth-app": "app", "WebKitWebProces": "web", "WebKitNetworkPr": "network"}
STEPS = re.compile(r"start-up \(ms after launch\): (.*)")


def smaps(pid):
    """Rss and Pss of a process in MB, from /proc/<pid>/smaps_rollup."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:"):
                out[parts[0][:-1].lower()] = int(parts[1]) / 1024
    return out


def descendants(root):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def memory_of(root, names):
    memory = {}
    for pid in descendants(root):
        # /proc/<pid>/comm keeps 15 characters.
        kind = names.get(comm(pid))
        if kind:
            for k, v in smaps(pid).items():
                memory[f"{kind}_{k}"] = memory.get(f"{kind}_{k}", 0) + v
    return memory


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    # The single-instance D-Bus name goes with the process; give the bus a moment.
    time.sleep(1)


def floor_run(command):
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        names = {os.path.basename(command[0])[:15]: "app", "WebKitWebProces": "web", "WebKitNetworkPr": "network"}
        return memory_of(proc.pid, names)
    finally:
        stop(proc)


def read_steps(line):
    """The start-up timeline the app logs at the end of its first render line:
    {step: ms after launch} (empty if the line has none)."""
    match = STEPS.search(line)
    steps = {}
    for part in match.group(1).split(", ") if match else []:
        name, _, ms = part.rpartition(" ")
        steps[name] = float(ms)
    return steps


def wait_line(proc, pattern, started, what):
    """The first line of the app's stderr matching `pattern` (60 s at most)."""
    deadline = started + 60
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            sys.exit(f"app_startup: no {what} line (exit status {proc.poll()})")
        ready, _, _ = select.select([proc.stderr], [], [], left)
        if ready:
            line = proc.stderr.readline()
            match = pattern.search(line)
            if match:
                return match, line


def settled_memory(root, bound=20):
    """The memory of the app and its helpers once only the app is left and
    its resident set stopped shrinking (the app releases the closed window's
    pages a moment after the window goes)."""
    deadline = time.monotonic() + bound
    last = None
    while time.monotonic() < deadline:
        time.sleep(1)
        memory = memory_of(root, NAMES)
        alone = not any(k.startswith(("web_", "network_")) for k in memory)
        if alone and last is not None and abs(memory.get("app_rss", 0) - last) < 0.5:
            return memory
        last = memory.get("app_rss", 0) if alone else None
    return memory_of(root, NAMES)


def close_and_reopen(app, proc, env, expected):
    """Closes the window as a window manager would, reads the memory of the
    closed app, then opens the window again with a second launch (what a
    desktop launcher does) and times it until the accounts list is painted."""
    if subprocess.run([sys.executable, WM_CLOSE, str(proc.pid)], stdout=subprocess.DEVNULL).returncode:
        sys.exit("app_startup: found no window of the app to close")
    closed = settled_memory(proc.pid)
    started = time.monotonic()
    subprocess.run([app], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    match, _ = wait_line(proc, REOPEN, started, "window reopened")
    if int(match.group(1)) != expected:
        sys.exit(f"app_startup: the re-opened window rendered {match.group(1)} accounts, expected {expected}")
    return {
        "reopen_from_launch_ms": (time.monotonic() - started) * 1000,
        "reopen_in_app_ms": int(match.group(2)),
        **{f"closed_{k}": v for k, v in closed.items()},
    }


def hidden_run(app):
    """The app started at login (--hidden): tray only, no window yet."""
    proc = subprocess.Popen([app, "--hidden"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        return {f"hidden_{k}": v for k, v in settled_memory(proc.pid).items()}
    finally:
        stop(proc)


def one_run(app, expected):
    env = dict(os.environ, MCPAUTH_LOG="info")
    started = time.monotonic()
    proc = subprocess.Popen([app], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        match, line = wait_line(proc, LINE, started, "first render")
        from_exec = (time.monotonic() - started) * 1000
        accounts, from_main = int(match.group(1)), int(match.group(2))
        steps = read_steps(line)
        if accounts != expected:
            sys.exit(f"app_startup: rendered {accounts} accounts, expected {expected}")
        time.sleep(1)
        memory = memory_of(proc.pid, NAMES)
        reopened = close_and_reopen(app, proc, env, expected)
        return {"from_exec_ms": from_exec, "from_main_ms": from_main, "steps": steps, **memory, **reopened}
    finally:
        stop(proc)


def main():
    if sys.argv[1] == "--floor":
        runs, command = int(sys.argv[2]), sys.argv[3:]
        print(json.dumps({"command": command, "runs": [floor_run(command) for _ in range(runs)]}))
        return
    app, expected, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # The hidden start after the app of the run ended: single-instance would
    # hand a second launch to it.
    results = [{**one_run(app, expected), **hidden_run(app)} for _ in range(runs)]
    print(json.dumps({"accounts": expected, "runs": results}))


if __name__ == "__main__":
    main()
