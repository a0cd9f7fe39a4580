"""The training pipeline end to end on a tiny made-up paired set: train → calibrate → evaluate → export → load."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml
from PIL import Image as PILImage

from engine.reports.labels import LABEL_NAMES

pytestmark = pytest.mark.slow


def _make_paired_set(folder, n=112, seed=0):
    """PNG 'films' where Cardiomegaly is a big central blob and Effusion a bright base; matching texts."""
    rng = np.random.default_rng(seed)
    rows = []
    yy, xx = np.mgrid[0:96, 0:80]
    for i in range(n):
        cardio, effusion = rng.random() < 0.4, rng.random() < 0.4
        image = 0.3 + 0.05 * rng.standard_normal((96, 80))
        radius = 22 if cardio else 11
        image[((yy - 55) ** 2 + (xx - 40) ** 2) < radius ** 2] += 0.4
        if effusion:
            image[80:] += 0.45
        path = folder / f"img{i:03d}.png"
        PILImage.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)
        text = " ".join(["The heart is enlarged." if cardio else "Heart size is normal.",
                         "There is a pleural effusion." if effusion else "No pleural effusion."])
        split = "train" if i < 64 else ("val" if i < 88 else "test")
        labels = {name: 0 for name in LABEL_NAMES}
        labels["Cardiomegaly"], labels["Effusion"] = int(cardio), int(effusion)
        labels["No Finding"] = int(not (cardio or effusion))
        rows.append({"id": f"s{i}", "image_path": path.name, "split": split, "view": "PA", "report": text, **labels})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def _tiny_config(tmp_path, manifest, epochs: int) -> dict:
    config = yaml.safe_load(open("training/configs/demo.yaml"))
    config["data"] = {"manifest": str(manifest), "cache_dir": str(tmp_path / "cache")}
    config["preprocessing"]["size"] = 64
    config["model"].update(image_encoder="convnext_atto", image_encoder_kwargs={"dims": [8, 16, 32, 48], "depths": [1, 1, 1, 1]},
                           text={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                 "intermediate_size": 64, "max_position_embeddings": 64},
                           max_text_tokens=32, fusion_dim=32, fusion_heads=2, embed_dim=16)
    config["tokenizer"]["vocab_size"] = 200
    config["train"].update(epochs=epochs, batch_size=16, warmup_steps=2)
    config["runs_dir"] = str(tmp_path / "runs")
    config["index"] = None
    return config


def test_training_resumes_from_last_checkpoint(tmp_path):
    from training.runs import read_json, write_json
    from training.train import train

    manifest = _make_paired_set(tmp_path)
    run = train(_tiny_config(tmp_path, manifest, epochs=1))
    config = read_json(run / "config.json")
    config["train"]["epochs"] = 2  # as if the run had been stopped after its first epoch
    write_json(run / "config.json", config)
    assert train(config, resume=run) == run
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]
    import torch
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert state["step"] == 2 * (64 // 16)  # the second epoch continued the step count, not restarted it


def test_pipeline_builds_a_loadable_pack(tmp_path):
    from engine.model.pack import load_pack
    from engine.predict import Predictor
    from training.pipeline import build_pack

    manifest = _make_paired_set(tmp_path)
    config = _tiny_config(tmp_path, manifest, epochs=3)
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(config))

    pack_dir = build_pack(config_path, tmp_path / "pack", "pipeline-test", "0.0.1", "test")
    run = next((tmp_path / "runs").iterdir())
    assert run.name.startswith("demo-convnext_atto-64px-3ep-seed7-")
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert evaluation["count"] == 24 and set(evaluation["modes"]) == {"image", "text", "joint"}
    # the text states the labels verbatim: even 3 tiny epochs should read it better than chance
    assert evaluation["modes"]["text"]["summary"]["macro_auroc"] > 0.6
    pack = load_pack(pack_dir)
    assert pack.manifest["metrics"]["modes"]["image"]["per_label"]["Cardiomegaly"]["positives"] > 0
    assert pack.manifest["labels"][1]["thresholds"]["joint"] > 0
    image = np.asarray(PILImage.open(tmp_path / "img070.png"), dtype=np.float32) / 255.0  # a validation image
    result = Predictor(pack).predict(image, "The heart is enlarged.")
    assert result.mode == "joint" and len(result.findings) == len(LABEL_NAMES)


def test_export_over_an_earlier_version_keeps_its_changelog(tmp_path):
    from training.export import _earlier_changelog

    (tmp_path / "manifest.json").write_text(json.dumps({"name": "demo", "changelog": ["0.1.0: first", "0.2.0: draft"]}))
    assert _earlier_changelog(tmp_path, "demo", "0.2.0") == ["0.1.0: first"]
    assert _earlier_changelog(tmp_path, "other", "0.2.0") == []
    assert _earlier_changelog(tmp_path / "missing", "demo", "0.2.0") == []


def test_token_loss_weighs_lesion_cells_and_ignores_unknown_ones():
    import torch

    from training.dataset import MASK_UNKNOWN
    from training.losses import token_loss

    targets = torch.zeros(1, 2, 4, 4, dtype=torch.uint8)
    targets[0, 0, 1, 1] = 1                       # one lesion cell of label 0
    targets[0, 1] = MASK_UNKNOWN                  # label 1: positive without a mask
    logits = torch.zeros(1, 16, 2)                # (batch, tokens, labels): p = 0.5 everywhere
    identity = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    ln2 = float(np.log(2.0))
    # 15 negative cells and one positive cell weighted pos_weight, over the 16 known cells
    assert float(token_loss(logits, (4, 4), targets, identity, 1.0)) == pytest.approx(ln2, rel=1e-5)
    assert float(token_loss(logits, (4, 4), targets, identity, 32.0)) == pytest.approx(ln2 * (15 + 32) / 16, rel=1e-5)
