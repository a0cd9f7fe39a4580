"""A tiny random-weight model pack, built in seconds through the real export code.

It exercises export → load → predict without training: every front end can be tested with it.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

TINY_SIZE = 64
TINY_TEXTS = [
    "Heart size is normal. The lungs are clear. No pleural effusion or pneumothorax.",
    "Cardiomegaly. Small left pleural effusion. Mild pulmonary edema.",
    "Right lower lobe consolidation consistent with pneumonia.",
    "Calcified granuloma in the right upper lobe. No acute disease.",
    "Left apical pneumothorax. Right internal jugular catheter in place.",
    "Hyperinflated lungs consistent with emphysema. Hiatal hernia.",
] * 3


def tiny_model_config(vocab_size: int):
    """A model config small enough to build and run in well under a second."""
    from engine.reports.labels import LABEL_NAMES
    from engine.model.fusion import ModelConfig

    return ModelConfig(
        labels=LABEL_NAMES, image_encoder="convnext_atto",
        image_encoder_kwargs={"dims": [8, 16, 32, 48], "depths": [1, 1, 1, 1]},
        text=dict(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=64, max_position_embeddings=64),
        max_text_tokens=48, fusion_dim=32, fusion_layers=1, fusion_heads=2, embed_dim=16, dropout=0.0)


def build_tiny_pack(out_dir: Path) -> Path:
    """Build a random-weight pack in ``out_dir`` with training.export.export_pack; return the folder."""
    import torch

    from engine.gate import fit_ood, ood_features, ood_scores, ood_threshold
    from engine.model.fusion import FusionModel
    from engine.model.preprocess import PreprocessParams
    from training.export import export_pack
    from training.tokenizer import train_tokenizer

    torch.manual_seed(0)
    work = out_dir.parent / (out_dir.name + "-work")
    work.mkdir(parents=True, exist_ok=True)
    vocab = train_tokenizer(TINY_TEXTS, work / "tokenizer.json", vocab_size=300, min_frequency=1)
    model = FusionModel(tiny_model_config(vocab)).eval()
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.normal(0, 1, (24, 1, TINY_SIZE, TINY_SIZE)).astype(np.float32))
    with torch.inference_mode():
        features = ood_features(model(image=images))
    stats = fit_ood(features[:16])
    threshold = ood_threshold(ood_scores(features[16:], stats))
    labels = model.config.labels
    calibration = {"temperature": {"image": 1.0, "text": 1.5, "joint": 1.2}, "bias": {"text": [0.25] * len(labels)},
                   "thresholds": {m: [0.5] * len(labels) for m in ("image", "text", "joint")},
                   "threshold_method": "fixed 0.5 (untrained test pack)"}
    return export_pack(
        out_dir, model, work / "tokenizer.json", PreprocessParams(size=TINY_SIZE), calibration, stats,
        threshold, {name: 0.1 for name in labels}, {}, {"description": "none: random weights for tests"},
        name="tiny-test-pack", version="0.0.1", changelog=["0.0.1: random weights for tests"],
        weights_dtype="float16")


@pytest.fixture(scope="session")
def tiny_pack_dir(tmp_path_factory) -> Path:
    """A pristine tiny pack folder (do not modify; copy it with ``tiny_pack_copy``)."""
    return build_tiny_pack(tmp_path_factory.mktemp("packs") / "tiny")


@pytest.fixture()
def tiny_pack_copy(tiny_pack_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny pack that a test may damage."""
    return Path(shutil.copytree(tiny_pack_dir, tmp_path / "pack"))


@pytest.fixture(scope="session")
def tiny_predictor(tiny_pack_dir: Path):
    """A Predictor over the tiny pack."""
    from engine.predict import Predictor
    return Predictor(tiny_pack_dir)


@pytest.fixture()
def chest_like_image() -> np.ndarray:
    """A 300×250 grey image in [0, 1] with two darker 'lungs' (display convention)."""
    yy, xx = np.mgrid[0:300, 0:250].astype(np.float32)
    image = 0.7 - 0.4 * (((xx - 75) / 45) ** 2 + ((yy - 150) / 100) ** 2 < 1)
    image -= 0.4 * (((xx - 175) / 45) ** 2 + ((yy - 150) / 100) ** 2 < 1)
    return np.clip(image + 0.02 * np.random.default_rng(1).standard_normal(image.shape), 0, 1).astype(np.float32)
