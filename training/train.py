"""``python -m training train --config training/configs/demo.yaml``: train a FusionModel.

Writes a run folder (see :mod:`training.runs`) named after the config, encoder, input size,
schedule and seed. Every batch trains the image-only, text-only and image+text modes (modality
dropout without wasted encoder passes) with per-label weighted BCE, plus an image↔text InfoNCE
term. Resumable: ``--resume RUN_DIR`` continues from ``last.pt`` (read with weights_only=True).
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import yaml

from engine.errors import EngineError
from engine.reports.labels import LABEL_NAMES
from engine.model.preprocess import PreprocessParams
from training.dataset import build_cache, read_records
from training.runs import image_batch, read_json, split_outputs, write_json

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent


def load_config(path: str | Path) -> dict:
    """Read a YAML training config."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise EngineError(f"cannot read the training config ({error})", path=path) from error


def run_name(config: dict) -> str:
    """Readable run name: ``<name>-<encoder>-<size>px-<epochs>ep-seed<seed>-<UTC stamp>``."""
    model = config["model"]
    return (f"{config['name']}-{model['image_encoder']}-{config['preprocessing']['size']}px-"
            f"{config['train']['epochs']}ep-seed{config['seed']}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}")


def prepare_data(config: dict, progress=None):
    """Read records, build the uint8 caches; return ``{split: (records, cache)}``."""
    data = config["data"]
    params = PreprocessParams.from_dict(config["preprocessing"])
    records = read_records(ROOT / data["manifest"])
    cache_dir = ROOT / data.get("cache_dir", "data/cache")
    splits = {}
    for split in ("train", "val", "test"):
        subset = [r for r in records if r.split == split]
        if not subset:
            raise EngineError(f"the paired set has no {split} split", path=ROOT / data["manifest"])
        limit = data.get("limit", {}).get(split)
        subset = subset[:limit] if limit else subset
        cache = build_cache(subset, params, cache_dir / f"{split}_{params.size}_{len(subset)}.npy", progress)
        splits[split] = (subset, cache)
    return splits


def random_affine(batch: int, settings: dict, generator):
    """Return ``(batch, 2, 3)`` affine matrices: random scale, small rotation and shift."""
    import torch

    rand = lambda: torch.rand(batch, generator=generator) * 2 - 1  # noqa: E731 - local shorthand
    scale = 1 + settings.get("scale", 0.0) * rand()
    angle = math.radians(settings.get("rotate_deg", 0.0)) * rand()
    shift = settings.get("shift", 0.0)
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0] = torch.cos(angle) / scale
    theta[:, 0, 1] = -torch.sin(angle) / scale
    theta[:, 1, 0] = torch.sin(angle) / scale
    theta[:, 1, 1] = torch.cos(angle) / scale
    theta[:, 0, 2] = shift * rand()
    theta[:, 1, 2] = shift * rand()
    return theta


def warp(maps, theta):
    """Apply affine ``theta`` to ``(batch, C, H, W)`` maps (zeros outside)."""
    import torch.nn.functional as F
    grid = F.affine_grid(theta, list(maps.shape), align_corners=False)
    return F.grid_sample(maps, grid, align_corners=False, padding_mode="zeros")


def augment(images, theta, settings: dict, generator):
    """Warp a normalised batch with ``theta`` (padding stays at the image's floor) and jitter contrast/brightness."""
    import torch

    batch = images.shape[0]
    rand = lambda: torch.rand(batch, generator=generator) * 2 - 1  # noqa: E731 - local shorthand
    floor = images.amin(dim=(1, 2, 3), keepdim=True)
    moved = warp(images - floor, theta) + floor
    contrast = 1 + settings.get("contrast", 0.0) * rand().view(-1, 1, 1, 1)
    brightness = settings.get("brightness", 0.0) * rand().view(-1, 1, 1, 1) * 4  # normalised units (std 0.25)
    return moved * contrast + brightness


# a lesion cell's weight against the other (cell, label) entries of the token-mask loss (train.mask_pos_weight)
MASK_POS_WEIGHT = 4.0


