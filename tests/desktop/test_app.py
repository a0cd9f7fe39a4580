"""Start-up, settings persistence, --fresh and `cxr-lens view PATH --screenshot`."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.desktop.conftest import open_and_wait  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_settings_persist_and_fresh_clears(qtbot, settings_file, rg1_path):
    from desktop.app import build_window

    _, first = build_window(fresh=True, plugins=False)
    qtbot.addWidget(first)
    open_and_wait(first, rg1_path)
    first.actions_by_key["invert"].setChecked(True)
    first.close()
    _, second = build_window(plugins=False)
    qtbot.addWidget(second)
    assert str(rg1_path) in second.recent_paths()
    assert second.actions_by_key["invert"].isChecked()
    second.close()
    _, third = build_window(fresh=True, plugins=False)
    qtbot.addWidget(third)
    assert third.recent_paths() == []
    assert not third.actions_by_key["invert"].isChecked()


def _cli(*args, settings: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CXR_LENS_SETTINGS=str(settings),
               PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "cxr_lens", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_view_screenshot_command(tmp_path, rg1_path):
    out = tmp_path / "shot.png"
    done = _cli("view", str(rg1_path), "--screenshot", str(out), "--fresh", settings=tmp_path / "s.ini")
    assert done.returncode == 0, done.stderr
    from PySide6 import QtGui

    image = QtGui.QImage(str(out))
    assert image.width() >= 1200 and image.height() >= 800
    # the film is on screen: the middle of the window is not the empty dark background
    centre = QtGui.QColor(image.pixel(image.width() // 2, image.height() // 2))
    assert centre.lightness() > 60


def test_view_screenshot_of_missing_file_exits_2(tmp_path):
    done = _cli(str(tmp_path / "nope.dcm"), "--screenshot", str(tmp_path / "x.png"), settings=tmp_path / "s.ini")
    assert done.returncode == 2
    assert "nope.dcm" in done.stderr


def test_window_start_imports_no_heavy_engine_dependencies(tmp_path):
    code = ("import sys; from desktop.app import build_window; app, w = build_window(fresh=True); "
            "print(sorted(m for m in ('torch', 'timm', 'transformers', 'pydicom', 'spacy') if m in sys.modules))")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CXR_LENS_SETTINGS=str(tmp_path / "s.ini"),
               PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
