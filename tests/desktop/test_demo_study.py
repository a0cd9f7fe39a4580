"""The viewer on the bundled synthetic demo studies (resources/demo): reading and AI."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6 import QtCore  # noqa: E402

from tests.desktop.conftest import engine_panel, open_and_wait  # noqa: E402
from tests.desktop.test_reading import _drag  # noqa: E402


@pytest.fixture(scope="module")
def demo_dir():
    import engine

    folder = engine.demo_studies_dir()
    if not (folder / "demo02_effusion").is_dir():
        pytest.skip("the demo studies are not in resources/demo (python -m training.synth.demo)")
    return folder


def test_demo_folder_reads_every_study_and_measures_in_mm(window, demo_dir):
    open_and_wait(window, demo_dir)
    assert window.browser.topLevelItemCount() == 4
    assert len(window.images) == 6  # two studies with a lateral view
    view = window.image_view
    spacing = view.data.pixel_spacing_mm
    assert spacing is not None and "mm/px" in view._corners["bl"].text()
    before = view.window
    centre = QtCore.QPointF(view.graphics.viewport().rect().center())
    _drag(window, QtCore.Qt.RightButton, centre, centre + QtCore.QPointF(-60, 30))
    assert view.window.width < before.width
    window.actions_by_key["measure"].setChecked(True)
    start = centre + QtCore.QPointF(-40, -80)
    _drag(window, QtCore.Qt.LeftButton, start, start + QtCore.QPointF(0, 150))
    length, unit = view.measurements[-1].length()
    a, b = view.measurements[-1].points()
    assert unit == "mm"
    assert length == pytest.approx(np.hypot((b.x() - a.x()) * spacing[1], (b.y() - a.y()) * spacing[0]))
    assert length == pytest.approx(150 / view.zoom_factor() * spacing[0], rel=0.1)
    assert "mm" in window.statusBar().currentMessage()


def test_demo_effusion_frontal_and_lateral_through_the_gate(ai_window, demo_dir):
    study = demo_dir / "demo02_effusion"
    open_and_wait(ai_window, study)
    panel = engine_panel(ai_window)
    assert ai_window.current_image.view_position == "PA"
    assert panel.findings.tree.topLevelItemCount() == len(panel.predictor.labels)
    ai_window.actions_by_key["next_image"].trigger()
    assert ai_window.runner.wait_idle(60)
    assert ai_window.current_image.view_position == "LL"
    gate = panel.image_prediction.gate
    assert any(issue.code == "lateral" for issue in gate.issues)
    assert "lateral" in panel.findings.banner.text().lower()
    assert panel.findings.banner.property("level") in ("warn", "refuse")


def test_demo_report_loads_and_fuses(ai_window, demo_dir):
    study = demo_dir / "demo02_effusion"
    open_and_wait(ai_window, study / "demo02_effusion_frontal.dcm")
    panel = engine_panel(ai_window)
    panel.report.auto.setChecked(False)
    panel.report.load_file(study / "report.txt")
    assert ai_window.runner.wait_idle(60)
    assert panel.report_labels.labels["Effusion"] == "positive"
    assert panel.report_labels.labels["Cardiomegaly"] == "positive"
    assert panel.findings.prediction.mode == "joint"
