"""The reading part of the viewer on real files: open, window/level, zoom, measure, tags, frames."""
from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from tests.desktop.conftest import open_and_wait  # noqa: E402


def _drag(window, button, start, end, steps: int = 6) -> None:
    """Press, move and release ``button`` on the image view's viewport (widget coordinates)."""
    viewport = window.image_view.graphics.viewport()

    def send(kind, pos, buttons, which):
        event = QtGui.QMouseEvent(kind, QtCore.QPointF(pos), viewport.mapToGlobal(QtCore.QPointF(pos)),
                                  which, buttons, QtCore.Qt.NoModifier)
        QtWidgets.QApplication.sendEvent(viewport, event)

    send(QtCore.QEvent.MouseButtonPress, start, button, button)
    for i in range(1, steps + 1):
        time.sleep(0.012)  # pyqtgraph drops moves closer than 10 ms apart (mouseRateLimit)
        point = start + (end - start) * (i / steps)
        send(QtCore.QEvent.MouseMove, point, button, QtCore.Qt.NoButton)
    send(QtCore.QEvent.MouseButtonRelease, end, QtCore.Qt.NoButton, button)
    QtWidgets.QApplication.processEvents()


def test_open_rg1_shows_modality_values_with_file_window(window, rg1_path):
    open_and_wait(window, rg1_path)
    view = window.image_view
    assert window.current_image is not None and window.current_image.path == rg1_path
    assert view.data.values.shape == (1955, 1841)
    assert view.data.monochrome1 is True
    # MONOCHROME1: the grey ramp is reversed so that high stored values are dark
    assert view.image_item.lut[0] == 255 and view.image_item.lut[-1] == 0
    file_window = window.current_image.voi.windows[0]
    assert view.window.center == pytest.approx(file_window.center)
    assert view.window.width == pytest.approx(file_window.width)
    assert window.browser.topLevelItemCount() == 1
    assert "no pixel spacing" in view._corners["bl"].text()
    assert not window.browser.topLevelItem(0).child(0).icon(0).isNull()


def test_right_drag_changes_window_and_presets_differ(window, rg1_path):
    open_and_wait(window, rg1_path)
    view = window.image_view
    before = view.window
    centre = QtCore.QPointF(view.graphics.viewport().rect().center())
    _drag(window, QtCore.Qt.RightButton, centre, centre + QtCore.QPointF(80, -40))
    after = view.window
    assert after.width > before.width  # dragging right widens the window
    assert after.center != pytest.approx(before.center)
    assert tuple(view.image_item.levels) == pytest.approx(after.levels)
    window.apply_preset("lung")
    lung = view.window
    window.apply_preset("bone")
    assert view.window != lung
    window.apply_preset("default")
    assert view.window.center == pytest.approx(window.current_image.voi.windows[0].center)


def test_invert_toggles_the_lookup_table(window, rg1_path):
    open_and_wait(window, rg1_path)
    window.actions_by_key["invert"].setChecked(True)
    assert window.image_view.image_item.lut[0] == 0  # MONOCHROME1 inverted back to dark-low
    window.actions_by_key["invert"].setChecked(False)
    assert window.image_view.image_item.lut[0] == 255


def test_measure_by_drag_without_spacing_reports_pixels(window, rg1_path):
    open_and_wait(window, rg1_path)
    view = window.image_view
    window.actions_by_key["measure"].setChecked(True)
    start = QtCore.QPointF(view.graphics.viewport().rect().center())
    _drag(window, QtCore.Qt.LeftButton, start, start + QtCore.QPointF(120, 0))
    assert len(view.measurements) == 1
    length, unit = view.measurements[0].length()
    assert unit == "px"
    # 120 screen pixels at the current zoom, in image pixels (the drag threshold eats a few)
    assert length == pytest.approx(120 / view.zoom_factor(), rel=0.1)
    assert "no pixel spacing" in view.measurements[0].label.textItem.toPlainText()
    assert "pixels" in window.statusBar().currentMessage()
    window.clear_measurements()
    assert view.measurements == []


def test_measure_in_mm_with_pixel_spacing(window, pydicom_data_dir):
    open_and_wait(window, pydicom_data_dir / "693_UNCR.dcm")  # CT, 0.478516 mm pixels
    view = window.image_view
    spacing = view.data.pixel_spacing_mm
    assert spacing == pytest.approx((0.478516, 0.478516))
    assert view.data.hounsfield
    window.apply_preset("lung")
    assert (view.window.center, view.window.width) == (-600.0, 1500.0)
    measurement = view.add_measurement(QtCore.QPointF(10, 20), QtCore.QPointF(40, 60))
    length, unit = measurement.length()
    assert unit == "mm"
    assert length == pytest.approx(np.hypot(30 * spacing[1], 40 * spacing[0]), rel=1e-6)


