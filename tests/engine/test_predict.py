"""Predictor over the tiny pack: modes, calibration arithmetic, embeddings, gate integration, CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ModelError

ROOT = Path(__file__).resolve().parents[2]


def test_image_only_prediction(tiny_predictor, chest_like_image):
    result = tiny_predictor.predict(chest_like_image)
    assert result.mode == "image"
    assert [f.name for f in result.findings] == list(tiny_predictor.labels)
    for finding in result.findings:
        assert 0.0 <= finding.probability <= 1.0
        assert finding.positive == (finding.probability >= finding.threshold)
    assert result.geometry.rows == 300 and result.geometry.cols == 250
    assert {"preprocess", "model", "total"} <= set(result.timing_ms)
    assert json.loads(json.dumps(result.to_dict()))["mode"] == "image"


def test_modes_and_temperature(tiny_predictor, chest_like_image):
    report = "Cardiomegaly with a small left pleural effusion."
    joint = tiny_predictor.predict(chest_like_image, report)
    text = tiny_predictor.predict(None, report)
    assert joint.mode == "joint" and text.mode == "text" and text.gate is None
    # probabilities are sigmoid(logit / T_mode + bias): recompute from the raw logits
    output = tiny_predictor.forward(None, [report])
    expected = 1 / (1 + np.exp(-(output.logits.numpy()[0] / tiny_predictor.temperature["text"] + 0.25)))
    assert np.all(tiny_predictor.bias["image"] == 0.0)
    assert np.allclose([f.probability for f in text.findings], expected, atol=1e-6)
    assert tiny_predictor.temperature["text"] == 1.5


def test_blank_image_refused_but_report_still_read(tiny_predictor):
    blank = np.zeros((256, 256), np.float32)
    alone = tiny_predictor.predict(blank)
    assert alone.mode == "none" and alone.gate.status == "refuse"
    with_report = tiny_predictor.predict(blank, "No acute disease.")
    assert with_report.mode == "text" and len(with_report.findings) == 17


def test_embeddings_are_unit_vectors(tiny_predictor, chest_like_image):
    both = tiny_predictor.embed(chest_like_image, "Normal chest.")
    assert set(both) == {"image", "text", "joint"}
    for vector in both.values():
        assert vector.shape == (16,) and abs(np.linalg.norm(vector) - 1) < 1e-5
    assert set(tiny_predictor.embed(chest_like_image)) == {"image", "joint"}
    assert np.allclose(tiny_predictor.embed(chest_like_image)["image"], both["image"], atol=1e-6)


def test_each_mode_vector_is_the_fused_representation_of_that_input(tiny_predictor, chest_like_image):
    tensor, _ = tiny_predictor.prepare(chest_like_image)
    text = "Small left effusion."
    image_only = tiny_predictor.forward(tensor).joint_embedding[0].numpy()
    text_only = tiny_predictor.forward(None, [text]).joint_embedding[0].numpy()
    both = tiny_predictor.forward(tensor, [text]).joint_embedding[0].numpy()
    vectors = tiny_predictor.embed(chest_like_image, text)
    assert np.allclose(vectors["image"], image_only, atol=1e-5)
    assert np.allclose(vectors["text"], text_only, atol=1e-5)
    assert np.allclose(vectors["joint"], both, atol=1e-5)
    assert np.allclose(tiny_predictor.embed(chest_like_image)["joint"], image_only, atol=1e-5)
    assert not np.allclose(vectors["image"], vectors["joint"], atol=1e-3)


def test_nothing_to_predict(tiny_predictor):
    with pytest.raises(ModelError):
        tiny_predictor.predict(None, "  ")


def test_cli_predict_json(tiny_pack_dir, rg1_path, tmp_path):
    report = tmp_path / "report.txt"
    report.write_text("Heart size normal. No effusion.")
    result = subprocess.run([sys.executable, "-m", "cxr_lens", "predict", str(rg1_path), "--pack", str(tiny_pack_dir),
                             "--report-file", str(report), "--json"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mode"] == "joint" and len(data["findings"]) == 17 and data["gate"]["status"] in ("pass", "warn")
    assert data["file"].endswith("RG1_UNCR.dcm")


def test_cli_predict_unreadable_file(tiny_pack_dir, tmp_path):
    bad = tmp_path / "x.dcm"
    bad.write_bytes(b"not an image")
    result = subprocess.run([sys.executable, "-m", "cxr_lens", "predict", str(bad), "--pack", str(tiny_pack_dir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "x.dcm" in result.stderr


def test_device_option_runs_on_the_cpu_and_names_a_device_it_cannot_use(tiny_pack_dir, chest_like_image):
    import torch

    from engine.predict import Predictor

    on_cpu = Predictor(tiny_pack_dir, device="cpu").predict(chest_like_image, report="Small left effusion.")
    default = Predictor(tiny_pack_dir).predict(chest_like_image, report="Small left effusion.")
    assert [f.probability for f in on_cpu.findings] == [f.probability for f in default.findings]
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="cannot run the model on device 'cuda'"):
            Predictor(tiny_pack_dir, device="cuda")
