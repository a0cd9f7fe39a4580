"""``python -m training train --config training/configs/demo.yaml``: train a FusionModel.

Writes a run folder (see :mod:`training.runs`) named after the config, encoder, input size,
schedule and seed. Every batch trains the image-only, text-only and image+text modes (modality
dropout without wasted encoder passes) with per-label weighted BCE masked to the labels the data
states, plus an image↔text InfoNCE term among images with a report; a dataset without reports
trains the image path alone (see :mod:`training.losses`). Runs on CPU or CUDA, data-parallel
under ``torchrun`` (:mod:`training.distributed`). Checkpoints every epoch; ``--resume RUN_DIR``
continues from ``last.pt`` (read with weights_only=True). Logs per epoch to ``metrics.jsonl``
and ``metrics.csv``, per step to ``steps.csv``.
"""
from __future__ import annotations

import csv
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import yaml

from engine.errors import EngineError
from engine.model.preprocess import PreprocessParams
from engine.reports.labels import LABEL_NAMES
from training.dataset import build_cache, read_records
from training.progress import progress
from training.runs import read_json, write_json

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


def manifest_path(config: dict) -> Path:
    """The config's ``data.manifest`` (relative to the repository, or absolute)."""
    return ROOT / config["data"]["manifest"]


def cache_dir(config: dict) -> Path:
    """``data.cache_dir`` (relative to the repository), else a ``cache`` folder beside the manifest."""
    given = config["data"].get("cache_dir")
    return ROOT / given if given else manifest_path(config).parent / "cache"


def prepare_data(config: dict, show_progress: bool = True):
    """Read records, build the uint8 caches; return ``{split: (records, cache)}``."""
    data = config["data"]
    params = PreprocessParams.from_dict(config["preprocessing"])
    records = read_records(manifest_path(config))
    splits = {}
    for split in ("train", "val", "test"):
        subset = [r for r in records if r.split == split]
        if not subset:
            raise EngineError(f"the manifest has no {split} split", path=manifest_path(config),
                              hint="give every split some images (python -m training manifest splits by patient)")
        limit = data.get("limit", {}).get(split)
        subset = subset[:limit] if limit else subset
        cache = build_cache(subset, params, cache_dir(config) / f"{split}_{params.size}_{len(subset)}.npy",
                            progress if show_progress else None, int(data.get("cache_workers", 1)))
        splits[split] = (subset, cache)
    return splits


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


def _lr_factor(step: int, total: int, warmup: int) -> float:
    import math
    if step < warmup:
        return (step + 1) / warmup
    progress_ = (step - warmup) / max(1, total - warmup)
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress_)))


def _label_arrays(records):
    labels = np.stack([r.labels for r in records])
    known = ~np.isnan(labels)
    return np.nan_to_num(labels, nan=0.0).astype(np.float32), known.astype(np.float32)


