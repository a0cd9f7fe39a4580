"""Run folders: what the train step writes and the calibrate, evaluate and export steps read.

A run folder holds ``config.json`` (the resolved training config, including the model config),
``tokenizer.json``, ``model.safetensors`` (best weights), ``last.pt`` (resumable checkpoint),
``metrics.jsonl`` (one line per epoch), ``data.json`` (splits, prevalence, data description);
then ``calibration.json`` + ``gate.safetensors`` (calibrate) and ``evaluation.json`` (evaluate).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.errors import EngineError
from engine.model.preprocess import PreprocessParams, normalise, uint8_to_canvas

MODES = ("image", "text", "joint")


def read_json(path: str | Path) -> dict:
    """Read a JSON file, raising EngineError with the path when it is missing or broken."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise EngineError(f"cannot read {path.name} ({error})", path=path,
                          hint="run the earlier pipeline steps on this run folder first") from error


def write_json(path: str | Path, data: dict) -> Path:
    """Write pretty JSON atomically."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_run_model(run_dir: str | Path):
    """Return ``(FusionModel in eval mode with the run's best weights, resolved config dict)``."""
    from safetensors.torch import load_file

    from engine.model.fusion import FusionModel, ModelConfig

    run = Path(run_dir)
    config = read_json(run / "config.json")
    model = FusionModel(ModelConfig.from_dict(config["model_config"]))
    weights = run / "model.safetensors"
    if not weights.is_file():
        raise EngineError("the run has no model.safetensors", path=run, hint="run the train step first")
    model.load_state_dict(load_file(str(weights)))
    return model.eval(), config


def image_batch(cache: np.ndarray, indices, params: PreprocessParams):
    """Return the normalised ``(batch, 1, size, size)`` tensor for cached uint8 canvases."""
    import torch
    stack = np.stack([normalise(uint8_to_canvas(cache[i]), params) for i in indices])
    return torch.from_numpy(stack)


def split_outputs(model, cache: np.ndarray, texts: list[str], tokenizer, params: PreprocessParams,
                  modes=MODES, batch_size: int = 64, progress=None, ood: bool = True) -> dict[str, np.ndarray]:
    """Run the model over a cached split; return ``{mode: logits (n, L)}`` plus ``ood_features`` (n, F).

    The image encoder runs once per batch for the image and joint modes; ``modes=("image",)`` runs
    no text at all. Inputs go to the model's device; ``ood=False`` skips the OOD features.
    """
    import torch

    from engine.gate import ood_features
    from engine.model.fusion import encode_texts

    device = next(model.parameters()).device
    out = {mode: [] for mode in modes}
    features = []
    batches = range(0, len(texts), batch_size)
    for start in (batches if progress is None else progress(batches, desc="inference")):
        idx = list(range(start, min(start + batch_size, len(texts))))
        ids = mask = None
        if "text" in modes or "joint" in modes:
            ids, mask = (t.to(device) for t in encode_texts(tokenizer, [texts[i] for i in idx]))
        with torch.inference_mode():
            if "image" in modes or "joint" in modes:
                result = model.forward_modes(image_batch(cache, idx, params).to(device), ids, mask)
                if ood:
                    features.append(ood_features(result["image"]))
            else:
                result = {"text": model(input_ids=ids, attention_mask=mask)}
        for mode in modes:
            out[mode].append(result[mode].logits.float().cpu().numpy())
    arrays = {mode: np.concatenate(values) for mode, values in out.items()}
    if features:
        arrays["ood_features"] = np.concatenate(features)
    return arrays