def token_loss(token_logits, grid: tuple[int, int], targets, theta, pos_weight: float = MASK_POS_WEIGHT):
    """BCE of per-token label logits against warped lesion-mask targets; unknown entries are ignored.

    ``targets`` is uint8 ``(batch, labels, h, w)`` from :func:`training.dataset.build_mask_cache`.
    """
    import torch
    import torch.nn.functional as F

    from training.dataset import MASK_UNKNOWN

    known = (targets != MASK_UNKNOWN).float()
    positive = warp((targets == 1).float(), theta) > 0.25
    logits = token_logits.transpose(1, 2).reshape(targets.shape[0], targets.shape[1], *grid)
    loss = F.binary_cross_entropy_with_logits(logits, positive.float(), reduction="none",
                                              pos_weight=torch.tensor(pos_weight))
    return (loss * known).sum() / known.sum().clamp_min(1.0)


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def build_model(config: dict, vocab_size: int):
    """Build the FusionModel from the config (and local pretrained weights when given)."""
    from engine.model.fusion import (FusionModel, ModelConfig, bert_config_from_folder, load_pretrained_image,
                              load_pretrained_text)

    model_cfg = dict(config["model"])
    pretrained = config.get("pretrained") or {}
    text = dict(model_cfg.pop("text"))
    if pretrained.get("text"):
        text = bert_config_from_folder(ROOT / pretrained["text"])
    else:
        text["vocab_size"] = vocab_size
    model = FusionModel(ModelConfig(labels=tuple(config.get("labels", LABEL_NAMES)), text=text, **model_cfg))
    if pretrained.get("image"):
        load_pretrained_image(model, ROOT / pretrained["image"])
    if pretrained.get("text"):
        load_pretrained_text(model, ROOT / pretrained["text"])
    return model


def _losses(outputs: dict, labels, pos_weight, weights: dict, masks=None, theta=None,
            mask_pos_weight: float = MASK_POS_WEIGHT):
    import torch
    import torch.nn.functional as F

    total, parts = 0.0, {}
    for mode in ("image", "text", "joint"):
        loss = F.binary_cross_entropy_with_logits(outputs[mode].logits, labels, pos_weight=pos_weight)
        parts[mode] = float(loss.detach())
        total = total + weights.get(mode, 1.0) * loss
    img, txt = outputs["image"].image_embedding, outputs["text"].text_embedding
    if weights.get("contrastive", 0) > 0:
        model_scale = outputs["scale"]
        sims = model_scale * img @ txt.T
        target = torch.arange(len(img))
        contrastive = (F.cross_entropy(sims, target) + F.cross_entropy(sims.T, target)) / 2
        parts["contrastive"] = float(contrastive.detach())
        total = total + weights["contrastive"] * contrastive
    if masks is not None and outputs["image"].token_logits is not None:
        lesion = token_loss(outputs["image"].token_logits, outputs["image"].image_grid, masks, theta, mask_pos_weight)
        parts["mask"] = float(lesion.detach())
        total = total + weights.get("mask", 1.0) * lesion
    return total, parts


