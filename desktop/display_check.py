"""Say what is missing before Qt would abort for want of a display, an X server or its xcb libraries.

Without a display Qt prints "could not load the Qt platform plugin" and aborts the process (exit
code 134); :func:`missing_display` finds the same causes first so the viewer can print what to do
and exit with code 2.
"""
from __future__ import annotations

import ctypes
from collections.abc import Mapping

# Qt platforms that draw without a windowing system.
HEADLESS_PLATFORMS = ("offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay")

# System libraries Qt 6.11's xcb platform plugin loads, and the Debian/Ubuntu package of each
# (the frozen build relies on the desktop's X libraries, as every X11 application does).
XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def missing_libraries(names: Mapping[str, str] = XCB_LIBRARIES) -> list[str]:
    """Return the packages of the libraries in ``names`` (soname -> package) that cannot be loaded."""
    missing = []
    for soname, package in names.items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(package)
    return missing


def x_server_reachable(display: str) -> bool:
    """Whether an X server accepts a connection at ``display`` (e.g. ``:0``), asked through libxcb."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return False
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)  # never NULL: an error object on failure
    try:
        return xcb.xcb_connection_has_error(connection) == 0
    finally:
        xcb.xcb_disconnect(connection)


def missing_display(env: Mapping[str, str]) -> str | None:
    """Return why Qt could not open a window under environment ``env``, or None when it can.

    Looks at ``QT_QPA_PLATFORM`` (its first entry), ``DISPLAY`` (X11, the xcb platform) and
    ``WAYLAND_DISPLAY``; for X11 it also checks that the xcb plugin's system libraries load and that
    the X server at ``DISPLAY`` accepts a connection.
    """
    platform = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if platform in HEADLESS_PLATFORMS:
        return None
    if platform == "wayland" or (not platform and env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY")):
        if env.get("WAYLAND_DISPLAY"):
            return None
        return ("QT_QPA_PLATFORM is wayland but WAYLAND_DISPLAY is not set — start the viewer inside "
                "a Wayland session")
    if platform not in ("", "xcb"):
        return None  # another platform the user chose knowingly; Qt reports its own problems
    if not env.get("DISPLAY"):
        return ("no display: neither DISPLAY nor WAYLAND_DISPLAY is set — start the viewer from a desktop "
                "session, under a virtual X server (`xvfb-run -a cxr-lens view …`), or render without "
                "a display: QT_QPA_PLATFORM=offscreen cxr-lens view PATH --screenshot OUT.png")
    missing = missing_libraries()
    if missing:
        return (f"DISPLAY is {env['DISPLAY']} but the X11 libraries Qt needs are missing — install them: "
                f"sudo apt-get install {' '.join(missing)}")
    if not x_server_reachable(env["DISPLAY"]):
        return (f"cannot open the X display {env['DISPLAY']} (no X server there, or it refused the "
                "connection) — check DISPLAY and xauth, or run under `xvfb-run -a`")
    return None
