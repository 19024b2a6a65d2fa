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
Prints one JSON line.

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


def one_run(app, expected):
    env = dict(os.environ, MCPAUTH_LOG="info")
    started = time.monotonic()
    proc = subprocess.Popen([app], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = started + 60
        match = None
        while match is None:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                sys.exit(f"app_startup: no first render line (exit status {proc.poll()})")
            ready, _, _ = select.select([proc.stderr], [], [], left)
            if ready:
                line = proc.stderr.readline()
                match = LINE.search(line)
        from_exec = (time.monotonic() - started) * 1000
        accounts, from_main = int(match.group(1)), int(match.group(2))
        steps = read_steps(line)
        if accounts != expected:
            sys.exit(f"app_startup: rendered {accounts} accounts, expected {expected}")
        time.sleep(1)
        memory = memory_of(proc.pid, {"mcpauth-app": "app", "WebKitWebProces": "web", "WebKitNetworkPr": "network"})
        return {"from_exec_ms": from_exec, "from_main_ms": from_main, "steps": steps, **memory}
    finally:
        stop(proc)


def main():
    if sys.argv[1] == "--floor":
        runs, command = int(sys.argv[2]), sys.argv[3:]
        print(json.dumps({"command": command, "runs": [floor_run(command) for _ in range(runs)]}))
        return
    app, expected, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    results = [one_run(app, expected) for _ in range(runs)]
    print(json.dumps({"accounts": expected, "runs": results}))


if __name__ == "__main__":
    main()