def _macro_auroc(labels: np.ndarray, logits: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score
    values = [roc_auc_score(labels[:, j], logits[:, j]) for j in range(labels.shape[1])
              if 0 < labels[:, j].sum() < len(labels)]
    return float(np.mean(values)) if values else float("nan")


def train(config: dict, resume: str | Path | None = None) -> Path:
    """Train per ``config``; return the run folder."""
    import torch
    from tqdm import tqdm

    from engine.model.fusion import encode_texts, load_tokenizer
    from training.tokenizer import tokenizer_from_bert_folder, train_tokenizer

    settings = config["train"]
    torch.set_num_threads(int(settings.get("threads", 2)))
    seed = int(config["seed"])
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    params = PreprocessParams.from_dict(config["preprocessing"])
    splits = prepare_data(config, tqdm)
    train_records, train_cache = splits["train"]
    val_records, val_cache = splits["val"]

    run = Path(resume) if resume else ROOT / config.get("runs_dir", "runs") / run_name(config)
    run.mkdir(parents=True, exist_ok=True)
    pretrained_text = (config.get("pretrained") or {}).get("text")
    if not (run / "tokenizer.json").is_file():
        if pretrained_text:
            tokenizer_from_bert_folder(ROOT / pretrained_text, run / "tokenizer.json")
        else:
            train_tokenizer((r.text for r in train_records), run / "tokenizer.json",
                            vocab_size=int(config["tokenizer"]["vocab_size"]))
    model_config_vocab = load_tokenizer(run / "tokenizer.json", 8).get_vocab_size()
    model = build_model(config, model_config_vocab)
    tokenizer = load_tokenizer(run / "tokenizer.json", model.config.max_text_tokens)
    mask_cache = None
    if model.config.token_head:
        from training.dataset import build_mask_cache
        with torch.no_grad():
            _, grid = model.encode_image(torch.zeros(1, 1, params.size, params.size))
        mask_cache = torch.from_numpy(build_mask_cache(
            train_records, params, grid[0], model.config.labels,
            ROOT / config["data"].get("cache_dir", "data/cache") / f"train_masks_{params.size}_{grid[0]}_{len(train_records)}.npy"))
    labels = np.stack([r.labels for r in train_records])
    prevalence = labels.mean(axis=0)
    pos_weight = torch.tensor(np.clip(np.sqrt((1 - prevalence) / np.maximum(prevalence, 1e-3)), 1.0,
                                      float(settings.get("pos_weight_cap", 4.0))), dtype=torch.float32)
    write_json(run / "config.json", {**config, "model_config": model.config.to_dict()})
    write_json(run / "data.json", {
        "counts": {split: len(recs) for split, (recs, _) in splits.items()},
        "prevalence": {name: float(p) for name, p in zip(model.config.labels, prevalence)},
        "training_data": config.get("training_data", {"description": str(config["data"]["manifest"])}),
    })

    encoder_params = list(model.image_encoder.parameters())
    encoder_ids = {id(p) for p in encoder_params}
    optimizer = torch.optim.AdamW([
        {"params": encoder_params, "lr": float(settings["lr"])},
        {"params": [p for p in model.parameters() if id(p) not in encoder_ids], "lr": float(settings.get("lr_other", settings["lr"]))},
    ], weight_decay=float(settings.get("weight_decay", 0.05)))
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    batch_size = int(settings["batch_size"])
    steps_per_epoch = len(train_records) // batch_size
    total_steps = steps_per_epoch * int(settings["epochs"])
    start_epoch, best, step = 0, -1.0, 0
    if resume and (run / "last.pt").is_file():
        state = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, best, step = int(state["epoch"]) + 1, float(state["best"]), int(state["step"])
        rng = np.random.default_rng(seed + start_epoch)
        log.info("resumed %s at epoch %d", run, start_epoch)
    texts = [r.text for r in train_records]
    label_tensor = torch.from_numpy(labels)
    weights = settings.get("loss_weights", {})
    mask_pos_weight = float(settings.get("mask_pos_weight", MASK_POS_WEIGHT))
    for epoch in range(start_epoch, int(settings["epochs"])):
        model.train()
        order = rng.permutation(len(train_records))
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{settings['epochs']}")
        sums, started = {}, time.perf_counter()
        for b in bar:
            idx = np.sort(order[b * batch_size:(b + 1) * batch_size])
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * _lr_factor(step, total_steps, int(settings.get("warmup_steps", 100)))
            theta = random_affine(len(idx), settings.get("augment", {}), generator)
            images = augment(image_batch(train_cache, idx, params), theta, settings.get("augment", {}), generator)
            ids, mask = encode_texts(tokenizer, [texts[i] for i in idx])
            outputs = dict(model.forward_modes(images, ids, mask), scale=model.logit_scale.exp().clamp(max=100))
            loss, parts = _losses(outputs, label_tensor[idx], pos_weight, weights,
                                  None if mask_cache is None else mask_cache[idx], theta, mask_pos_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            optimizer.step()
            step += 1
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.set_postfix({k: f"{v / (b + 1):.3f}" for k, v in sums.items()})
        model.eval()
        val = split_outputs(model, val_cache, [r.text for r in val_records], tokenizer, params)
        val_labels = np.stack([r.labels for r in val_records])
        row = {"epoch": epoch + 1, "step": step, "seconds": round(time.perf_counter() - started, 1),
               "images_per_s": round(steps_per_epoch * batch_size / (time.perf_counter() - started), 2),
               **{f"train_{k}": round(v / steps_per_epoch, 4) for k, v in sums.items()},
               **{f"val_auroc_{m}": round(_macro_auroc(val_labels, val[m]), 4) for m in ("image", "text", "joint")}}
        with open(run / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        log.info("epoch %d: %s", epoch + 1, row)
        score = row["val_auroc_image"] + row["val_auroc_joint"]
        if score > best:
            best = score
            from safetensors.torch import save_file
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(run / "model.safetensors"))
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                    "best": best, "step": step}, run / "last.pt")
    return run


def register(subparsers) -> None:
    """Add the ``train`` step."""
    parser = subparsers.add_parser("train", help="train a FusionModel from a YAML config into a run folder")
    parser.add_argument("--config", default=str(ROOT / "training" / "configs" / "demo.yaml"))
    parser.add_argument("--resume", help="run folder to continue from its last.pt")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the train step; print the run folder on stdout."""
    config = read_json(Path(args.resume) / "config.json") if args.resume else load_config(args.config)
    print(train(config, args.resume))
    return 0
