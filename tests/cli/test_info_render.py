"""`cxr-lens info` and `cxr-lens render` as a user runs them (exit codes, JSON on stdout)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image as PILImage

from cxr_lens.cli import main


@pytest.fixture()
def mixed_folder(tmp_path, rg1_path, pydicom_data_dir):
    shutil.copy(rg1_path, tmp_path / "rg1.dcm")
    shutil.copy(pydicom_data_dir / "emri_small.dcm", tmp_path / "mr.dcm")
    (tmp_path / "zero.dcm").write_bytes(b"")
    (tmp_path / "text.dcm").write_text("not dicom at all\n" * 10)
    truncated = tmp_path / "cut.dcm"
    truncated.write_bytes(rg1_path.read_bytes()[:200_000])
    return tmp_path


def test_info_json_lists_good_images_and_each_bad_file(mixed_folder, capsys):
    code = main(["info", str(mixed_folder), "--json"])
    document = json.loads(capsys.readouterr().out)  # stdout is exactly one JSON document
    assert code == 3  # documented: some files failed, the rest loaded
    assert document["image_count"] == 2
    bad = {error["path"].split("/")[-1]: error["reason"] for error in document["errors"]}
    assert set(bad) == {"zero.dcm", "text.dcm", "cut.dcm"}
    assert "truncated" in bad["cut.dcm"] and "empty" in bad["zero.dcm"]
    modalities = {s["modality"] for st in document["studies"] for s in st["series"]}
    assert modalities == {"CR", "MR"}


def test_info_text_on_a_good_file_exits_zero(rg1_path, capsys):
    assert main(["info", str(rg1_path)]) == 0
    out = capsys.readouterr().out
    assert "MONOCHROME1" in out and "1841x1955" in out and "no spacing" in out


def test_info_on_unreadable_input_exits_two(tmp_path, capsys):
    (tmp_path / "x.dcm").write_text("nope")
    assert main(["info", str(tmp_path / "x.dcm")]) == 2
    assert main(["info", str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err


def test_render_writes_a_png_with_the_requested_window(rg1_path, tmp_path):
    default_png, narrow_png = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["render", str(rg1_path), "--out", str(default_png)]) == 0
    assert main(["render", str(rg1_path), "--out", str(narrow_png), "--window", "2000,500"]) == 0
    default, narrow = np.asarray(PILImage.open(default_png)), np.asarray(PILImage.open(narrow_png))
    assert default.shape == narrow.shape == (1955, 1841) and default.dtype == np.uint8
    assert not np.array_equal(default, narrow)


def test_render_bad_window_is_a_usage_error(rg1_path, tmp_path):
    with pytest.raises(SystemExit) as stop:
        main(["render", str(rg1_path), "--out", str(tmp_path / "x.png"), "--window", "wide"])
    assert stop.value.code == 1