def test_rotation_and_flip_keep_pixel_readout_on_the_original_grid(window, rg1_path):
    open_and_wait(window, rg1_path)
    view = window.image_view
    target = QtCore.QPointF(300.5, 700.5)  # column 300, row 700
    for action in ("rotate_cw", "flip_h", "flip_v", "rotate_ccw"):
        window.actions_by_key[action].trigger()
        scene = view.image_item.mapToScene(target)
        assert view.pixel_at(scene) == (700, 300)
        assert f"value {view.data.values[700, 300]:.1f}" in view.readout(700, 300)
    assert view.rotation == 0 or view.rotation % 90 == 0


def test_zoom_fit_and_actual_size(window, rg1_path):
    open_and_wait(window, rg1_path)
    view = window.image_view
    fitted = view.zoom_factor()
    assert fitted < 1.0  # a 1955-row image does not fit 1:1 into an 800-pixel window
    window.actions_by_key["actual"].trigger()
    assert view.zoom_factor() == pytest.approx(1.0, rel=0.02)
    window.actions_by_key["zoom_in"].trigger()
    assert view.zoom_factor() == pytest.approx(1.25, rel=0.02)
    window.actions_by_key["fit"].trigger()
    assert view.zoom_factor() == pytest.approx(fitted, rel=0.02)


def test_tag_viewer_search(window, rg1_path):
    open_and_wait(window, rg1_path)
    window.show_tags()
    assert window.runner.wait_idle(10)
    viewer = window.tag_viewer
    total = viewer.table.rowCount()
    assert total > 20
    shown = viewer.filter("PatientID")
    assert 1 <= shown < total
    visible = [viewer.table.item(r, 1).text() for r in range(total) if not viewer.table.isRowHidden(r)]
    assert any("PatientID" in keyword for keyword in visible)
    viewer.close()


def test_multiframe_frames_step(window, pydicom_data_dir):
    path = pydicom_data_dir / "emri_small.dcm"
    open_and_wait(window, path)
    assert window.current_image.number_of_frames > 1
    first = window.image_view.data.values.copy()
    window.actions_by_key["next_frame"].trigger()
    assert window.runner.wait_idle(10)
    assert window.current_frame == 1
    assert window.frame_action.isVisible()
    assert not np.array_equal(first, window.image_view.data.values)


def test_folder_opens_several_studies_and_steps_images(window, pydicom_data_dir, tmp_path):
    for name in ("RG1_UNCR.dcm", "emri_small.dcm", "693_UNCR.dcm", "SC_rgb.dcm"):
        (tmp_path / name).write_bytes((pydicom_data_dir / name).read_bytes())
    (tmp_path / "notes.txt").write_text("not an image")
    open_and_wait(window, tmp_path)
    assert len(window.images) == 4
    seen = {window.current_image.path.name}
    for _ in range(3):
        window.actions_by_key["next_image"].trigger()
        assert window.runner.wait_idle(10)
        seen.add(window.current_image.path.name)
    assert len(seen) == 4  # including the colour image, shown as RGB
    assert window.image_view.data.is_colour == (window.current_image.path.name == "SC_rgb.dcm")
    assert str(tmp_path) in window.recent_paths()


def test_unreadable_file_is_reported_not_raised(window, tmp_path):
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"garbage" * 10)
    open_and_wait(window, bad)
    assert window.current_image is None
    title, text = window.last_error
    assert "broken.dcm" in title + text


def test_drop_opens_the_file(window, rg1_path):
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(rg1_path))])
    event = QtGui.QDropEvent(QtCore.QPointF(10, 10), QtCore.Qt.CopyAction, mime, QtCore.Qt.LeftButton,
                             QtCore.Qt.NoModifier)
    window.dropEvent(event)
    assert window.runner.wait_idle(30)
    assert window.current_image is not None and window.current_image.path == rg1_path


def test_help_lists_every_shortcut(window):
    from desktop.widgets.help_dialog import HelpDialog

    dialog = HelpDialog(list(window.actions_by_key.values()), window)
    texts = [dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())]
    assert "Measure distance" in texts and "Window: Lung" in texts
    assert any("Right drag" == dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount()))
    dialog.close()


def test_dicomdir_opens_its_referenced_images(window, make_dicomdir):
    open_and_wait(window, make_dicomdir(("RG1_UNCR.dcm", "693_UNCR.dcm")))
    assert len(window.images) == 2
    assert {image.modality for image in window.images} == {"CR", "CT"}
    assert window.current_image is not None


def test_undecodable_pixels_are_reported_with_the_file_name(window, pydicom_data_dir):
    path = pydicom_data_dir / "emri_small_jpeg_2k_lossless_too_short.dcm"
    open_and_wait(window, path)
    title, text = window.last_error
    assert path.name in title + text
    assert window.current_image is None or window.current_image.path != path
