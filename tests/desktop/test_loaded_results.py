"""DICOM results in the viewer: findings and overlays loaded from SR/SEG files; saving the analysis."""
from __future__ import annotations

import shutil

import numpy as np

from engine.dicom_results.read import read_result
from engine.dicom_results.seg import write_heatmap_seg
from engine.dicom_results.source import Algorithm
from engine.dicom_results.sr import write_sr
from engine.resources import demo_studies_dir
from tests.desktop.conftest import engine_panel, open_and_wait

DX = demo_studies_dir() / "demo02_effusion" / "demo02_effusion_frontal.dcm"
ALGORITHM = Algorithm("other-ai", "2.0", "ef" * 32)


def _study_with_results(folder):
    folder.mkdir()
    shutil.copy(DX, folder / "image.dcm")
    prediction = {"mode": "image", "gate": {"status": "pass", "issues": []},
                  "findings": [{"name": "Effusion", "probability": 0.81, "threshold": 0.4, "positive": True},
                               {"name": "Nodule", "probability": 0.12, "threshold": 0.3, "positive": False}]}
    write_sr(DX, prediction, ALGORITHM, folder / "results" / "ai.sr.dcm")
    ramp = np.tile(np.linspace(0, 1, 448, dtype=np.float32), (448, 1))
    write_heatmap_seg(DX, {"Effusion": ramp}, "gradcam", ALGORITHM, folder / "results" / "ai.seg.dcm")
    return folder


def test_results_beside_an_image_show_as_loaded_findings_and_an_overlay(ai_window, tmp_path):
    open_and_wait(ai_window, _study_with_results(tmp_path / "study"))
    assert ai_window.runner.wait_idle(60)
    findings = engine_panel(ai_window).findings
    assert "Loaded from file ai.sr.dcm: other-ai 2.0" in findings.loaded_caption.text()
    rows = [findings.loaded_tree.topLevelItem(i) for i in range(findings.loaded_tree.topLevelItemCount())]
    assert [(r.text(0), r.text(2), r.text(3)) for r in rows] == [("Effusion", "0.81", "present"), ("Nodule", "0.12", "—")]
    assert findings.prediction is not None and findings.tree.topLevelItemCount() == 17  # the live analysis too
    actions = ai_window.loaded_results.overlay_group.actions()
    assert [a.text() for a in actions] == ["Effusion (gradcam) — ai.seg.dcm"] and actions[0].isChecked()
    assert ai_window.image_view.overlay_item.isVisible()
    actions[0].setChecked(False)  # the overlay toggles off
    assert not ai_window.image_view.overlay_item.isVisible()


def test_an_image_without_results_shows_no_loaded_section(ai_window):
    open_and_wait(ai_window, DX)
    findings = engine_panel(ai_window).findings
    assert findings.loaded_caption.isHidden() and findings.loaded_tree.isHidden()
    assert not ai_window.loaded_results.overlay_menu.isEnabled()


def test_save_writes_the_analysis_on_screen_as_sr(ai_window, tmp_path):
    open_and_wait(ai_window, DX)
    assert ai_window.runner.wait_idle(60)
    prediction = engine_panel(ai_window).findings.prediction
    ai_window.loaded_results.save_to(tmp_path / "saved")
    assert ai_window.runner.wait_idle(60)
    [saved] = sorted((tmp_path / "saved").glob("*.sr.dcm"))
    back = read_result(saved)
    assert back.algorithm == "tiny-test-pack 0.0.1"
    assert [(f.name, round(f.probability, 6)) for f in back.findings] == \
        [(f.name, round(f.probability, 6)) for f in prediction.findings]


def test_a_parametric_map_beside_a_ct_slice_is_an_overlay_without_the_ai_plugin(window, tmp_path):
    import highdicom as hd
    import pydicom
    from pydicom.data import get_testdata_file

    ct_path = get_testdata_file("CT_small.dcm")
    (tmp_path / "ct").mkdir()
    shutil.copy(ct_path, tmp_path / "ct" / "ct.dcm")
    ct = pydicom.dcmread(ct_path)
    mapping = hd.pm.RealWorldValueMapping(lut_label="perfusion", lut_explanation="other tool",
                                          unit=hd.sr.CodedConcept("1", "UCUM", "no units"),
                                          value_range=(0.0, 5.0), slope=1.0, intercept=0.0)
    values = np.linspace(0, 5, ct.Rows * ct.Columns, dtype=np.float32).reshape(ct.Rows, ct.Columns)
    hd.pm.ParametricMap([ct], values, hd.UID(), 1, hd.UID(), 1, "Other", "other-ai", "3", "1", False, [mapping],
                        voi_lut_transformations=[hd.VOILUTTransformation(window_center=2.5, window_width=5)]
                        ).save_as(tmp_path / "ct" / "pm.dcm")
    open_and_wait(window, tmp_path / "ct")
    assert window.runner.wait_idle(60)
    [action] = window.loaded_results.overlay_group.actions()
    assert action.text() == "perfusion (other tool) — pm.dcm" and action.isChecked()
    assert window.image_view.overlay_item.isVisible()
