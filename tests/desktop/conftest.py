"""Desktop tests run headless (Qt offscreen platform) and are skipped when PySide6 is absent."""
from __future__ import annotations

import importlib.util
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

import pytest  # noqa: E402

if importlib.util.find_spec("PySide6") is None or importlib.util.find_spec("pytestqt") is None:
    collect_ignore_glob = ["test_*.py"]  # the engine tests must pass without the GUI stack


@pytest.fixture
def settings_file(tmp_path, monkeypatch):
    """Point the viewer at a throw-away settings file."""
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("CXR_LENS_SETTINGS", str(path))
    return path


@pytest.fixture
def window(qtbot, settings_file):
    """A main window without plugins (reading part only), shown offscreen."""
    from desktop.app import build_window

    _, win = build_window(fresh=True, plugins=False)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    yield win
    win.runner.wait_idle(30)


def open_and_wait(window, path, timeout_s: float = 30.0) -> None:
    """Open ``path`` in ``window`` and wait until every worker has delivered its result."""
    window.open_path(path)
    assert window.runner.wait_idle(timeout_s), "loading did not finish in time"


def _engine_window(qtbot, pack):
    """Yield a shown main window whose engine plugin has loaded ``pack``; wait for its work at the end."""
    from desktop.app import build_window

    _, win = build_window(fresh=True, pack=pack)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    engine_panel(win).start_pending_load()  # do not wait for the start-up delay
    assert win.runner.wait_idle(120), "the pack did not load in time"
    yield win
    win.runner.wait_idle(60)


@pytest.fixture
def ai_window(qtbot, settings_file, tiny_pack_dir):
    """A main window with the engine plugin on the tiny pack (loaded before the test starts)."""
    yield from _engine_window(qtbot, tiny_pack_dir)


def engine_panel(window):
    """The built-in engine plugin's panel."""
    return window.plugin_docks["engine"].widget()


@pytest.fixture(scope="session")
def indexed_pack(tiny_pack_dir, tmp_path_factory):
    """A copy of the tiny pack with a similar-case index built by the real `training index` step."""
    import shutil
    from pathlib import Path

    from tests.engine.test_similar import write_paired_set
    from training.index import build_pack_index

    root = tmp_path_factory.mktemp("similar-desktop")
    pack = Path(shutil.copytree(tiny_pack_dir, root / "pack"))
    build_pack_index(pack, write_paired_set(root / "paired"), root / "cache", batch_size=4)
    return pack


@pytest.fixture
def full_window(qtbot, settings_file, indexed_pack):
    """A main window with the engine plugin on the indexed tiny pack (archive open)."""
    yield from _engine_window(qtbot, indexed_pack)
