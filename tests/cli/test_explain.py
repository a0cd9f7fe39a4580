"""`cxr-lens explain` as a user runs it, on the tiny random-weight pack."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image as PILImage

from cxr_lens.cli import main


@pytest.fixture()
def chest_png(tmp_path, chest_like_image):
    path = tmp_path / "chest.png"
    PILImage.fromarray(np.round(chest_like_image * 255).astype(np.uint8)).save(path)
    return path


def test_explain_writes_overlay_npy_and_one_json_document(chest_png, tiny_pack_dir, tmp_path, capsys):
    out, npy = tmp_path / "overlay.png", tmp_path / "map.npy"
    report = tmp_path / "report.txt"
    report.write_text("Large right pleural effusion.\n", encoding="utf-8")
    code = main(["explain", str(chest_png), "--label", "effusion",
                 "--method", "ig", "--steps", "4", "--out", str(out), "--npy", str(npy),
                 "--report-file", str(report), "--pack", str(tiny_pack_dir), "--json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["label"] == "Effusion" and document["method"] == "ig" and document["mode"] == "joint"
    assert [t["text"] for t in document["tokens"]] == ["Large", "right", "pleural", "effusion", "."]
    assert document["details"]["steps"] == 4 and document["gate"]["status"] == "pass"
    overlay = np.asarray(PILImage.open(out))
    assert overlay.shape == (300, 250, 3)
    values = np.load(npy)
    assert values.shape == (300, 250) and 0.0 <= values.min() and values.max() <= 1.0


def test_explain_text_output(chest_png, tiny_pack_dir, tmp_path, capsys):
    code = main(["explain", str(chest_png), "--label", "Nodule", "--method", "attention",
                 "--out", str(tmp_path / "o.png"), "--pack", str(tiny_pack_dir)])
    assert code == 0
    assert "Nodule (image input): probability" in capsys.readouterr().out


def test_unknown_label_is_a_usage_error(chest_png, tiny_pack_dir, tmp_path, capsys):
    code = main(["explain", str(chest_png), "--label", "spleen", "--out", str(tmp_path / "o.png"),
                 "--pack", str(tiny_pack_dir)])
    assert code == 1 and "valid labels" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_unreadable_input_exits_2(tmp_path, tiny_pack_dir, capsys):
    bad = tmp_path / "bad.dcm"
    bad.write_text("not an image")
    code = main(["explain", str(bad), "--label", "Mass", "--out", str(tmp_path / "o.png"),
                 "--pack", str(tiny_pack_dir)])
    assert code == 2 and "bad.dcm" in capsys.readouterr().err


def test_gate_refusal_unless_overridden(pydicom_data_dir, tiny_pack_dir, tmp_path, capsys):
    mr = pydicom_data_dir / "emri_small.dcm"
    out = tmp_path / "o.png"
    args = ["explain", str(mr), "--label", "Mass", "--out", str(out), "--pack", str(tiny_pack_dir)]
    assert main(args) == 2
    assert "--no-gate" in capsys.readouterr().err and not out.exists()
    assert main(args + ["--no-gate"]) == 0 and out.exists()
