"""Without a display the viewer says what is missing and exits 2 instead of Qt's abort (134)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from desktop.display_check import missing_display, missing_libraries, x_server_reachable

ROOT = Path(__file__).resolve().parents[2]


def test_view_without_any_display_exits_2_with_what_to_do(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    demo = next((ROOT / "resources" / "demo").rglob("*.dcm"))
    result = subprocess.run([sys.executable, "-m", "cxr_lens", "view", str(demo)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "no display: neither DISPLAY nor WAYLAND_DISPLAY is set" in result.stderr
    assert "xvfb-run" in result.stderr and "QT_QPA_PLATFORM=offscreen" in result.stderr
    assert "could not load the Qt platform plugin" not in result.stderr


def test_headless_platforms_and_set_displays_pass():
    assert missing_display({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert missing_display({"QT_QPA_PLATFORM": "minimal;xcb"}) is None
    assert missing_display({"WAYLAND_DISPLAY": "wayland-0"}) is None
    assert missing_display({"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"}) is None


def test_each_missing_display_is_named():
    assert "WAYLAND_DISPLAY is not set" in missing_display({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"})
    assert missing_display({"QT_QPA_PLATFORM": "xcb"}).startswith("no display")
    assert missing_display({}).startswith("no display")


def test_libraries_that_do_not_load_are_named_by_package():
    assert missing_libraries({"libc.so.6": "libc6", "libcxr-lens-nowhere.so.9": "cxr-lens-nowhere"}) == [
        "cxr-lens-nowhere"]


def test_a_display_without_an_x_server_is_not_reachable(tmp_path):
    assert not x_server_reachable(":4095")  # nothing listens there (no /tmp/.X11-unix/X4095)
    assert not x_server_reachable(f"unix:{tmp_path}/no-socket")