def _append_csv(path: Path, row: dict) -> None:
    new = not path.is_file()
    with open(path, "a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def train(config: dict, resume: str | Path | None = None) -> Path:
    """Train per ``config``; return the run folder (the same path in every data-parallel process)."""
    import torch

    from training.augment import augment, random_affine, random_jitter
    from training.distributed import (autocast, barrier, grad_scaler, mean_over_processes, share_from_main,
                                      start_runtime, stop_runtime, wrap)
    from training.losses import MASK_POS_WEIGHT, TrainStep

    settings = config["train"]
    runtime = start_runtime(settings)
    torch.set_num_threads(int(settings.get("threads", 2)))
    seed = int(config["seed"])
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    params = PreprocessParams.from_dict(config["preprocessing"])
    if runtime.main:
        splits = prepare_data(config)
    barrier(runtime)
    if not runtime.main:
        splits = prepare_data(config, show_progress=False)
    train_records, train_cache = splits["train"]
    val_records, val_cache = splits["val"]
    has_text = np.array([bool(r.text.strip()) for r in train_records], dtype=np.float32)
    image_only = not has_text.any()

    run = Path(resume) if resume else Path(share_from_main(
        str(config.get("run_dir") or ROOT / config.get("runs_dir", "runs") / run_name(config)), runtime))
    config = {**config, "run_dir": str(run)}
    if runtime.main:
        _prepare_run_folder(run, config, train_records)
    barrier(runtime)
    model = build_model(config, _vocab_size(run)).to(runtime.device)   # before the optimizer state is loaded
    tokenizer = _tokenizer(run, model)
    mask_cache = _mask_cache(config, model, params, train_records)
    labels, known = _label_arrays(train_records)
    labelled = known.sum(axis=0)
    prevalence = (labels * known).sum(axis=0) / np.maximum(labelled, 1)
    pos_weight = torch.tensor(np.clip(np.sqrt((1 - prevalence) / np.maximum(prevalence, 1e-3)), 1.0,
                                      float(settings.get("pos_weight_cap", 4.0))), dtype=torch.float32)
    if runtime.main:
        write_json(run / "config.json", {**config, "model_config": model.config.to_dict()})
        counts = {split: len(recs) for split, (recs, _) in splits.items()}
        from training.describe import describe_data
        write_json(run / "data.json", {
            "counts": counts, "image_only": bool(image_only), "train_with_report": int(has_text.sum()),
            "prevalence": {name: float(p) for name, p in zip(model.config.labels, prevalence)},
            "labelled": {name: int(n) for name, n in zip(model.config.labels, labelled)},
            "training_data": describe_data(config, counts, image_only, int(has_text.sum())),
        })
        if image_only:
            log.info("no training image has a report: image-only training (text path and contrastive loss off)")

    encoder_params = list(model.image_encoder.parameters())
    encoder_ids = {id(p) for p in encoder_params}
    optimizer = torch.optim.AdamW([
        {"params": encoder_params, "lr": float(settings["lr"])},
        {"params": [p for p in model.parameters() if id(p) not in encoder_ids], "lr": float(settings.get("lr_other", settings["lr"]))},
    ], weight_decay=float(settings.get("weight_decay", 0.05)))
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    batch_size = int(settings["batch_size"])
    steps_per_epoch = int(settings.get("steps_per_epoch") or len(train_records) // batch_size)
    total_steps = steps_per_epoch * int(settings["epochs"])
    start_epoch, best, step = 0, -1.0, 0
    if resume and (run / "last.pt").is_file():
        state = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, best, step = int(state["epoch"]) + 1, float(state["best"]), int(state["step"])
        rng = np.random.default_rng(seed + start_epoch)
        log.info("resumed %s at epoch %d", run, start_epoch)
    step_module = wrap(TrainStep(model, settings.get("loss_weights", {}), pos_weight,
                                 float(settings.get("mask_pos_weight", MASK_POS_WEIGHT)), image_only).to(runtime.device),
                       runtime)
    scaler = grad_scaler(runtime)
    texts = [r.text for r in train_records]
    tensors = {name: torch.from_numpy(array) for name, array in
               (("labels", labels), ("known", known), ("has_text", has_text))}
    augment_settings = settings.get("augment", {})
    loader_workers = int(settings.get("workers", 0))
    for epoch in range(start_epoch, int(settings["epochs"])):
        model.train()
        order = rng.permutation(len(train_records))
        batches = [np.sort(order[b * batch_size:(b + 1) * batch_size]) for b in range(steps_per_epoch)]
        loader = _loader(train_cache, params, [b[runtime.rank::runtime.world].tolist() for b in batches],
                         loader_workers, runtime)
        steps = progress(loader, f"epoch {epoch + 1}/{settings['epochs']}", len(batches)) if runtime.main else loader
        sums, started = {}, time.perf_counter()
        for b, (images, idx) in enumerate(steps):
            mine = slice(runtime.rank, None, runtime.world)
            theta = random_affine(len(batches[b]), augment_settings, generator)[mine].to(runtime.device)
            jitter = random_jitter(len(batches[b]), generator)[mine].to(runtime.device)
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * _lr_factor(step, total_steps, int(settings.get("warmup_steps", 100)))
            images = augment(images.to(runtime.device, non_blocking=True), theta, augment_settings, jitter)
            ids = mask = None
            if not image_only:
                ids, mask = (t.to(runtime.device) for t in _encode(tokenizer, [texts[i] for i in idx.tolist()]))
            batch = {name: t[idx].to(runtime.device) for name, t in tensors.items()}
            with autocast(runtime):
                loss, parts = step_module(images, ids, mask, batch["labels"], batch["known"], batch["has_text"],
                                          None if mask_cache is None else mask_cache[idx].to(runtime.device), theta)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
            scaler.step(optimizer)
            scaler.update()
            step += 1
            step_loss = mean_over_processes(float(loss.detach()), runtime)
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + float(value)
            if runtime.main:
                _append_csv(run / "steps.csv", {"epoch": epoch + 1, "step": step, "loss": round(step_loss, 6),
                                                "lr": optimizer.param_groups[0]["lr"]})
                if hasattr(steps, "set_postfix"):
                    steps.set_postfix({k: f"{v / (b + 1):.3f}" for k, v in sums.items()})
        if runtime.main:
            best = _end_epoch(run, model, optimizer, (val_records, val_cache, tokenizer, params), image_only,
                              {"epoch": epoch, "step": step, "best": best}, sums, steps_per_epoch,
                              steps_per_epoch * batch_size, time.perf_counter() - started)
        barrier(runtime)
    stop_runtime(runtime)
    return run


def _end_epoch(run: Path, model, optimizer, validation: tuple, image_only: bool, state: dict, sums: dict,
               steps: int, images: int, seconds: float) -> float:
    """Validate, log the epoch (metrics.jsonl + metrics.csv), keep the best weights and write last.pt; return best.

    ``validation`` is ``(records, cache, tokenizer, params)``; ``state`` holds ``epoch`` (0-based),
    ``step`` and ``best`` (the best validation score so far); ``steps``, ``images`` and ``seconds``
    are the epoch's training steps, images and wall time (s).
    """
    import torch
    from safetensors.torch import save_file

    from training.losses import macro_auroc
    from training.runs import split_outputs

    val_records, val_cache, tokenizer, params = validation
    epoch, step, best = state["epoch"], state["step"], state["best"]
    model.eval()
    modes = ("image",) if image_only else ("image", "text", "joint")
    val = split_outputs(model, val_cache, [r.text for r in val_records], tokenizer, params, modes=modes,
                        ood=False)
    val_labels = np.stack([r.labels for r in val_records])
    row = {"epoch": epoch + 1, "step": step, "seconds": round(seconds, 1), "images_per_s": round(images / seconds, 2),
           **{f"train_{k}": round(v / steps, 4) for k, v in sums.items()},
           **{f"val_auroc_{m}": round(macro_auroc(val_labels, val[m]), 4) for m in modes}}
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
    _append_csv(run / "metrics.csv", row)
    log.info("epoch %d: %s", epoch + 1, row)
    score = np.nan_to_num(row["val_auroc_image"] + row.get("val_auroc_joint", row["val_auroc_image"]), nan=0.0)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if score > best:
        best = float(score)
        save_file(state, str(run / "model.safetensors"))
    torch.save({"model": state, "optimizer": optimizer.state_dict(), "epoch": epoch, "best": best, "step": step},
               run / "last.pt")
    return best


def _prepare_run_folder(run: Path, config: dict, train_records) -> None:
    """Create the run folder and its tokenizer (a local BERT folder's, else one trained on the reports)."""
    from training.tokenizer import tokenizer_from_bert_folder, train_tokenizer

    run.mkdir(parents=True, exist_ok=True)
    if (run / "tokenizer.json").is_file():
        return
    pretrained_text = (config.get("pretrained") or {}).get("text")
    if pretrained_text:
        tokenizer_from_bert_folder(ROOT / pretrained_text, run / "tokenizer.json")
    else:
        texts = [r.text for r in train_records if r.text.strip()] or ["no report"]
        train_tokenizer(texts, run / "tokenizer.json", vocab_size=int(config["tokenizer"]["vocab_size"]))


def _vocab_size(run: Path) -> int:
    from engine.model.fusion import load_tokenizer
    return load_tokenizer(run / "tokenizer.json", 8).get_vocab_size()


def _tokenizer(run: Path, model):
    from engine.model.fusion import load_tokenizer
    return load_tokenizer(run / "tokenizer.json", model.config.max_text_tokens)


def _encode(tokenizer, texts):
    from engine.model.fusion import encode_texts
    return encode_texts(tokenizer, texts)


def _mask_cache(config: dict, model, params: PreprocessParams, records):
    """The lesion-target cache when the model has a token head and some training image has a mask; else None."""
    import torch

    if not model.config.token_head:
        return None
    if not any(r.mask_path is not None and r.mask_path.is_file() for r in records):
        log.info("no training image has a lesion mask: the mask loss is off")
        return None
    from training.dataset import build_mask_cache
    with torch.no_grad():
        _, grid = model.encode_image(torch.zeros(1, 1, params.size, params.size, device=next(model.parameters()).device))
    return torch.from_numpy(build_mask_cache(
        records, params, grid[0], model.config.labels,
        cache_dir(config) / f"train_masks_{params.size}_{grid[0]}_{len(records)}.npy"))


def _loader(cache, params: PreprocessParams, batches: list[list[int]], workers: int, runtime):
    """A DataLoader over the uint8 cache yielding ``(normalised images (b, 1, size, size), indices (b,))`` per batch."""
    import torch

    from training.runs import image_batch

    class _Cached(torch.utils.data.Dataset):
        def __len__(self):
            return len(cache)

        def __getitem__(self, i):
            return image_batch(cache, [i], params)[0], i

    return torch.utils.data.DataLoader(_Cached(), batch_sampler=batches, num_workers=workers,
                                       pin_memory=runtime.device.type == "cuda")


def register(subparsers) -> None:
    """Add the ``train`` step."""
    parser = subparsers.add_parser("train", help="train a FusionModel from a YAML config into a run folder "
                                                 "(under torchrun: data-parallel)")
    parser.add_argument("--config", default=str(ROOT / "training" / "configs" / "demo.yaml"))
    parser.add_argument("--manifest", help="use this manifest CSV instead of the config's data.manifest")
    parser.add_argument("--run-dir", help="run folder to create (default: runs_dir/<generated name>)")
    parser.add_argument("--resume", help="run folder to continue from its last.pt")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the train step; print the run folder on stdout (from the first process only)."""
    config = read_json(Path(args.resume) / "config.json") if args.resume else load_config(args.config)
    if args.manifest:
        config["data"] = {**config["data"], "manifest": str(Path(args.manifest).resolve())}
    if args.run_dir:
        config["run_dir"] = str(Path(args.run_dir).resolve())
    folder = train(config, args.resume)
    if os.environ.get("RANK", "0") == "0":
        print(folder)
    return 0
