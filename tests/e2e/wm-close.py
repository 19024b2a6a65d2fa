#!/usr/bin/env python3
"""Closes a program's top-level windows the way a window manager's close
button does: a WM_DELETE_WINDOW client message (ICCCM 4.2.8.1), which GTK
turns into the window's delete-event. Xvfb has no window manager, so the e2e
tests (and bench/app_startup.py) send it themselves.

    wm-close.py PID     closes every mapped window whose _NET_WM_PID is PID;
                        prints how many, exits 1 when none was found

Uses libX11 through ctypes (no Python packages); DISPLAY must be set.

Other programs' windows come and go while the list is read (Chromium's, a
notification's, a test's own): a window gone between XQueryTree and the next
request is skipped. Xlib's default error handler would print "BadWindow" and
end this process instead, which made loaded test runs fail at random.
"""

import ctypes
import ctypes.util
import sys


class XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class XEvent(ctypes.Union):
    _fields_ = [("xclient", XClientMessageEvent), ("pad", ctypes.c_long * 24)]


class XWindowAttributes(ctypes.Structure):
    # Only map_state is read; the rest is laid out to reach it.
    _fields_ = [
        ("x", ctypes.c_int), ("y", ctypes.c_int),
        ("width", ctypes.c_int), ("height", ctypes.c_int),
        ("border_width", ctypes.c_int), ("depth", ctypes.c_int),
        ("visual", ctypes.c_void_p), ("root", ctypes.c_ulong),
        ("class", ctypes.c_int), ("bit_gravity", ctypes.c_int),
        ("win_gravity", ctypes.c_int), ("backing_store", ctypes.c_int),
        ("backing_planes", ctypes.c_ulong), ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int), ("colormap", ctypes.c_ulong),
        ("map_installed", ctypes.c_int), ("map_state", ctypes.c_int),
        ("all_event_masks", ctypes.c_long), ("your_event_mask", ctypes.c_long),
        ("do_not_propagate_mask", ctypes.c_long), ("override_redirect", ctypes.c_int),
        ("screen", ctypes.c_void_p),
    ]


# int handler(Display *, XErrorEvent *): 0, and the request's caller sees the failure.
X_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
IGNORE_X_ERRORS = X_ERROR_HANDLER(lambda display, event: 0)

CLIENT_MESSAGE = 33
IS_VIEWABLE = 2
XA_CARDINAL = 6


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print("usage: wm-close.py PID", file=sys.stderr)
        return 2
    pid = int(sys.argv[1])
    x = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11") or "libX11.so.6")
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XDefaultRootWindow.restype = ctypes.c_ulong
    x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x.XInternAtom.restype = ctypes.c_ulong
    x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x.XQueryTree.argtypes = [
        ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
        ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
        ctypes.POINTER(ctypes.c_uint),
    ]
    x.XGetWindowProperty.argtypes = [
        ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_long, ctypes.c_long,
        ctypes.c_int, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
        ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_ulong),
        ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_void_p),
    ]
    x.XGetWindowAttributes.argtypes = [
        ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(XWindowAttributes),
    ]
    x.XSendEvent.argtypes = [
        ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent),
    ]
    x.XFree.argtypes = [ctypes.c_void_p]
    x.XFlush.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]

    # An error about a window that has gone is not ours to die of: the call
    # that caused it reports a failure status, and that window is skipped.
    x.XSetErrorHandler.restype = ctypes.c_void_p
    x.XSetErrorHandler.argtypes = [ctypes.c_void_p]
    x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x.XSetErrorHandler(ctypes.cast(IGNORE_X_ERRORS, ctypes.c_void_p))

    display = x.XOpenDisplay(None)
    if not display:
        print("wm-close.py: cannot open the X display (is DISPLAY set?)", file=sys.stderr)
        return 2
    net_wm_pid = x.XInternAtom(display, b"_NET_WM_PID", 0)
    protocols = x.XInternAtom(display, b"WM_PROTOCOLS", 0)
    delete = x.XInternAtom(display, b"WM_DELETE_WINDOW", 0)

    def pid_of(window):
        kind, fmt = ctypes.c_ulong(), ctypes.c_int()
        count, after, data = ctypes.c_ulong(), ctypes.c_ulong(), ctypes.c_void_p()
        status = x.XGetWindowProperty(
            display, window, net_wm_pid, 0, 1, 0, XA_CARDINAL,
            ctypes.byref(kind), ctypes.byref(fmt), ctypes.byref(count),
            ctypes.byref(after), ctypes.byref(data),
        )
        if status != 0 or not data.value:
            return None
        value = ctypes.cast(data, ctypes.POINTER(ctypes.c_ulong))[0] if count.value else None
        x.XFree(data)
        return value

    root = x.XDefaultRootWindow(display)
    parent, root_ret = ctypes.c_ulong(), ctypes.c_ulong()
    children, n = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
    x.XQueryTree(display, root, ctypes.byref(root_ret), ctypes.byref(parent),
                 ctypes.byref(children), ctypes.byref(n))
    windows = [children[i] for i in range(n.value)]
    if children:
        x.XFree(children)
    closed = 0
    for window in windows:
        attrs = XWindowAttributes()
        if not x.XGetWindowAttributes(display, window, ctypes.byref(attrs)):
            continue  # gone since the list was read
        if attrs.map_state != IS_VIEWABLE or pid_of(window) != pid:
            continue
        event = XEvent()
        event.xclient.type = CLIENT_MESSAGE
        event.xclient.window = window
        event.xclient.message_type = protocols
        event.xclient.format = 32
        event.xclient.data[0] = delete
        event.xclient.data[1] = 0  # CurrentTime
        if x.XSendEvent(display, window, 0, 0, ctypes.byref(event)):
            closed += 1
    # Errors of the events just sent arrive here, and are ignored like the rest.
    x.XSync(display, 0)
    x.XCloseDisplay(display)
    print(closed)
    return 0 if closed else 1


if __name__ == "__main__":
    sys.exit(main())
