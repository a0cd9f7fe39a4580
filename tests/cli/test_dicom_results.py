"""`predict --sr`, `explain --dicom`, `info` listing results, `scan --dicom-sr`: as a user runs them."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image as PILImage

from cxr_lens.cli import main
from engine.dicom_results.read import read_result
from engine.resources import demo_studies_dir
from tests.dicom_tools import dciodvfy_problems

DX = demo_studies_dir() / "demo02_effusion" / "demo02_effusion_frontal.dcm"


@pytest.fixture()
def png(tmp_path, chest_like_image):
    path = tmp_path / "chest.png"
    PILImage.fromarray(np.round(chest_like_image * 255).astype(np.uint8)).save(path)
    return path


def test_predict_writes_an_sr_that_holds_what_it_printed(tiny_pack_dir, tmp_path, capsys):
    out = tmp_path / "sr.dcm"
    assert main(["predict", str(DX), "--pack", str(tiny_pack_dir), "--sr", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["sr"] == str(out)
    back = read_result(out)
    assert back.mode == document["mode"] == "image"
    printed = {f["name"]: f["probability"] for f in document["findings"]}
    assert {f.name: round(f.probability, 4) for f in back.findings} == printed
    assert dciodvfy_problems(out)[0] == []


def test_predict_sr_of_a_png_is_refused_before_any_work(png, tiny_pack_dir, tmp_path, capsys):
    out = tmp_path / "sr.dcm"
    assert main(["predict", str(png), "--pack", str(tiny_pack_dir), "--sr", str(out)]) == 2
    err = capsys.readouterr().err
    assert "chest.png" in err and "not DICOM" in err and not out.exists()


def test_explain_writes_the_heatmap_as_a_segmentation(tiny_pack_dir, tmp_path, capsys):
    seg, npy = tmp_path / "map.seg.dcm", tmp_path / "map.npy"
    code = main(["explain", str(DX), "--label", "Effusion", "--method", "gradcam", "--out", str(tmp_path / "o.png"),
                 "--npy", str(npy), "--dicom", str(seg), "--pack", str(tiny_pack_dir), "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["dicom"] == str(seg)
    back = read_result(seg)
    assert list(back.maps) == ["Effusion"] and back.method == "gradcam"
    assert np.abs(back.maps["Effusion"] - np.load(npy)).max() <= 0.5 / 255 + 1e-6
    assert dciodvfy_problems(seg)[0] == []


def test_info_lists_results_with_the_images_they_reference(tiny_pack_dir, tmp_path, capsys):
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(DX, folder / "image.dcm")
    main(["predict", str(DX), "--pack", str(tiny_pack_dir), "--sr", str(folder / "ai.dcm"), "--json"])
    capsys.readouterr()
    assert main(["info", str(folder), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["image_count"] == 1
    [result] = document["results"]
    assert result["kind"] == "SR" and result["referenced_paths"] == [str(folder / "image.dcm")]
    assert result["algorithm"] == "tiny-test-pack 0.0.1" and len(result["findings"]) == 17
    assert main(["info", str(folder)]) == 0
    assert "Result SR" in capsys.readouterr().out
