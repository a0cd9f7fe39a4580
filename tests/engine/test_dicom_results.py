"""DICOM results: SR TID 1500 and fractional SEG written, validated (dciodvfy, dsrdump) and read back."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from engine.dicom_results.read import find_results, read_result
from engine.dicom_results.seg import write_heatmap_seg
from engine.dicom_results.source import Algorithm
from engine.dicom_results.sr import write_sr
from engine.errors import DicomError
from engine.images.read import read_image, read_path
from engine.resources import demo_studies_dir
from tests.dicom_tools import dciodvfy_problems, dsrdump

DEMO = demo_studies_dir()
DX_FRONTAL = DEMO / "demo02_effusion" / "demo02_effusion_frontal.dcm"
CR_FRONTAL = DEMO / "demo01_normal" / "demo01_normal_frontal.dcm"
ALGORITHM = Algorithm("test-pack", "1.2.3", "ab" * 32)


@pytest.fixture(scope="module")
def algorithm(tiny_predictor) -> Algorithm:
    return Algorithm.from_pack(tiny_predictor.pack)


def assert_valid(path: Path, source: Path | None = None) -> None:
    """No dciodvfy error; no warning except the accepted ones and those about values copied from ``source``."""
    errors, warnings = dciodvfy_problems(path)
    inherited = set(dciodvfy_problems(source)[1]) if source else set()
    assert errors == [] and [w for w in warnings if w not in inherited] == [], errors + warnings


@pytest.mark.parametrize("source", [DX_FRONTAL, CR_FRONTAL], ids=["DX", "CR"])
def test_sr_round_trip_keeps_findings_references_and_patient(source, tiny_predictor, algorithm, tmp_path):
    prediction = tiny_predictor.predict(read_image(source), report="Small left pleural effusion.")
    assert prediction.mode == "joint" and prediction.findings
    out = write_sr(source, prediction, algorithm, tmp_path / "sr.dcm")
    assert_valid(out)
    back = read_result(out)
    assert back.kind == "SR" and back.mode == "joint" and back.gate_status == prediction.gate.status
    assert [f.name for f in back.findings] == [f.name for f in prediction.findings]
    for loaded, original in zip(back.findings, prediction.findings):
        assert abs(loaded.probability - original.probability) <= 1e-6
        assert abs(loaded.threshold - original.threshold) <= 1e-6
        assert loaded.positive == original.positive
    assert back.algorithm == f"{algorithm.name} {algorithm.version}"
    written, original = pydicom.dcmread(out), pydicom.dcmread(source, stop_before_pixels=True)
    assert back.references == (original.SOPInstanceUID,)
    for keyword in ("PatientName", "PatientID", "PatientSex", "StudyInstanceUID", "StudyDate", "AccessionNumber"):
        assert written.get(keyword) == original.get(keyword), keyword
    evidence = written.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.SeriesInstanceUID == original.SeriesInstanceUID
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPClassUID == original.SOPClassUID
    tree = dsrdump(out)  # an independent reader sees the same report
    assert "Imaging Measurement Report" in tree and "Pleural effusion" in tree and algorithm.name in tree


def test_a_real_cr_film_without_imager_pixel_spacing_gets_a_valid_sr(rg1_path, tmp_path):
    prediction = {"mode": "image", "gate": {"status": "warn", "issues": [
        {"code": "ood", "severity": "warn", "message": "unlike the training images"}]},
        "findings": [{"name": "Pneumothorax", "probability": 0.0123456789, "threshold": 0.5, "positive": False}]}
    out = write_sr(rg1_path, prediction, ALGORITHM, tmp_path / "rg1.sr.dcm")
    assert_valid(out, source=rg1_path)
    back = read_result(out)
    assert back.references == (pydicom.dcmread(rg1_path, stop_before_pixels=True).SOPInstanceUID,)
    assert back.findings[0].name == "Pneumothorax" and abs(back.findings[0].probability - 0.0123456789) <= 1e-6
    assert back.gate_status == "warn" and back.gate_messages == ("warn: unlike the training images",)


def test_refused_image_gets_an_sr_with_the_refusal_and_no_findings(tiny_predictor, algorithm, tmp_path):
    from pydicom.data import get_testdata_file

    ct = Path(get_testdata_file("CT_small.dcm"))  # a real CT slice: the gate refuses its modality
    prediction = tiny_predictor.predict(read_image(ct))
    assert prediction.gate.status == "refuse" and prediction.mode == "none"
    out = write_sr(ct, prediction, algorithm, tmp_path / "refused.dcm")
    assert_valid(out, source=ct)  # CT_small's Patient's Weight is 0: copied as it is, dciodvfy warns in both
    back = read_result(out)
    assert back.findings == () and back.gate_status == "refuse" and back.mode == "none"
    assert back.gate_messages and all(m.startswith("refuse: ") or m.startswith("warn: ") for m in back.gate_messages)
    assert "Refused" in dsrdump(out) and "modality CT" in dsrdump(out)


def test_seg_round_trip_within_the_8_bit_fraction_step(tmp_path):
    rng = np.random.default_rng(3)
    maps = {"Effusion": rng.random((448, 448)).astype(np.float32), "Support Devices": np.zeros((448, 448), np.float32),
            "Pleural Thickening": np.linspace(0, 1, 448 * 448, dtype=np.float32).reshape(448, 448)}
    out = write_heatmap_seg(DX_FRONTAL, maps, "gradcam", ALGORITHM, tmp_path / "seg.dcm")
    assert_valid(out)
    back = read_result(out)
    assert back.kind == "SEG" and back.method == "gradcam" and list(back.maps) == list(maps)
    for name, values in maps.items():  # FRACTIONAL stores round(255 v): half a step of error at most
        assert np.abs(back.maps[name] - values).max() <= 0.5 / 255 + 1e-6, name
    source = pydicom.dcmread(DX_FRONTAL, stop_before_pixels=True)
    written = pydicom.dcmread(out)
    assert back.references == (source.SOPInstanceUID,)
    assert (written.Rows, written.Columns, written.NumberOfFrames) == (source.Rows, source.Columns, 3)
    assert written.PatientID == source.PatientID and written.StudyInstanceUID == source.StudyInstanceUID


def test_seg_refuses_a_map_off_the_image_grid(tmp_path):
    with pytest.raises(DicomError, match="not on the image grid"):
        write_heatmap_seg(DX_FRONTAL, {"Effusion": np.zeros((10, 10))}, "gradcam", ALGORITHM, tmp_path / "x.dcm")
    assert not (tmp_path / "x.dcm").exists()


def test_one_header_read_serves_both_writers_and_names_its_file(tmp_path):
    from engine.dicom_results.source import read_source

    header = read_source(DX_FRONTAL)
    assert read_source(header) is header
    prediction = {"mode": "image", "gate": {"status": "pass", "issues": []},
                  "findings": [{"name": "Effusion", "probability": 0.7, "threshold": 0.5, "positive": True}]}
    from_header = pydicom.dcmread(write_sr(header, prediction, ALGORITHM, tmp_path / "h.sr.dcm"))
    from_path = pydicom.dcmread(write_sr(DX_FRONTAL, prediction, ALGORITHM, tmp_path / "p.sr.dcm"))
    assert from_header.SOPInstanceUID == from_path.SOPInstanceUID
    assert from_header.ContentSequence == from_path.ContentSequence
    maps = {"Effusion": np.full((448, 448), 0.25, np.float32)}
    seg = read_result(write_heatmap_seg(header, maps, "gradcam", ALGORITHM, tmp_path / "h.seg.dcm"))
    assert seg.references == (header.SOPInstanceUID,)
    with pytest.raises(DicomError, match="not on the image grid") as refused:
        write_heatmap_seg(header, {"Effusion": np.zeros((10, 10))}, "gradcam", ALGORITHM, tmp_path / "x.dcm")
    assert str(DX_FRONTAL) in str(refused.value)


def test_uids_are_deterministic_per_image_pack_label_and_method(tmp_path):
    prediction = {"mode": "image", "gate": {"status": "pass", "issues": []},
                  "findings": [{"name": "Effusion", "probability": 0.7, "threshold": 0.5, "positive": True}]}
    first = pydicom.dcmread(write_sr(DX_FRONTAL, prediction, ALGORITHM, tmp_path / "a.dcm"))
    again = pydicom.dcmread(write_sr(DX_FRONTAL, prediction, ALGORITHM, tmp_path / "b.dcm"))
    other_pack = pydicom.dcmread(write_sr(DX_FRONTAL, prediction, Algorithm("test-pack", "1.2.4", "cd" * 32),
                                          tmp_path / "c.dcm"))
    other_image = pydicom.dcmread(write_sr(CR_FRONTAL, prediction, ALGORITHM, tmp_path / "d.dcm"))
    assert first.SOPInstanceUID == again.SOPInstanceUID and first.SeriesInstanceUID == again.SeriesInstanceUID
    assert len({first.SOPInstanceUID, other_pack.SOPInstanceUID, other_image.SOPInstanceUID}) == 3
    assert first.SOPInstanceUID.startswith("1.2.826.0.1.3680043.8.498.") and len(first.SOPInstanceUID) <= 64
    maps = {"Effusion": np.zeros((448, 448))}
    seg_uids = {pydicom.dcmread(write_heatmap_seg(DX_FRONTAL, maps, method, ALGORITHM, tmp_path / f"{i}.dcm")).SOPInstanceUID
                for i, method in enumerate(("gradcam", "gradcam", "ig"))}
    assert len(seg_uids) == 2


def test_png_and_corrupt_inputs_get_no_object_and_a_clear_message(tmp_path):
    from PIL import Image as PILImage

    png = tmp_path / "film.png"
    PILImage.fromarray(np.zeros((32, 32), np.uint8)).save(png)
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(DX_FRONTAL.read_bytes()[:300])
    prediction = {"mode": "none", "gate": None, "findings": []}
    for bad, words in ((png, "not a DICOM image"), (cut, "DICOM")):
        with pytest.raises(DicomError, match=words) as caught:
            write_sr(bad, prediction, ALGORITHM, tmp_path / "out.dcm")
        assert str(bad) in str(caught.value)
    assert not (tmp_path / "out.dcm").exists()


def test_a_folder_keeps_results_out_of_the_images_and_finds_them(tmp_path):
    import shutil

    shutil.copy(DX_FRONTAL, tmp_path / "image.dcm")
    prediction = {"mode": "image", "gate": {"status": "pass", "issues": []},
                  "findings": [{"name": "Effusion", "probability": 0.7, "threshold": 0.5, "positive": True}]}
    write_sr(DX_FRONTAL, prediction, ALGORITHM, tmp_path / "results" / "sr.dcm")
    write_heatmap_seg(DX_FRONTAL, {"Effusion": np.ones((448, 448))}, "ig", ALGORITHM, tmp_path / "results" / "seg.dcm")
    found = read_path(tmp_path)
    assert [image.path.name for image in found.images] == ["image.dcm"] and found.errors == ()
    results, errors = find_results(found.skipped)
    assert errors == [] and sorted(r.kind for r in results) == ["SEG", "SR"]
    assert all(r.references == (found.images[0].sop_uid,) for r in results)


def test_every_object_the_synthesizer_writes_passes_dciodvfy(tmp_path):
    from training.synth import dicom_out

    for path in sorted(DEMO.glob("*/*.dcm")):  # CR and DX, frontal and lateral
        assert_valid(path)
    info = dicom_out.StudyInfo(key="test", patient_id="SYN-1", patient_sex="F", patient_age=50, day=3)
    sr = tmp_path / "report.dcm"
    dicom_out.save_dataset(dicom_out.report_sr_dataset(info, {"FINDINGS": "No effusion.", "IMPRESSION": "Normal."}), sr)
    assert_valid(sr)


def test_a_parametric_map_from_another_tool_is_found_and_read(tmp_path):
    """highdicom writes a Parametric Map for a CT slice (it has a frame of reference, unlike CR/DX)."""
    import highdicom as hd
    from pydicom.data import get_testdata_file

    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    values = np.linspace(0, 2, ct.Rows * ct.Columns, dtype=np.float32).reshape(ct.Rows, ct.Columns)
    mapping = hd.pm.RealWorldValueMapping(lut_label="perfusion", lut_explanation="other tool",
                                          unit=hd.sr.CodedConcept("1", "UCUM", "no units"),
                                          value_range=(0.0, 2.0), slope=0.5, intercept=1.0)
    pm = hd.pm.ParametricMap([ct], values, hd.UID(), 1, hd.UID(), 1, "Other", "other-ai", "3", "1", False,
                             [mapping], voi_lut_transformations=[hd.VOILUTTransformation(window_center=1,
                                                                                          window_width=2)])
    pm.save_as(tmp_path / "pm.dcm")
    assert read_path(tmp_path).images == ()  # a result, not an image
    [found], errors = find_results([tmp_path / "pm.dcm"])
    assert errors == [] and found.kind == "PM" and found.references == (ct.SOPInstanceUID,)
    assert found.algorithm == "other-ai 3" and list(found.maps) == ["perfusion"]
    assert np.abs(found.maps["perfusion"] - (values * 0.5 + 1.0)).max() <= 1e-6
