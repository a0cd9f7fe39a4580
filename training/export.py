"""``python -m training export``: turn a calibrated, evaluated run folder into a model pack.

:func:`export_pack` is the one place a manifest is composed; the test fixture's tiny pack and
the bundled demo pack both go through it.
"""
from __future__ import annotations

import json
import logging
import string
import time
from pathlib import Path

import numpy as np

from engine.errors import EngineError, PackError
from engine.gate import OOD_FEATURES
from engine.model.pack import SCHEMA_VERSION, write_pack
from engine.model.preprocess import PreprocessParams

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
CARD_TEMPLATE = ROOT / "docs" / "MODEL_CARD_TEMPLATE.md"
INTENDED_USE = ("Research, demonstration and software testing only; not for clinical use. "
                "Not a medical device; its outputs must not inform diagnosis or treatment.")
MODES = ("image", "text", "joint")


def _versions() -> dict:
    import timm
    import tokenizers
    import torch
    import transformers

    from engine.about import ENGINE_VERSION
    return {"utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "torch": torch.__version__,
            "timm": timm.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "engine": f"cxr-lens {ENGINE_VERSION}"}


def _metrics_markdown(metrics: dict, labels: list[str]) -> str:
    if not metrics.get("modes"):
        return "Not evaluated (this pack was not evaluated on a test split)."
    modes = [m for m in MODES if m in metrics["modes"]]
    lines = ["| Finding | " + " | ".join(f"AUROC {m}" for m in modes) + " | test positives |",
             "|---|" + "---|" * (len(modes) + 1)]
    for name in labels:
        cells = []
        for mode in modes:
            value = metrics["modes"][mode]["per_label"].get(name, {}).get("auroc")
            cells.append("n/a" if value is None else f"{value:.3f}")
        positives = metrics["modes"][modes[0]]["per_label"].get(name, {}).get("positives", "")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {positives} |")
    lines.append("")
    lines.append("| Mode | macro AUROC | micro AUROC | macro AP | macro F1 | micro F1 | ECE |")
    lines.append("|---|---|---|---|---|---|---|")
    for mode in modes:
        s = metrics["modes"][mode]["summary"]
        lines.append(f"| {mode} | {s['macro_auroc']:.3f} | {s['micro_auroc']:.3f} | {s['macro_ap']:.3f} | "
                     f"{s['macro_f1']:.3f} | {s['micro_f1']:.3f} | {s['ece']:.3f} |")
    if metrics.get("note"):
        lines += ["", metrics["note"]]
    return "\n".join(lines)


def render_model_card(manifest: dict, model_config: dict, limits: str, rebuild: str) -> str:
    """Fill docs/MODEL_CARD_TEMPLATE.md from a manifest."""
    pre, created = manifest["preprocessing"], manifest["created"]
    text_cfg = model_config["text"]
    values = {
        "name": manifest["name"], "version": manifest["version"], "schema_version": SCHEMA_VERSION,
        "created_utc": created["utc"], "torch": created["torch"], "timm": created["timm"],
        "transformers": created["transformers"], "intended_use": manifest["intended_use"],
        "n_labels": len(manifest["labels"]),
        "training_data": manifest["training_data"].get("description", json.dumps(manifest["training_data"])),
        "image_encoder": model_config["image_encoder"],
        "image_kwargs": f" (arguments {json.dumps(kwargs)})" if (kwargs := model_config["image_encoder_kwargs"]) else "",
        "size": pre["size"], "mean": pre["mean"], "std": pre["std"],
        "text_config": f"hidden {text_cfg['hidden_size']}, {text_cfg['num_hidden_layers']} layers, vocabulary {text_cfg['vocab_size']}",
        "fusion_layers": model_config["fusion_layers"], "fusion_dim": model_config["fusion_dim"],
        "embed_dim": model_config["embed_dim"], "pretrained": manifest["training_data"].get("pretrained", "none"),
        "weights_dtype": manifest.get("weights_dtype", "float16"),
        "metrics": _metrics_markdown(manifest.get("metrics", {}), [e["name"] for e in manifest["labels"]]),
        "threshold_method": manifest["calibration"].get("threshold_method", "max-F1"),
        "limits": limits, "rebuild": rebuild,
    }
    return string.Template(CARD_TEMPLATE.read_text(encoding="utf-8")).safe_substitute(values)


