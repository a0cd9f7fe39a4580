"""Input gate: metadata, pixel sanity, OOD score; pydicom-data's non-chest files are refused."""
from __future__ import annotations

import numpy as np
import pytest

from engine.gate import check_metadata, check_ood, fit_ood, ood_features, ood_scores, ood_threshold, run_gate

NON_CHEST = ["693_UNCR.dcm", "MR2_UNCR.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm", "emri_small.dcm",
             "US1_UNCR.dcm", "OBXXXX1A.dcm", "color-px.dcm", "JPEG-LL.dcm", "JPEG2000_UNC.dcm",
             "eCT_Supplemental.dcm", "gdcm-US-ALOKA-16.dcm"]


def _codes(issues):
    return {(i.code, i.severity) for i in issues}


def test_metadata_rules():
    assert check_metadata("CR", "CHEST", "PA") == []
    assert check_metadata("", "", "") == []  # a PNG has no header: nothing to say
    assert ("modality", "refuse") in _codes(check_metadata("MR", "HEAD", ""))
    assert ("lateral", "warn") in _codes(check_metadata("DX", "CHEST", "LL"))
    assert ("body_part", "warn") in _codes(check_metadata("CR", "HAND", "PA"))


def test_pixel_rules(chest_like_image):
    assert run_gate(chest_like_image).status == "pass"
    assert ("blank", "refuse") in _codes(run_gate(np.full((200, 200), 0.3, np.float32)).issues)
    wide = np.random.default_rng(0).random((100, 400)).astype(np.float32)
    assert ("aspect", "refuse") in _codes(run_gate(wide).issues)
    photo = np.zeros((120, 100, 3), np.float32)
    photo[..., 0] = np.linspace(0, 1, 100)[None]
    photo[..., 2] = 0.8
    assert ("colour", "refuse") in _codes(run_gate(photo).issues)
    grey_rgb = np.repeat(chest_like_image[..., None], 3, axis=2)
    assert run_gate(grey_rgb).status == "pass"


def test_ood_score_separates_shifted_data():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(500, 8))
    stats = fit_ood(train)
    threshold = ood_threshold(ood_scores(rng.normal(size=(200, 8)), stats))
    inside = ood_scores(rng.normal(size=(200, 8)), stats)
    outside = ood_scores(rng.normal(loc=3.0, size=(200, 8)), stats)
    assert 0.85 < np.mean(inside <= threshold) < 1.0
    assert np.mean(outside > threshold) > 0.95
    assert check_ood(threshold * 1.2, threshold)[0].severity == "warn"
    assert check_ood(threshold * 3.0, threshold)[0].severity == "refuse"
    assert check_ood(threshold - 1e-6, threshold) == []


def test_ood_features_are_the_per_channel_mean_and_spread_of_the_encoder_tokens():
    import torch

    from engine.model.fusion import FusionOutput

    tokens = torch.tensor([[[1.0, 10.0], [3.0, 10.0]]])  # (batch 1, 2 tokens, 2 channels)
    output = FusionOutput(logits=torch.zeros(1, 3), image_embedding=torch.ones(1, 4), text_embedding=None,
                          joint_embedding=torch.ones(1, 4), image_tokens=tokens)
    assert ood_features(output).tolist() == [[2.0, 10.0, 1.0, 0.0]]
    assert ood_features(output, "image_embedding").tolist() == [[1.0] * 4]
    with pytest.raises(ValueError, match="unknown OOD features"):
        ood_features(output, "histogram")


@pytest.mark.parametrize("name", NON_CHEST)
def test_non_chest_pydicom_files_are_refused(name, pydicom_data_dir, tiny_predictor):
    from engine.images.read import read_image

    image = read_image(pydicom_data_dir / name)
    result = tiny_predictor.predict(image)
    assert result.gate.status == "refuse"
    assert result.mode == "none" and result.findings == ()
    reasons = " ".join(i.message for i in result.gate.issues)
    assert image.modality in reasons and "not a radiograph" in reasons


def test_chest_cr_passes_metadata_and_pixels(rg1_path, tiny_predictor):
    from engine.images.read import read_image

    result = tiny_predictor.predict(read_image(rg1_path))
    assert result.gate.accepted and result.mode == "image"
    assert not {"modality", "blank", "colour", "aspect"} & {i.code for i in result.gate.issues}
    assert result.gate.ood_score is not None and len(result.findings) == 17


@pytest.fixture(scope="module")
def bundled_predictor():
    from engine.predict import Predictor
    from engine.resources import bundled_pack_dir

    if not (bundled_pack_dir() / "manifest.json").is_file():
        pytest.skip("no bundled pack")
    return Predictor(bundled_pack_dir())


# CT (2), MR (3), US (3) and a tibia radiograph: what a reader might export to PNG and open (no header)
BARE_NON_CHEST = ["693_UNCR.dcm", "eCT_Supplemental.dcm", "MR2_UNCR.dcm", "emri_small.dcm",
                  "MR-SIEMENS-DICOM-WithOverlays.dcm", "US1_UNCR.dcm", "gdcm-US-ALOKA-16.dcm", "RG3_UNCR.dcm",
                  "OBXXXX1A.dcm"]


@pytest.mark.parametrize("name", BARE_NON_CHEST)
def test_bundled_pack_refuses_non_chest_pixels_without_header(name, pydicom_data_dir, bundled_predictor):
    """Bare pixels (as from a PNG: no modality to read) of a non-chest image are refused by the OOD score."""
    from engine.images.read import read_image
    from engine.images.display import display_float

    pixels = display_float(read_image(pydicom_data_dir / name))
    result = bundled_predictor.predict(pixels)
    assert result.gate.status == "refuse" and result.mode == "none"
    assert [i.code for i in result.gate.issues] == ["ood"]
    with_report = bundled_predictor.predict(pixels, "No acute disease.")
    assert with_report.mode == "text" and len(with_report.findings) == 17


def test_bundled_pack_does_not_refuse_a_real_chest_film_without_header(rg1_path, bundled_predictor):
    """A real CR chest film is unlike the synthetic training images (it may be flagged) but is read."""
    from engine.images.read import read_image
    from engine.images.display import display_float

    result = bundled_predictor.predict(display_float(read_image(rg1_path)))
    assert result.gate.accepted and result.mode == "image"


def test_gate_bench_sorts_pydicom_data_by_header_and_counts_distinct_images(pydicom_data_dir, tiny_predictor):
    from bench.gate import group_row, score_pydicom_data

    rows = score_pydicom_data(tiny_predictor, pydicom_data_dir)
    assert {r["file"] for r in rows if r["group"] == "chest"} == {"RG1_UNCR.dcm", "RG1_UNCI.dcm",
                                                                   "RG1_J2KR.dcm", "RG1_J2KI.dcm"}
    assert all(r["with_header"]["status"] == "refuse" for r in rows if r["modality"] in ("CT", "MR", "US", "NM"))
    row = group_row(rows, "non-chest", "with_header")
    files, distinct = row[2], row[3]
    assert files > 40 and distinct < files  # re-encodings of one image count once
