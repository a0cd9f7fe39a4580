"""Plugin discovery through the `cxr_lens.plugins` entry-point group, with the example plugin."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.desktop.conftest import open_and_wait  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "example_plugin"


@pytest.fixture
def installed_plugins(tmp_path, monkeypatch):
    """Make the example plugin (and a broken one) discoverable, as `pip install` would."""
    dist = tmp_path / "site" / "cxr_lens_example_plugin-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cxr-lens-example-plugin\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(
        "[cxr_lens.plugins]\nimage_stats = cxr_lens_example_plugin:ImageStatsPlugin\n"
        "broken = cxr_lens_no_such_module:Plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    yield
    sys.modules.pop("cxr_lens_example_plugin", None)


def test_discovery_loads_good_plugins_and_reports_broken_ones(installed_plugins):
    from desktop.plugins import discover_plugins

    plugins, failures = discover_plugins()
    assert [p.name for p in plugins] == ["image_stats"]
    assert [f.name for f in failures] == ["broken"]
    assert "cxr_lens_no_such_module" in failures[0].reason


def test_example_plugin_panel_follows_the_image(installed_plugins, window, rg1_path):
    from desktop.plugins import discover_plugins

    plugins, _ = discover_plugins()
    assert window.add_plugin(plugins[0])
    panel = window.plugin_docks["image_stats"].widget()
    open_and_wait(window, rg1_path)
    values = window.image_view.data.values
    assert panel.stats["max"] == pytest.approx(float(values.max()))
    assert panel.stats["mean"] == pytest.approx(float(values.mean()), rel=1e-4)


def test_a_plugin_that_fails_to_build_is_reported(window):
    class Faulty:
        name, title = "faulty", "Faulty"

        def create_panel(self, context):
            raise RuntimeError("no licence file")

    assert window.add_plugin(Faulty()) is False
    title, text = window.last_error
    assert "faulty" in title and "no licence file" in text
    assert "faulty" not in window.plugin_docks