def export_pack(out_dir: str | Path, model, tokenizer_json: str | Path, params: PreprocessParams,
                calibration: dict, gate_stats: dict[str, np.ndarray], gate_threshold: float,
                prevalence: dict[str, float], metrics: dict, training_data: dict, *, name: str,
                version: str, changelog: list[str], limits: str = "", rebuild: str = "",
                weights_dtype: str = "float16") -> Path:
    """Write a model pack (GUIDE §5) and return its folder.

    Parameters
    ----------
    calibration
        ``{"temperature": {mode: T}, "bias": {mode: [per label]} (optional),
        "thresholds": {mode: [per label]}, "threshold_method": str}``
        for modes ``image``, ``text``, ``joint``.
    gate_stats, gate_threshold
        :func:`engine.gate.fit_ood` statistics and the validation 95th-percentile threshold.
    prevalence
        Training-split prevalence per label name.
    metrics
        The evaluate step's result (or ``{}``).
    """
    labels = list(model.config.labels)
    thresholds = calibration["thresholds"]
    for mode in MODES:
        if len(thresholds[mode]) != len(labels):
            raise PackError(f"calibration has {len(thresholds[mode])} {mode} thresholds for {len(labels)} labels")
    manifest = {
        "name": name, "version": version, "changelog": changelog, "created": _versions(),
        "task": ("multi-label chest radiograph findings from a frontal image (image-only pack: trained without "
                 "reports, its text and image+text modes are untrained)" if training_data.get("image_only") else
                 "multi-label chest radiograph findings from a frontal image, a report text, or both"),
        "intended_use": INTENDED_USE, "training_data": training_data,
        "labels": [{"name": label, "threshold": float(thresholds["image"][i]),
                    "thresholds": {mode: float(thresholds[mode][i]) for mode in MODES},
                    "prevalence": float(prevalence.get(label, 0.0))} for i, label in enumerate(labels)],
        "calibration": {"temperature": {m: float(calibration["temperature"][m]) for m in MODES},
                        "bias": {m: [float(b) for b in calibration.get("bias", {}).get(m, [0.0] * len(labels))]
                                 for m in MODES},
                        "threshold_method": calibration.get("threshold_method", "max-F1"),
                        "probability": "sigmoid(logit / temperature[mode] + bias[mode][label]); positive when >= threshold"},
        "preprocessing": {**params.to_dict(), "pipeline": "engine.images.display.display_float -> "
                          "engine.model.preprocess.preprocess (letterbox, bilinear, pad, normalise)"},
        "inputs": {"image": {"dtype": "float32", "shape": [1, 1, params.size, params.size],
                             "range": "(x - mean) / std of grey in [0, 1]"},
                   "text": {"dtype": "int64", "shape": [1, "T"], "max_tokens": model.config.max_text_tokens}},
        "outputs": {"logits": {"dtype": "float32", "shape": [1, len(labels)]},
                    "embeddings": {"modes": list(MODES), "dim": model.config.embed_dim, "normalised": "L2"}},
        "metrics": metrics,
        "gate": {"ood": {"method": "mahalanobis", "features": OOD_FEATURES, "threshold": float(gate_threshold),
                         "quantile": 0.95, "file": "gate.safetensors"}},
        "index": None,
    }
    # the card needs the model config and version facts; write_pack adds the rest
    card = render_model_card({**manifest, "weights_dtype": weights_dtype}, model.config.to_dict(), limits, rebuild)
    return write_pack(out_dir, model, tokenizer_json, manifest, gate_stats, card, weights_dtype)


def export_run(run_dir: str | Path, out_dir: str | Path, name: str, version: str,
               changelog: list[str]) -> Path:
    """Export a run folder made by the train, calibrate and evaluate steps.

    Exporting over an earlier version of the same pack keeps that pack's changelog entries for
    other versions (oldest first) before the new one.
    """
    from training.runs import load_run_model, read_json

    run = Path(run_dir)
    changelog = _earlier_changelog(Path(out_dir), name, version) + list(changelog)
    model, config = load_run_model(run)
    calibration = read_json(run / "calibration.json")
    evaluation = read_json(run / "evaluation.json") if (run / "evaluation.json").is_file() else {}
    data = read_json(run / "data.json")
    from safetensors.numpy import load_file
    gate_stats = load_file(str(run / "gate.safetensors"))
    card = config.get("model_card", {})
    return export_pack(out_dir, model, run / "tokenizer.json", PreprocessParams.from_dict(config["preprocessing"]),
                       calibration, gate_stats, calibration["ood_threshold"], data["prevalence"], evaluation,
                       data["training_data"], name=name, version=version, changelog=changelog,
                       limits=card.get("limits", ""), rebuild=card.get("rebuild", ""),
                       weights_dtype=config.get("weights_dtype", "float16"))


def _earlier_changelog(out_dir: Path, name: str, version: str) -> list[str]:
    """Changelog entries of the pack already in ``out_dir`` when it is ``name``, except ``version``'s."""
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if manifest.get("name") != name:
        return []
    return [entry for entry in manifest.get("changelog", []) if not str(entry).startswith(f"{version}:")]


def register(subparsers) -> None:
    """Add the ``export`` step."""
    parser = subparsers.add_parser("export", help="write a model pack from a trained run folder")
    parser.add_argument("--run", required=True, help="run folder (train → calibrate → evaluate)")
    parser.add_argument("--out", required=True, help="pack folder to write")
    parser.add_argument("--name", default="cxr-lens-demo")
    parser.add_argument("--version", default="0.1.0")
    parser.add_argument("--changelog", default="first pack", help="one line for the manifest changelog")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the export step."""
    try:
        path = export_run(args.run, args.out, args.name, args.version, [f"{args.version}: {args.changelog}"])
    except (OSError, KeyError) as error:
        raise EngineError(f"cannot export the run: {error}", path=args.run,
                          hint="run the train, calibrate and evaluate steps first") from error
    log.info("pack written to %s", path)
    return 0
