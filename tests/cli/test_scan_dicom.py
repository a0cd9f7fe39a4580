"""`cxr-lens scan --dicom-sr [--heatmaps …] [--method …]`: SR/SEG per DICOM image under OUT/dicom/."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pydicom
from PIL import Image as PILImage

from cxr_lens.cli import main
from engine.dicom_results.read import read_result
from engine.resources import demo_studies_dir
from tests.dicom_tools import dciodvfy_problems

DX = demo_studies_dir() / "demo02_effusion" / "demo02_effusion_frontal.dcm"


def _folder(tmp_path):
    from pydicom.data import get_testdata_file

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DX, folder / "dx.dcm")
    shutil.copy(get_testdata_file("CT_small.dcm"), folder / "ct.dcm")  # refused by the gate
    PILImage.fromarray(np.full((64, 64), 128, np.uint8)).save(folder / "film.png")
    (folder / "broken.dcm").write_text("not dicom")
    return folder


def test_scan_writes_sr_and_seg_per_dicom_image_and_goes_on(tmp_path, tiny_pack_dir, capsys):
    folder, out = _folder(tmp_path), tmp_path / "out"
    code = main(["scan", str(folder), "--out", str(out), "--pack", str(tiny_pack_dir), "--dicom-sr",
                 "--heatmaps", "Effusion,pleural thickening", "--method", "gradcam"])
    assert code == 3  # broken.dcm failed; the others were scanned
    err = capsys.readouterr().err
    assert "2 SR, 1 Segmentation(s); 1 PNG/JPEG input(s) got none (nothing to reference), 0 failed" in err
    index = {json.loads(line)["path"].split("/")[-1]: json.loads(line)
             for line in (out / "dicom" / "index.jsonl").read_text().splitlines()}
    assert set(index) == {"dx.dcm", "ct.dcm", "film.png"}
    assert index["film.png"]["sr"] is None and "not DICOM" in index["film.png"]["note"]
    assert index["ct.dcm"]["seg"] is None  # refused: no heatmap
    results = {json.loads(line)["path"].split("/")[-1]: json.loads(line)
               for line in (out / "results.jsonl").read_text().splitlines()}
    dx_sr = read_result(index["dx.dcm"]["sr"])
    assert {f.name: f.probability for f in dx_sr.findings} == \
        {f["name"]: f["probability"] for f in results["dx.dcm"]["findings"]}
    assert read_result(index["ct.dcm"]["sr"]).gate_status == "refuse"
    seg = read_result(index["dx.dcm"]["seg"])
    assert list(seg.maps) == ["Effusion", "Pleural Thickening"] and seg.method == "gradcam"
    assert seg.references == (pydicom.dcmread(DX, stop_before_pixels=True).SOPInstanceUID,)
    for name in ("dx.dcm", "ct.dcm"):
        for kind in ("sr", "seg"):
            if index[name][kind]:
                assert dciodvfy_problems(index[name][kind])[0] == []
    first = sorted(p.name for p in (out / "dicom").glob("*.dcm"))
    uids = {p.name: pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in (out / "dicom").glob("*.dcm")}
    main(["scan", str(folder), "--out", str(out), "--pack", str(tiny_pack_dir), "--dicom-sr",  # a re-run replaces
          "--heatmaps", "positive", "--method", "attention"])
    again = {p.name: pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in (out / "dicom").glob("*.dcm")}
    assert {name: again[name] for name in first} == uids
    index = [json.loads(line) for line in (out / "dicom" / "index.jsonl").read_text().splitlines()]
    assert len(index) == 3
    positives = results["dx.dcm"]["positive"]
    [dx] = [entry for entry in index if entry["path"].endswith("dx.dcm")]
    if positives:  # the random-weight pack decides; either way the option ran
        assert list(read_result(dx["seg"]).maps) == positives and dx["seg"].endswith(".attention.seg.dcm")
    else:
        assert dx["seg"] is None


def test_scan_dicom_options_are_checked_before_work(tmp_path, tiny_pack_dir, capsys):
    folder = _folder(tmp_path)
    assert main(["scan", str(folder), "--out", str(tmp_path / "o"), "--pack", str(tiny_pack_dir),
                 "--heatmaps", "positive"]) == 1
    assert "--heatmaps needs --dicom-sr" in capsys.readouterr().err
    assert main(["scan", str(folder), "--out", str(tmp_path / "o"), "--pack", str(tiny_pack_dir), "--dicom-sr",
                 "--heatmaps", "spleen"]) == 1
    assert "unknown label 'spleen'" in capsys.readouterr().err and not (tmp_path / "o" / "results.jsonl").exists()


def test_highdicom_narrates_only_with_verbose(tmp_path, tiny_pack_dir, caplog):
    import logging

    from engine.dicom_results import seg_template, sr_template

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DX, folder / "dx.dcm")
    caplog.set_level(logging.INFO)
    for verbose, out in (([], tmp_path / "quiet"), (["--verbose"], tmp_path / "verbose")):
        caplog.clear()
        sr_template.clear_templates()  # highdicom builds the templates again
        seg_template.clear_templates()
        assert main([*verbose, "scan", str(folder), "--out", str(out), "--pack", str(tiny_pack_dir),
                     "--dicom-sr", "--heatmaps", "Effusion"]) == 0
        narrated = [r for r in caplog.records if r.name.startswith("highdicom")]
        assert bool(narrated) == bool(verbose), verbose
