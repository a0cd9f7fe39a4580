"""``python -m training calibrate --run RUN``: fit temperatures, thresholds and the OOD gate on validation.

* one temperature per input mode (image, text, joint), minimising validation log loss, then one
  bias per label and mode (``sigmoid(logit / T + b)``: monotonic, so AUROC is unchanged) that
  removes the offset the class-weighted loss leaves;
* per-label thresholds on the calibrated probabilities maximising validation F1 (Youden's J
  with ``--method youden``); labels a dataset does not state (missing) are left out of every fit,
  and a label no training image states gets threshold 1.0: never "present";
* Mahalanobis OOD statistics of the training split's encoder features
  (:func:`engine.gate.ood_features`), with the threshold at the 95th percentile of the validation
  split's scores (the user's own validation split, for a pack trained on their data).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engine.gate import fit_ood, ood_scores, ood_threshold
from training.evaluate import expected_calibration_error, sigmoid
from training.runs import MODES, split_outputs, write_json

log = logging.getLogger(__name__)

# threshold of a label the training data never stated (all missing): its head was never trained, so
# its probability is noise and must never reach "present"
UNTRAINED_THRESHOLD = 1.0


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Return T in [0.05, 20] minimising the mean binary log loss of ``sigmoid(logits / T)``."""
    def loss(t: float) -> float:
        p = np.clip(sigmoid(logits / t), 1e-7, 1 - 1e-7)
        return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))

    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 121))
    best = grid[int(np.argmin([loss(t) for t in grid]))]
    fine = best * np.exp(np.linspace(-0.05, 0.05, 41))
    return float(fine[int(np.argmin([loss(t) for t in fine]))])


def fit_bias(scaled_logits: np.ndarray, labels: np.ndarray, limit: float = 4.0) -> float:
    """Return b in [-limit, limit] minimising the log loss of ``sigmoid(scaled_logits + b)`` for one label."""
    def loss(b: float) -> float:
        p = np.clip(sigmoid(scaled_logits + b), 1e-7, 1 - 1e-7)
        return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))

    grid = np.linspace(-limit, limit, 161)
    return float(grid[int(np.argmin([loss(b) for b in grid]))])


def best_threshold(labels: np.ndarray, probs: np.ndarray, method: str = "max-f1") -> float:
    """Threshold on probabilities maximising F1 (or Youden's J); 0.5 when the label never occurs."""
    positives = labels > 0.5
    if positives.sum() == 0 or positives.all():
        return 0.5
    order = np.argsort(-probs)
    p_sorted, y_sorted = probs[order], positives[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(~y_sorted)
    last_of_value = np.r_[p_sorted[1:] != p_sorted[:-1], True]  # cut only between distinct values
    if method == "youden":
        score = tp / positives.sum() - fp / (~positives).sum()
    else:
        score = 2 * tp / (np.arange(1, len(probs) + 1) + positives.sum())
    score = np.where(last_of_value, score, -np.inf)
    k = int(np.argmax(score))
    below = p_sorted[k + 1] if k + 1 < len(p_sorted) else 0.0
    return float((p_sorted[k] + below) / 2)


def calibrate_run(run_dir: str | Path, method: str = "max-f1", train_limit: int = 5000) -> dict:
    """Calibrate a trained run; write calibration.json and gate.safetensors; return the calibration.

    Missing labels (NaN) are left out of every fit. An image-only run (``data.json``) calibrates the
    image mode and gives the text and image+text modes the same values.
    """
    import torch
    from safetensors.numpy import save_file

    from engine.model.fusion import load_tokenizer
    from engine.model.preprocess import PreprocessParams
    from training.progress import progress
    from training.runs import load_run_model, read_json
    from training.train import prepare_data

    run = Path(run_dir)
    model, config = load_run_model(run)
    torch.set_num_threads(int(config["train"].get("threads", 2)))
    params = PreprocessParams.from_dict(config["preprocessing"])
    tokenizer = load_tokenizer(run / "tokenizer.json", model.config.max_text_tokens)
    data = read_json(run / "data.json")
    image_only = bool(data.get("image_only", False))
    untrained = [data.get("labelled", {}).get(name, 1) == 0 for name in model.config.labels]
    modes = ("image",) if image_only else MODES
    splits = prepare_data(config)
    val_records, val_cache = splits["val"]
    val = split_outputs(model, val_cache, [r.text for r in val_records], tokenizer, params, modes=modes,
                        progress=progress)
    labels = np.stack([r.labels for r in val_records])
    known = ~np.isnan(labels)
    calibration = {"threshold_method": method, "temperature": {}, "bias": {}, "thresholds": {}, "validation": {},
                   "image_only": image_only,
                   "untrained_labels": [name for name, off in zip(model.config.labels, untrained) if off]}
    for mode in MODES:
        source = mode if mode in modes else "image"
        logits = val[source]
        temperature = fit_temperature(logits[known], labels[known])
        bias = np.array([fit_bias(logits[known[:, j], j] / temperature, labels[known[:, j], j])
                         if known[:, j].any() else 0.0 for j in range(labels.shape[1])])
        probs = sigmoid(logits / temperature + bias[None])
        calibration["temperature"][mode] = temperature
        calibration["bias"][mode] = bias.tolist()
        calibration["thresholds"][mode] = [UNTRAINED_THRESHOLD if untrained[j] else
                                           best_threshold(labels[known[:, j], j], probs[known[:, j], j], method)
                                           for j in range(labels.shape[1])]
        calibration["validation"][mode] = {
            "ece_before": expected_calibration_error(labels[known], sigmoid(logits)[known]),
            "ece_temperature_only": expected_calibration_error(labels[known], sigmoid(logits / temperature)[known]),
            "ece_after": expected_calibration_error(labels[known], probs[known])}
    train_records, train_cache = splits["train"]
    take = min(train_limit, len(train_records))
    train_out = split_outputs(model, train_cache[:take], [r.text for r in train_records[:take]], tokenizer,
                              params, modes=("image",), progress=progress)
    stats = fit_ood(train_out["ood_features"])
    calibration["ood_threshold"] = ood_threshold(ood_scores(val["ood_features"], stats))
    save_file({k: v.astype(np.float32) for k, v in stats.items()}, str(run / "gate.safetensors"))
    write_json(run / "calibration.json", calibration)
    log.info("calibration: temperatures %s, OOD threshold %.2f, validation ECE %s", calibration["temperature"],
             calibration["ood_threshold"], calibration["validation"])
    return calibration


def register(subparsers) -> None:
    """Add the ``calibrate`` step."""
    parser = subparsers.add_parser("calibrate", help="fit temperatures, thresholds and the OOD gate on validation")
    parser.add_argument("--run", required=True, help="run folder made by the train step")
    parser.add_argument("--method", choices=("max-f1", "youden"), default="max-f1")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the calibrate step."""
    calibrate_run(args.run, args.method)
    return 0
