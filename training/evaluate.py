"""``python -m training evaluate --run RUN``: test-split metrics for image-only, text-only and image+text.

Per label: AUROC, average precision, F1 at the calibrated threshold; macro and micro summaries;
expected calibration error (ECE, 15 equal-width bins over every label probability) after
calibration (temperature and per-label bias). Run it once, after calibration; the result goes in the pack manifest.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from training.runs import MODES, read_json, split_outputs, write_json

log = logging.getLogger(__name__)

TEXT_NOTE = ("Text-only and image+text scores partly re-read the labels' source: the labels were derived "
             "from the same report text the model reads, so they overstate what text adds on new reports.")


IMAGE_ONLY_NOTE = ("Image-only pack: trained without reports, so only the image mode is evaluated; "
                   "labels the dataset does not state were left out of each label's scores.")


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = 15) -> float:
    """ECE over all entries: sum over equal-width bins of |accuracy - confidence| weighted by bin size."""
    y, p = np.asarray(labels, float).ravel(), np.asarray(probs, float).ravel()
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        chosen = which == b
        if chosen.any():
            total += chosen.mean() * abs(y[chosen].mean() - p[chosen].mean())
    return float(total)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def f1_at(labels: np.ndarray, probs: np.ndarray, threshold: float) -> float:
    """F1 of ``probs >= threshold`` against binary ``labels`` (0 when there are no positives at all)."""
    predicted = probs >= threshold
    tp = float(np.sum(predicted & (labels > 0.5)))
    denominator = float(np.sum(predicted) + np.sum(labels > 0.5))
    return 2 * tp / denominator if denominator else 0.0


def mode_metrics(labels: np.ndarray, probs: np.ndarray, thresholds: np.ndarray, names) -> dict:
    """Per-label and summary metrics for one input mode; NaN labels (missing) are left out."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    known = ~np.isnan(labels)
    per_label, aurocs, aps, f1s = {}, [], [], []
    for j, name in enumerate(names):
        y, p = labels[known[:, j], j], probs[known[:, j], j]
        positives = int(y.sum())
        entry = {"positives": positives, "labelled": int(len(y)), "threshold": float(thresholds[j]),
                 "f1": f1_at(y, p, thresholds[j]), "auroc": None, "ap": None}
        if 0 < positives < len(y):
            entry["auroc"] = float(roc_auc_score(y, p))
            entry["ap"] = float(average_precision_score(y, p))
            aurocs.append(entry["auroc"])
            aps.append(entry["ap"])
            f1s.append(entry["f1"])
        per_label[name] = entry
    y_all, p_all = labels[known], probs[known]
    predicted = probs >= thresholds[None]
    tp = float(np.sum(predicted & (np.nan_to_num(labels) > 0.5) & known))
    micro_f1 = 2 * tp / float((predicted & known).sum() + (y_all > 0.5).sum())
    mean = lambda values: float(np.mean(values)) if values else float("nan")  # noqa: E731 - local shorthand
    summary = {"macro_auroc": mean(aurocs), "micro_auroc": float(roc_auc_score(y_all, p_all)),
               "macro_ap": mean(aps), "micro_ap": float(average_precision_score(y_all, p_all)),
               "macro_f1": mean(f1s), "micro_f1": micro_f1,
               "ece": expected_calibration_error(y_all, p_all), "labels_scored": len(aurocs)}
    return {"summary": summary, "per_label": per_label}


def evaluate_run(run_dir: str | Path) -> dict:
    """Evaluate a calibrated run on its test split; write and return evaluation.json (image mode only for image-only runs)."""
    import torch

    from engine.model.fusion import load_tokenizer
    from engine.model.preprocess import PreprocessParams
    from training.progress import progress
    from training.runs import load_run_model
    from training.train import prepare_data

    run = Path(run_dir)
    model, config = load_run_model(run)
    torch.set_num_threads(int(config["train"].get("threads", 2)))
    calibration = read_json(run / "calibration.json")
    modes = ("image",) if calibration.get("image_only") else MODES
    params = PreprocessParams.from_dict(config["preprocessing"])
    tokenizer = load_tokenizer(run / "tokenizer.json", model.config.max_text_tokens)
    records, cache = prepare_data(config)["test"]
    outputs = split_outputs(model, cache, [r.text for r in records], tokenizer, params, modes=modes,
                            progress=progress)
    labels = np.stack([r.labels for r in records])
    result = {"split": "test", "count": len(records), "note": TEXT_NOTE if len(modes) > 1 else IMAGE_ONLY_NOTE,
              "modes": {}}
    for mode in modes:
        bias = np.asarray(calibration.get("bias", {}).get(mode, np.zeros(outputs[mode].shape[1])))
        probs = sigmoid(outputs[mode] / calibration["temperature"][mode] + bias[None])
        result["modes"][mode] = mode_metrics(labels, probs, np.asarray(calibration["thresholds"][mode]),
                                             model.config.labels)
    write_json(run / "evaluation.json", result)
    for mode in modes:
        log.info("test %s: %s", mode, result["modes"][mode]["summary"])
    return result


def register(subparsers) -> None:
    """Add the ``evaluate`` step."""
    parser = subparsers.add_parser("evaluate", help="test-split metrics of a calibrated run (run once)")
    parser.add_argument("--run", required=True, help="run folder")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the evaluate step."""
    evaluate_run(args.run)
    return 0
