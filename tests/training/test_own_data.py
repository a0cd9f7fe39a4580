"""Training on a user's data: quick.yaml end to end on a generated NIH-layout set, DDP on CPU, pretrained weights, progress."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.training.datasets import write_nih
from training.__main__ import main as training_main

ROOT = Path(__file__).resolve().parents[2]


def _nih_manifest(tmp_path, n=60, size=64):
    data = write_nih(tmp_path / "nih", n=n, size=size, faults=False)
    manifest = tmp_path / "data" / "manifest.csv"
    assert training_main(["manifest", "--format", "nih14", "--labels", str(data["labels"]), "--images",
                          str(data["images"]), "--out", str(manifest)]) == 0
    return manifest


def _quick(tmp_path, **train):
    """quick.yaml with the test-only overrides: tiny input, one short epoch, runs under tmp_path."""
    config = yaml.safe_load((ROOT / "training" / "configs" / "quick.yaml").read_text())
    config["preprocessing"]["size"] = 64
    config["train"].update(epochs=1, batch_size=16, warmup_steps=2, **train)
    config["runs_dir"] = str(tmp_path / "runs")
    path = tmp_path / "quick-test.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_quick_config_trains_an_image_only_pack_that_predicts(tmp_path, capsys):
    from cxr_lens.cli import main as cli_main

    manifest = _nih_manifest(tmp_path)
    pack = tmp_path / "pack"
    capsys.readouterr()
    assert training_main(["all", "--config", str(_quick(tmp_path)), "--manifest", str(manifest),
                          "--out", str(pack)]) == 0
    assert capsys.readouterr().out.strip() == str(pack)
    run = next((tmp_path / "runs").iterdir())
    train_images = json.loads((run / "data.json").read_text())["counts"]["train"]
    assert (run / "metrics.csv").is_file() and len((run / "steps.csv").read_text().splitlines()) == 1 + train_images // 16
    manifest_json = json.loads((pack / "manifest.json").read_text())
    assert manifest_json["training_data"]["image_only"] is True and "image-only" in manifest_json["task"]
    assert set(manifest_json["metrics"]["modes"]) == {"image"}
    card = (pack / "README.md").read_text()
    assert "NIH ChestX-ray14" in card and "Opacity <- Infiltration, Consolidation" in card
    assert "Fracture, Support Devices" in card            # named as missing, not negative
    assert "| Cardiomegaly |" in card and "AUROC image" in card
    image = next((tmp_path / "nih").rglob("*.png"))
    assert cli_main(["predict", str(image), "--pack", str(pack), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mode"] == "image" and len(result["findings"]) == 17
    never_trained = {f["name"]: f for f in result["findings"] if f["name"] in ("Granuloma", "Fracture", "Support Devices")}
    assert len(never_trained) == 3 and all(f["threshold"] == 1.0 and not f["positive"] for f in never_trained.values())
    # an image-only pack leaves a report aside (its joint mode is untrained) and cannot read one alone
    assert cli_main(["predict", str(image), "--pack", str(pack), "--report", "Large right effusion.", "--json"]) == 0
    with_report = json.loads(capsys.readouterr().out)
    assert with_report["mode"] == "image" and with_report["findings"] == result["findings"]
    from engine.errors import ModelError
    from engine.predict import Predictor
    with pytest.raises(ModelError, match="image-only"):
        Predictor(pack).predict(report="Large right effusion.")
    folder = tmp_path / "to-scan"
    folder.mkdir()
    for source in sorted((tmp_path / "nih").rglob("*.png"))[:3]:
        (folder / source.name).write_bytes(source.read_bytes())
    assert cli_main(["scan", str(folder), "--out", str(tmp_path / "scan"), "--pack", str(pack)]) == 0
    with open(tmp_path / "scan" / "summary.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 3
    if importlib.util.find_spec("PySide6") is not None:   # the viewer, where Qt is installed
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CXR_LENS_SETTINGS=str(tmp_path / "s.ini"))
        done = subprocess.run([sys.executable, "-m", "cxr_lens", "view", str(image), "--pack", str(pack),
                               "--screenshot", str(tmp_path / "shot.png"), "--fresh"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "pack selftest passed" in done.stderr, done.stderr[-2000:]
        assert (tmp_path / "shot.png").stat().st_size > 0


def test_all_needs_out_for_a_non_demo_config(tmp_path):
    assert training_main(["all", "--config", str(_quick(tmp_path)), "--manifest", str(tmp_path / "m.csv")]) == 1


def _steps(run: Path) -> list[float]:
    with open(run / "steps.csv", newline="") as handle:
        return [float(row["loss"]) for row in csv.DictReader(handle)]


@pytest.mark.slow
def test_two_process_ddp_on_cpu_gives_the_single_process_loss_curve(tmp_path):
    manifest = _nih_manifest(tmp_path, n=40, size=32)
    config = yaml.safe_load((ROOT / "training" / "configs" / "quick.yaml").read_text())
    config["preprocessing"]["size"] = 32
    config["model"].update(image_encoder="convnext_atto", dropout=0.0,      # LayerNorm: no batch statistics
                           image_encoder_kwargs={"dims": [8, 16, 24, 32], "depths": [1, 1, 1, 1]})
    config["train"].update(epochs=1, batch_size=8, steps_per_epoch=4, warmup_steps=2, threads=1, workers=1)
    config["index"] = None
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    base = ["train", "--config", str(path), "--manifest", str(manifest)]
    subprocess.run([sys.executable, "-m", "training", *base, "--run-dir", str(tmp_path / "one")],
                   check=True, cwd=ROOT, env=env, timeout=300, capture_output=True)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--standalone", "-m", "training", *base, "--run-dir", str(tmp_path / "two")],
                          cwd=ROOT, env=env, timeout=300, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 process(es)" in done.stderr
    one, two = _steps(tmp_path / "one"), _steps(tmp_path / "two")
    assert len(one) == len(two) == 4
    assert np.allclose(one, two, rtol=2e-3, atol=1e-4), (one, two)
    assert one[0] != one[-1]   # it trained


def test_pretrained_image_and_text_weights_arrive_through_the_config(tmp_path):
    import timm
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    from training.train import build_model

    kwargs = {"dims": [8, 16, 24, 32], "depths": [1, 1, 1, 1]}
    rgb = timm.create_model("convnext_atto", pretrained=False, num_classes=0, in_chans=3, **kwargs).state_dict()
    torch.save({"state_dict": rgb}, tmp_path / "encoder.pth")
    save_file({k: v.contiguous() for k, v in rgb.items()}, str(tmp_path / "encoder.safetensors"))
    bert = BertModel(BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=64, max_position_embeddings=64), add_pooling_layer=False)
    bert.save_pretrained(tmp_path / "bert")
    config = yaml.safe_load((ROOT / "training" / "configs" / "quick.yaml").read_text())
    config["model"].update(image_encoder="convnext_atto", image_encoder_kwargs=kwargs, fusion_heads=2)
    stem = "stem.0.weight"
    for weights in ("encoder.pth", "encoder.safetensors"):
        config["pretrained"] = {"image": str(tmp_path / weights), "text": str(tmp_path / "bert")}
        model = build_model(config, vocab_size=999)
        own = model.image_encoder.state_dict()
        assert torch.equal(own[stem], rgb[stem].sum(dim=1, keepdim=True))   # RGB stem summed to one channel
        assert torch.equal(own["stages.3.blocks.0.mlp.fc1.weight"], rgb["stages.3.blocks.0.mlp.fc1.weight"])
        assert model.config.text["vocab_size"] == 120 and model.config.text["hidden_size"] == 32
        for key, value in bert.state_dict().items():
            assert torch.equal(model.text_encoder.state_dict()[key], value), key


def test_progress_is_a_bar_on_a_tty_and_log_lines_elsewhere(caplog):
    from training.progress import LogProgress, progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    bar = progress(range(3), "epoch 1/1", stream=Terminal())
    assert type(bar).__name__ == "tqdm" and list(bar) == [0, 1, 2]
    plain = progress(range(500), "cache", stream=io.StringIO())
    assert isinstance(plain, LogProgress)
    plain.every_s = 0.0
    plain.set_postfix({"image": "0.690"})
    with caplog.at_level(logging.INFO, logger="training.progress"):
        assert sum(plain) == sum(range(500))
    lines = [r.getMessage() for r in caplog.records]
    assert lines[-1].startswith("cache: 500/500 (100%)") and "[image=0.690]" in lines[-1]
    quiet = progress(range(500), "cache", stream=io.StringIO())
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="training.progress"):
        list(quiet)
    assert len(caplog.records) == 1   # default: one line per 30 s at most, plus the last


def test_cache_built_by_two_spawned_workers_equals_one_process(tmp_path):
    from engine.model.preprocess import PreprocessParams
    from training.dataset import build_cache, read_records

    records = read_records(_nih_manifest(tmp_path, n=12, size=48))
    params = PreprocessParams.from_dict({"size": 32, "mean": 0.5, "std": 0.25, "pad_value": 0.0})
    one = build_cache(records, params, tmp_path / "one.npy")
    two = build_cache(records, params, tmp_path / "two.npy", workers=2)
    assert one.shape == (12, 32, 32) and np.array_equal(one, two) and one.std() > 0


def test_runtime_picks_the_device_and_refuses_what_is_not_there():
    import torch

    from engine.errors import EngineError
    from training.distributed import autocast, start_runtime

    runtime = start_runtime({"device": "cpu", "amp": "auto"})
    assert runtime.device.type == "cpu" and runtime.amp_dtype is None and runtime.world == 1 and runtime.main
    with autocast(runtime):
        assert torch.ones(2).dtype == torch.float32   # no autocast on CPU
    for settings in ({"device": "tpu"}, {"amp": "fp8"}) + (({"device": "cuda"},) if not torch.cuda.is_available() else ()):
        with pytest.raises(EngineError):
            start_runtime(settings)
