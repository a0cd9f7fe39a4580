"""The fast SR writer (a highdicom build reused as a template) writes exactly highdicom's SR."""
from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest

from engine.dicom_results import sr_template
from engine.dicom_results.codes import LABEL_CODES
from engine.dicom_results.source import Algorithm, Analysis, read_source
from engine.dicom_results.sr import build_sr_from, decision_code, result_uids
from engine.dicom_results.sr_template import cached_templates, sr_file_bytes
from engine.resources import demo_studies_dir
from tests.dicom_tools import dciodvfy_problems

DEMO = demo_studies_dir()
DX = DEMO / "demo02_effusion" / "demo02_effusion_frontal.dcm"
CR = DEMO / "demo01_normal" / "demo01_normal_frontal.dcm"
ALGORITHM = Algorithm("test-pack", "1.2.3", "ef" * 32)
NOW_KEYWORDS = ("InstanceCreationDate", "InstanceCreationTime", "ContentDate", "ContentTime")


def _prediction(k: int, mode: str = "joint", status: str = "warn") -> dict:
    issues = [{"code": "ood", "severity": "warn", "message": f"unlike the training images ({k})"},
              {"code": "lateral", "severity": "warn", "message": "a lateral view"}][:k % 3] if status != "pass" else []
    if status == "refuse":
        issues = [{"code": "modality", "severity": "refuse", "message": f"modality CT {k} is not a radiograph"}]
    return {"mode": "none" if status == "refuse" else mode,
            "gate": {"status": status, "issues": issues, "ood_score": 0.25 + k / 7, "ood_threshold": 0.5},
            "findings": [{"name": name, "probability": (0.0123456789 * (i + 1) * (k + 2)) % 1,
                          "threshold": 0.3 + i / 100, "positive": (i + k) % 3 == 0}
                         for i, name in enumerate(LABEL_CODES)]}


def _without_write_time(data: bytes) -> pydicom.Dataset:
    dataset = pydicom.dcmread(io.BytesIO(data))
    for keyword in NOW_KEYWORDS:
        delattr(dataset, keyword)
    del dataset.ContributingEquipmentSequence[-1].ContributionDateTime  # highdicom's: the time of writing
    return dataset


def _reference(source: pydicom.Dataset, analysis: Analysis) -> bytes:
    buffer = io.BytesIO()
    build_sr_from(source, analysis, ALGORITHM, result_uids(source, analysis, ALGORITHM), decision_code) \
        .save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _variant(path: Path, n: int) -> pydicom.Dataset:
    """The header of ``path`` as another image of the same kind: new UIDs, patient, study, acquisition."""
    source = read_source(path)
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        setattr(source, keyword, pydicom.uid.generate_uid(entropy_srcs=[str(path), keyword, str(n)]))
    source.PatientName, source.PatientID, source.AccessionNumber = f"OTHER^PATIENT{n}", f"P{n}", f"A{n}"
    source.StudyDate, source.AcquisitionDateTime = f"2024010{n}", f"2024010{n}101500"
    return source


def test_template_sr_equals_highdicom_build_image_after_image(rg1_path):
    sources = [read_source(DX), _variant(DX, 1), read_source(CR), _variant(CR, 2), _variant(DX, 3),
               read_source(rg1_path)]  # RG1: no Imager Pixel Spacing, so no image library
    before = cached_templates()
    for k, source in enumerate(sources):
        for prediction in (_prediction(k), _prediction(k + 1, mode="image", status="pass")):
            analysis = Analysis.from_prediction(prediction)
            fast = sr_file_bytes(source, analysis, ALGORITHM)
            written, expected = _without_write_time(fast), _without_write_time(_reference(source, analysis))
            assert written.file_meta == expected.file_meta
            assert written == expected, (k, prediction["mode"])
    # DX, CR and RG1 are three kinds of image; the variants reuse their templates. Per kind: a warn
    # verdict with 1 issue, 2 issues, 0 issues, and a pass: new keys, so new templates.
    assert cached_templates() - before < len(sources) * 2


def test_refused_image_sr_from_the_template_equals_highdicom_build():
    from pydicom.data import get_testdata_file

    ct = Path(get_testdata_file("CT_small.dcm"))
    for k in range(2):
        source, analysis = read_source(ct), Analysis.from_prediction(_prediction(k, status="refuse"))
        if k:
            source.SOPInstanceUID, source.PatientName = "1.2.3.4.5", "ANOTHER^ONE"
        assert _without_write_time(sr_file_bytes(source, analysis, ALGORITHM)) == \
            _without_write_time(_reference(source, analysis))


