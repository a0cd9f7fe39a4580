"""The viewer's PACS dialog and worklist dock, against the live Orthanc (offscreen Qt)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

import json  # noqa: E402

import pydicom  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from bench._orthanc import PASSWORD, USER  # noqa: E402
from engine.triage import write_worklist  # noqa: E402
from tests.pacs.conftest import study_uid_of  # noqa: E402
from tests.pacs.helpers import cached_files, demo_copy, leftovers  # noqa: E402


from tests.desktop.conftest import ai_window, open_and_wait, settings_file, window  # noqa: E402,F401


@pytest.fixture(autouse=True)
def pacs_env(tmp_path, monkeypatch):
    """The viewer's PACS cache in the test's folder, and no user configuration file."""
    monkeypatch.setenv("CXR_LENS_PACS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CXR_LENS_PACS_CONFIG", str(tmp_path / "no-config.toml"))


def _connect(dialog, orthanc):
    dialog.server_box.setCurrentText("Other DICOMweb server…")
    dialog.url_edit.setText(orthanc.dicomweb_url)
    dialog.user_edit.setText(USER)
    dialog.password_edit.setText(PASSWORD)


def test_search_retrieve_and_open_a_study(window, orthanc, qtbot, tmp_path):
    dialog = window.open_pacs_dialog()
    _connect(dialog, orthanc)
    dialog.modality_box.setCurrentText("DX")
    dialog.search()
    assert window.runner.wait_idle(30)
    assert sorted(m.patient_id for m in dialog.matches) == ["SYN-DEMO02_EFFUSION", "SYN-DEMO04_PNEUMOTHORAX"]
    assert dialog.table.rowCount() == 2 and dialog.status.text() == "2 studies found"
    row = [m.patient_id for m in dialog.matches].index("SYN-DEMO02_EFFUSION")
    dialog.table.selectRow(row)
    with qtbot.waitSignal(dialog.study_retrieved, timeout=30000) as retrieved:
        dialog.retrieve()
    folder = retrieved.args[0]
    assert folder == tmp_path / "cache" / study_uid_of(orthanc, "SYN-DEMO02_EFFUSION")
    assert window.runner.wait_idle(30)
    assert len(window.images) == 2 and window.current_image is not None
    assert "Retrieved into" in dialog.status.text() and dialog.retrieve_button.isEnabled()
    assert window.settings.value("pacs/url") == orthanc.dicomweb_url
    assert PASSWORD not in open(window.settings.fileName()).read()


def test_wrong_password_shows_the_servers_message(window, orthanc):
    dialog = window.open_pacs_dialog()
    _connect(dialog, orthanc)
    dialog.password_edit.setText("wrong")
    dialog.search()
    assert window.runner.wait_idle(30)
    assert "HTTP 401" in dialog.status.text() and "credentials" in dialog.status.text()
    assert dialog.search_button.isEnabled() and dialog.table.rowCount() == 0


def test_cancel_leaves_whole_files_only(window, orthanc, qtbot, tmp_path):
    files = demo_copy("VIEWER-CANCEL", count=6, tmp=tmp_path)
    orthanc.upload(files)
    dialog = window.open_pacs_dialog()
    _connect(dialog, orthanc)
    dialog.fields["patient_id"].setText("VIEWER-CANCEL")
    dialog.search()
    assert window.runner.wait_idle(30) and len(dialog.matches) == 1
    dialog.retrieve()
    dialog.cancel()
    assert window.runner.wait_idle(30)
    qtbot.waitUntil(lambda: dialog.cancel_button.isEnabled() is False, timeout=5000)
    assert "cancelled" in dialog.status.text() and window.images == []
    cache = tmp_path / "cache"
    assert len(cached_files(cache)) < 6 and leftovers(cache) == []


def test_send_current_results_as_an_sr(window, orthanc, qtbot, tmp_path, tiny_pack_dir):
    import engine

    source, = demo_copy("VIEWER-SEND", tmp=tmp_path)
    orthanc.upload([source])
    dialog = window.open_pacs_dialog()
    _connect(dialog, orthanc)
    assert not dialog.send_button.isEnabled()
    prediction = {"mode": "image", "gate": {"status": "pass", "issues": []},
                  "findings": [{"name": "Pneumothorax", "probability": 0.8, "threshold": 0.4, "positive": True}]}
    dialog.offer_results(source, prediction, engine.load_pack(tiny_pack_dir))
    with qtbot.waitSignal(dialog.results_sent, timeout=30000) as sent:
        dialog.send_pending()
    uid, = sent.args[0]
    dialog.fields["patient_id"].setText("VIEWER-SEND")
    dialog.search()
    assert window.runner.wait_idle(30) and dialog.matches[0].instances == 2  # the image and its SR
    window.send_results_to_pacs()  # no analysed image on screen: says so, sends nothing
    assert "nothing to send" in window.statusBar().currentMessage()


def test_worklist_dock_lists_by_urgency_and_opens_a_study(window, qtbot, tmp_path):
    from engine.resources import demo_studies_dir

    demo = demo_studies_dir()
    frontal = sorted(demo.rglob("*_frontal.dcm"))
    records = [{"path": str(path), "study_uid": str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID),
                "mode": "image", "gate": {"status": "pass", "issues": []},
                "findings": [{"name": "Pneumothorax", "probability": p, "threshold": 0.5, "positive": p >= 0.5}]}
               for path, p in zip(frontal, (0.1, 0.2, 0.3, 0.9))]
    records[1]["gate"] = {"status": "refuse", "issues": [{"code": "lateral", "message": "a lateral view"}]}
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    window.show_worklist(write_worklist(tmp_path))
    panel = window.worklist_dock.widget()
    assert [r.tier for r in panel.rows] == ["urgent", "review", "routine", "routine"]
    assert panel.table.item(1, 6).text().startswith("gate refused (a lateral view)")
    assert "1 urgent, 1 review, 2 routine" in panel.caption.text()
    with qtbot.waitSignal(panel.study_chosen) as chosen:
        panel.open_row(0)
    assert chosen.args[0] == frontal[3].parent
    assert window.runner.wait_idle(30) and window.current_image is not None
    window.show_worklist(tmp_path / "results.jsonl")  # not a worklist
    assert window.last_error[0].startswith("Cannot read the worklist")


def test_send_results_of_the_analysed_image_on_screen(ai_window, orthanc, qtbot, tmp_path):
    source, = demo_copy("VIEWER-ANALYSED", tmp=tmp_path)
    orthanc.upload([source])
    open_and_wait(ai_window, source, timeout_s=120)
    assert ai_window.plugin_docks["engine"].widget().image_prediction is not None
    ai_window.send_results_to_pacs()
    dialog = ai_window.pacs_dialog
    assert dialog.send_button.isEnabled() and "VIEWER-ANALYSED_1.dcm" in dialog.status.text()
    _connect(dialog, orthanc)
    with qtbot.waitSignal(dialog.results_sent, timeout=60000) as sent:
        dialog.send_pending()
    uid, = sent.args[0]
    dialog.fields["patient_id"].setText("VIEWER-ANALYSED")
    dialog.search()
    assert ai_window.runner.wait_idle(30) and dialog.matches[0].instances == 2
