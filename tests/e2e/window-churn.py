#!/usr/bin/env python3
"""Makes and destroys top-level X windows as fast as it can for SECONDS, as
other programs do on a busy desktop (a browser's popups, notifications), so
that a test can show a tool that lists windows survives one vanishing under
it (harness.test.mjs, wm-close.py).

    window-churn.py SECONDS

Uses libX11 through ctypes; DISPLAY must be set. Prints how many windows it
made.
"""

import ctypes
import ctypes.util
import sys
import time


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) == 2 else 5.0
    x = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11") or "libX11.so.6")
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XDefaultRootWindow.restype = ctypes.c_ulong
    x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x.XCreateSimpleWindow.restype = ctypes.c_ulong
    x.XCreateSimpleWindow.argtypes = [
        ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_ulong,
    ]
    x.XMapWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    x.XDestroyWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    x.XFlush.argtypes = [ctypes.c_void_p]
    display = x.XOpenDisplay(None)
    if not display:
        print("window-churn.py: cannot open the X display", file=sys.stderr)
        return 2
    root = x.XDefaultRootWindow(display)
    made = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        windows = [x.XCreateSimpleWindow(display, root, 0, 0, 10, 10, 0, 0, 0) for _ in range(20)]
        for w in windows:
            x.XMapWindow(display, w)
        x.XFlush(display)
        for w in windows:
            x.XDestroyWindow(display, w)
        x.XFlush(display)
        made += len(windows)
    print(made)
    return 0


if __name__ == "__main__":
    sys.exit(main())