def test_a_template_is_reused_only_for_the_same_kind_of_image(tmp_path):
    analysis = Analysis.from_prediction(_prediction(0, mode="image", status="pass"))
    key = sr_template.template_key(analysis, ALGORITHM)
    sr_file_bytes(read_source(DX), analysis, ALGORITHM)
    count = sr_template._CACHE.count(key)
    other = _variant(DX, 4)  # other patient, study, UIDs, acquisition time, and another film size and view
    other.Rows, other.Columns, other.ImagerPixelSpacing, other.PatientOrientation = 300, 200, [0.5, 0.25], ["A", "F"]
    data = sr_file_bytes(other, analysis, ALGORITHM)
    assert sr_template._CACHE.count(key) == count
    assert _without_write_time(data) == _without_write_time(_reference(other, analysis))
    one_view = read_source(DX)
    one_view.PatientOrientation = "P"  # one value instead of two: highdicom cannot describe it, another kind
    data = sr_file_bytes(one_view, analysis, ALGORITHM)
    assert sr_template._CACHE.count(key) == count + 1
    assert _without_write_time(data) == _without_write_time(_reference(one_view, analysis))
    out = tmp_path / "other.dcm"
    out.write_bytes(sr_file_bytes(other, analysis, ALGORITHM))
    assert dciodvfy_problems(out)[0] == []


@pytest.mark.parametrize("status", ["pass", "warn"])
def test_template_sr_of_a_variant_passes_dciodvfy(status, tmp_path):
    analysis = Analysis.from_prediction(_prediction(1, status=status))
    sr_file_bytes(read_source(DX), analysis, ALGORITHM)  # builds the template
    out = tmp_path / "variant.dcm"
    out.write_bytes(sr_file_bytes(_variant(DX, 5), analysis, ALGORITHM))  # filled from it
    assert dciodvfy_problems(out)[0] == []
    assert pydicom.dcmread(out).PatientName == "OTHER^PATIENT5"


def _seg_without_write_time(data: bytes) -> pydicom.Dataset:
    dataset = _without_write_time(data)
    for item in (*dataset.DimensionOrganizationSequence, *dataset.DimensionIndexSequence):
        item.DimensionOrganizationUID = "1.2"  # highdicom makes a random one per build
    # an odd-sized Pixel Data is padded: by highdicom 0.28.2 with b"0" (0x30), by pydicom with b"\0" (PS3.5)
    dataset.PixelData = dataset.PixelData[:int(dataset.NumberOfFrames) * dataset.Rows * dataset.Columns]
    return dataset


def test_template_seg_equals_highdicom_build_image_after_image(rg1_path):
    import numpy as np

    from engine.dicom_results.seg import build_seg_from, seg_uids
    from engine.dicom_results.seg_template import seg_file_chunks
    from engine.dicom_results.template_parts import dataset_bytes

    rng = np.random.default_rng(7)
    for k, source in enumerate([read_source(DX), _variant(DX, 6), read_source(CR), _variant(DX, 7),
                                read_source(rg1_path)]):  # RG1: an odd number of pixels, so Pixel Data is padded
        labels = ["Effusion", "Support Devices"][: 1 + k % 2]
        stack = rng.random((int(source.Rows), int(source.Columns), len(labels))).astype(np.float32)
        stack[0, :4, 0] = [0.5 / 255, 1.5 / 255, 0.0, 1.0]  # halves round to even, as in highdicom
        if k % 2:  # values outside [0, 1] are clipped, as highdicom's build is given them
            stack[1, :3, -1] = [-0.5, 1.5, np.inf]
        fast = b"".join(seg_file_chunks(source, labels, [stack[..., i] for i in range(len(labels))], "gradcam", ALGORITHM))
        reference = dataset_bytes(build_seg_from(source, labels, np.clip(stack, 0, 1), "gradcam", ALGORITHM,
                                                 seg_uids(source, labels, "gradcam", ALGORITHM)))
        written, expected = _seg_without_write_time(fast), _seg_without_write_time(reference)
        assert written.file_meta == expected.file_meta
        assert written == expected, k


def test_a_source_value_equal_to_a_placeholder_means_highdicom_builds_the_sr_in_full():
    from pydicom.data import get_testdata_file

    source = read_source(Path(get_testdata_file("CT_small.dcm")))
    source.SliceThickness = sr_template.SENTINEL_NUMBER  # highdicom copies it into the image library
    analysis = Analysis.from_prediction(_prediction(1, status="refuse"))
    before = cached_templates()
    data = sr_file_bytes(source, analysis, ALGORITHM)
    assert cached_templates() == before  # refused as a template
    assert _without_write_time(data) == _without_write_time(_reference(source, analysis))


def test_a_map_that_is_not_finite_is_written_by_highdicom_in_full():
    import numpy as np

    from engine.dicom_results import seg_template
    from engine.dicom_results.seg import build_seg_from, seg_uids
    from engine.dicom_results.template_parts import dataset_bytes

    source = read_source(DX)
    stack = np.full((448, 448, 1), 0.25, np.float32)
    stack[0, 0, 0] = np.nan
    before = seg_template.cached_templates()
    with pytest.warns(RuntimeWarning):  # highdicom casts the NaN as numpy does
        data = b"".join(seg_template.seg_file_chunks(source, ["Effusion"], [stack[..., 0]], "ig", ALGORITHM))
        reference = dataset_bytes(build_seg_from(source, ["Effusion"], stack, "ig", ALGORITHM,
                                                 seg_uids(source, ["Effusion"], "ig", ALGORITHM)))
    assert seg_template.cached_templates() == before
    assert _seg_without_write_time(data) == _seg_without_write_time(reference)
