"""Heatmap overlay and similar cases in the viewer, on the tiny pack with a real index."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6 import QtWidgets  # noqa: E402

from tests.desktop.conftest import engine_panel, open_and_wait  # noqa: E402


@pytest.mark.parametrize("method", ["gradcam", "ig"])
def test_heatmap_overlay_on_the_image_grid(full_window, rg1_path, method):
    open_and_wait(full_window, rg1_path)
    panel = engine_panel(full_window)
    heat = panel.heatmap
    heat.select_label("Effusion")
    heat.method_box.setCurrentIndex(heat.method_box.findData(method))
    heat.run()
    assert full_window.runner.wait_idle(120)
    assert heat.heatmap is not None and heat.heatmap.method == method and heat.heatmap.label == "Effusion"
    overlay = full_window.image_view.overlay_item
    assert overlay.isVisible()
    assert overlay.image.shape == full_window.image_view.data.values.shape + (4,)
    assert heat.progress.value() == 100
    # alpha follows the map: transparent where the map is low, opaque-ish where it is high
    values = heat.heatmap.values
    alpha = overlay.image[..., 3]
    assert alpha[values < 0.1].max() == 0
    assert alpha[values > 0.9].min() > 200
    heat.opacity.setValue(25)
    assert overlay.opacity() == pytest.approx(0.25)
    full_window.actions_by_key["toggle_overlay"].trigger()
    assert not overlay.isVisible()


def test_heatmap_cancel_stops_integrated_gradients(full_window, rg1_path):
    open_and_wait(full_window, rg1_path)
    heat = engine_panel(full_window).heatmap
    heat.method_box.setCurrentIndex(heat.method_box.findData("ig"))
    heat.run()
    heat.cancel()
    assert full_window.runner.wait_idle(120)
    assert heat.heatmap is None
    assert not full_window.image_view.overlay_item.isVisible()
    assert heat.run_button.isEnabled()


def test_report_words_coloured_by_attribution(full_window, rg1_path):
    open_and_wait(full_window, rg1_path)
    panel = engine_panel(full_window)
    panel.report.auto.setChecked(False)
    panel.report.set_text("FINDINGS: Large left pleural effusion. Heart size is normal.")
    panel.report.request_analysis()
    assert full_window.runner.wait_idle(60)
    evidence = len(panel.report.editor.extraSelections())
    panel.heatmap.select_label("Effusion")
    panel.heatmap.method_box.setCurrentIndex(panel.heatmap.method_box.findData("gradcam"))
    panel.heatmap.run()
    assert full_window.runner.wait_idle(120)
    tokens = panel.heatmap.heatmap.tokens
    assert panel.heatmap.heatmap.mode == "joint" and tokens
    coloured = [t for t in tokens if abs(t.score) >= 0.15]
    assert len(panel.report.editor.extraSelections()) == evidence + len(coloured)
    assert "Report words" in panel.heatmap.words.text()


def test_similar_cases_listed_and_opened_beside(full_window, rg1_path):
    open_and_wait(full_window, rg1_path)
    similar = engine_panel(full_window).similar
    assert similar.search is not None
    assert full_window.runner.wait_idle(60)
    assert similar.result is not None  # ran by itself after the prediction
    assert similar.list.count() == len(similar.result.cases) == 5
    sims = [case.similarity for case in similar.result.cases]
    assert sims == sorted(sims, reverse=True)
    item = similar.list.item(0)
    similar._open_case(item)
    assert full_window.runner.wait_idle(30)
    assert full_window.compare_pane.isVisible()
    compare = full_window.compare_view.data.values
    assert np.array_equal(compare, similar.result.cases[0].thumbnail.astype(np.float32))
    # zoom follows the main image, scaled to the other image's size
    full_window.image_view.zoom(2.0)
    QtWidgets.QApplication.processEvents()
    (mx0, mx1), (my0, my1) = full_window.image_view.view.viewRange()
    (cx0, cx1), (cy0, cy1) = full_window.compare_view.view.viewRange()
    scale = compare.shape[1] / full_window.image_view.data.values.shape[1]
    assert full_window.compare_view.width() == pytest.approx(full_window.image_view.width(), abs=20)
    assert (cx1 - cx0) == pytest.approx((mx1 - mx0) * scale, rel=0.05)
    assert (cx0 + cx1) / 2 == pytest.approx((mx0 + mx1) / 2 * scale, rel=0.05)
    full_window.actions_by_key["close_beside"].trigger()
    assert not full_window.compare_pane.isVisible()


def test_similar_text_mode_needs_a_report(full_window, rg1_path):
    open_and_wait(full_window, rg1_path)
    similar = engine_panel(full_window).similar
    similar.mode_box.setCurrentText("text")
    similar.run()
    assert "needs a report" in similar.caption.text()


def test_an_all_zero_map_is_explained_not_silently_empty(full_window, rg1_path):
    import engine

    open_and_wait(full_window, rg1_path)
    heat = engine_panel(full_window).heatmap
    empty = engine.Heatmap(np.zeros((4, 4), np.float32), "gradcam", "Mass", "image", 0.2, {"total": 5.0})
    # what engine.explain.heatmap returns when the method finds no positive evidence (values all zero)
    heat._on_result(full_window.current_image, None, empty, np.zeros((4, 4, 4), np.uint8))
    assert "no region" in heat.info.text()
