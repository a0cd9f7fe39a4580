"""AI panels on the tiny random-weight pack: findings, gate, report fusion, consistency."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.desktop.conftest import engine_panel, open_and_wait  # noqa: E402


def test_pack_loads_only_after_the_first_image(qtbot, settings_file, tiny_pack_dir, rg1_path):
    from desktop.app import build_window

    _, window = build_window(fresh=True, pack=tiny_pack_dir)
    qtbot.addWidget(window)
    window.show()
    panel = engine_panel(window)
    assert not window.runner.busy and panel.predictor is None  # nothing loads before an image
    open_and_wait(window, rg1_path, timeout_s=120)
    assert panel.predictor is not None and panel.findings.prediction is not None


def test_pack_loads_and_is_shown_in_the_status_bar(ai_window):
    panel = engine_panel(ai_window)
    assert panel.predictor is not None
    assert "tiny-test-pack 0.0.1" in ai_window.pack_label.text()
    title, text = panel.about_section()
    assert "tiny-test-pack" in text and "Threshold" in text


def test_predict_on_rg1_lists_every_label_sorted(ai_window, rg1_path):
    open_and_wait(ai_window, rg1_path)
    panel = engine_panel(ai_window)
    prediction = panel.findings.prediction
    assert prediction is not None and prediction.gate.status != "refuse"
    tree = panel.findings.tree
    assert tree.topLevelItemCount() == len(panel.predictor.labels)
    shown = [float(tree.topLevelItem(i).text(2)) for i in range(tree.topLevelItemCount())]
    positives = [tree.topLevelItem(i).text(3) == "present" for i in range(tree.topLevelItemCount())]
    # positives first, then by probability
    assert positives == sorted(positives, reverse=True)
    for block in (True, False):
        values = [p for p, pos in zip(shown, positives) if pos == block]
        assert values == sorted(values, reverse=True)
    by_name = {f.name: f for f in prediction.findings}
    first = tree.topLevelItem(0).text(0)
    assert f"{by_name[first].probability:.2f}" == tree.topLevelItem(0).text(2)
    assert not panel.findings.banner.isHidden()


def test_gate_refusal_shows_no_findings(ai_window, pydicom_data_dir):
    open_and_wait(ai_window, pydicom_data_dir / "693_UNCR.dcm")  # a CT slice, not a radiograph
    panel = engine_panel(ai_window)
    assert panel.findings.prediction.gate.status == "refuse"
    assert panel.findings.tree.topLevelItemCount() == 0
    assert panel.findings.banner.property("level") == "refuse"
    assert "refused" in panel.findings.banner.text()


def test_report_fuses_highlights_and_checks_consistency(ai_window, rg1_path):
    open_and_wait(ai_window, rg1_path)
    panel = engine_panel(ai_window)
    text = "FINDINGS: No pleural effusion. Mild cardiomegaly. Possible left lower lobe atelectasis."
    panel.report.auto.setChecked(False)
    panel.report.set_text(text)
    panel.report.request_analysis()
    assert ai_window.runner.wait_idle(60)
    assert panel.findings.prediction.mode == "joint"
    assert panel.report_labels.labels["Effusion"] == "negative"
    assert panel.report_labels.labels["Cardiomegaly"] == "positive"
    spans = panel.report.editor.extraSelections()
    assert len(spans) == len(panel.report_labels.evidence) >= 3
    highlighted = {text[s.cursor.selectionStart():s.cursor.selectionEnd()].lower() for s in spans}
    assert any("effusion" in h for h in highlighted)
    # the consistency view agrees with the rule applied to the image-only prediction
    image = {f.name: f for f in panel.image_prediction.findings}
    expected = [n for n, f in image.items() if n != "No Finding"
                and (f.positive != (panel.report_labels.labels.get(n) == "positive"))]
    rows = [panel.report.consistency.item(i).text() for i in range(panel.report.consistency.count())]
    if expected:
        assert len(rows) == len(expected)
    else:
        assert rows == ["The draft and the image model agree on every label."]


def test_typing_in_the_report_does_not_trigger_viewer_shortcuts(ai_window, rg1_path, qtbot):
    from PySide6 import QtCore

    open_and_wait(ai_window, rg1_path)
    panel = engine_panel(ai_window)
    panel.report.auto.setChecked(False)
    editor = panel.report.editor
    editor.setFocus()
    ai_window.activateWindow()
    rotation = ai_window.image_view.rotation
    qtbot.keyClicks(editor, "Rib fracture; mild")
    qtbot.keyClick(editor, QtCore.Qt.Key_Left)
    assert editor.toPlainText() == "Rib fracture; mild"
    assert ai_window.image_view.rotation == rotation  # "R" did not rotate the image
    assert not ai_window.actions_by_key["measure"].isChecked()  # "m" did not start measuring
    assert not ai_window.actions_by_key["invert"].isChecked()  # "i" did not invert


def test_refused_pack_is_reported_and_reading_still_works(qtbot, settings_file, tiny_pack_copy, rg1_path):
    from desktop.app import build_window

    weights = tiny_pack_copy / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-64] + b"\0" * 64)  # tampered: sha256 no longer matches
    _, window = build_window(fresh=True, pack=tiny_pack_copy)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: hasattr(window, "last_error"), timeout=60_000)  # after the start-up delay
    assert window.runner.wait_idle(60)
    title, text = window.last_error
    assert str(tiny_pack_copy) in title and "weights.safetensors" in text
    assert window.pack_label.text() == "No model pack"
    panel = engine_panel(window)
    assert panel.predictor is None and "Switch model pack" in panel.findings.caption.text()
    open_and_wait(window, rg1_path)
    assert window.current_image is not None  # the reading tools work without a pack


def test_about_shows_the_model_card_and_help_lists_plugin_shortcuts(ai_window):
    from PySide6 import QtWidgets

    from desktop.widgets.help_dialog import HelpDialog

    ai_window.show_about()
    dialogs = [w for w in QtWidgets.QApplication.topLevelWidgets() if w.windowTitle() == "About CXR Lens"]
    assert dialogs
    tabs = dialogs[-1].tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["CXR Lens", "Model pack"]
    assert "tiny-test-pack" in tabs.widget(1).toPlainText()
    import engine
    from cxr_lens import __version__

    versions = engine.version_info()  # the same facts as `cxr-lens --version`
    app_text = " ".join(tabs.widget(0).toPlainText().split())
    assert f"CXR Lens {__version__}" in app_text and f"Engine {versions['engine']}" in app_text
    assert f"{versions['pack']['name']} {versions['pack']['version']}" in app_text
    assert versions["pack"]["sha256"] in app_text
    dialogs[-1].close()
    helper = HelpDialog(list(ai_window.actions_by_key.values()), ai_window)
    texts = {helper.table.item(r, 1).text() for r in range(helper.table.rowCount())}
    assert {"Show heatmap for the selected finding", "Toggle heatmap overlay", "Re-run findings"} <= texts
    helper.close()


def test_panel_options_persist(qtbot, settings_file, tiny_pack_dir):
    from desktop.app import build_window

    _, first = build_window(fresh=True, pack=tiny_pack_dir)
    qtbot.addWidget(first)
    panel = engine_panel(first)
    panel.heatmap.method_box.setCurrentIndex(panel.heatmap.method_box.findData("ig"))
    panel.heatmap.opacity.setValue(35)
    panel.similar.mode_box.setCurrentText("image")
    panel.report.auto.setChecked(False)
    first.close()
    _, second = build_window(pack=tiny_pack_dir)
    qtbot.addWidget(second)
    panel = engine_panel(second)
    assert panel.heatmap.method_box.currentData() == "ig"
    assert panel.heatmap.opacity.value() == 35
    assert panel.similar.mode_box.currentText() == "image"
    assert not panel.report.auto.isChecked()


def test_heatmap_follows_the_strongest_shown_finding_until_the_reader_picks(ai_window, rg1_path):
    open_and_wait(ai_window, rg1_path)
    panel = engine_panel(ai_window)
    shown = panel.findings.prediction
    positives = [f for f in shown.findings if f.positive]
    if positives:
        assert panel.heatmap.label_box.currentText() == max(positives, key=lambda f: f.probability).name
    tree = panel.findings.tree
    last = tree.topLevelItem(tree.topLevelItemCount() - 1)
    picked = last.text(0)
    tree.setCurrentItem(last)  # the reader clicks a finding
    assert panel.heatmap.label_box.currentText() == picked
    panel.run_image()  # a re-analysis keeps the reader's pick
    assert ai_window.runner.wait_idle(60)
    assert panel.heatmap.label_box.currentText() == picked
