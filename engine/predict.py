"""Calibrated per-label predictions from an image, a report text, or both, behind the input gate.

``Predictor(pack).predict(image, report)`` returns a :class:`Prediction`: for each label the
temperature-scaled probability, the pack's calibrated threshold for that input mode and the
decision; the gate's verdict; timings. ``Predictor.embed`` gives the L2-normalised image, text and
joint embeddings used for similar-case search.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import ModelError
from engine.gate import GateVerdict, check_metadata, check_ood, check_pixels, ood_features, ood_scores
from engine.model.pack import Pack, load_pack
from engine.model.preprocess import Geometry, PreprocessParams, preprocess

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    """One label's result: probability in [0, 1], the mode's threshold, and ``probability >= threshold``."""

    name: str
    probability: float
    threshold: float
    positive: bool


@dataclass(frozen=True)
class Prediction:
    """Result of :meth:`Predictor.predict`.

    Attributes
    ----------
    mode
        ``"image"``, ``"text"`` or ``"joint"`` (what the findings were computed from), or ``"none"``
        when the gate refused the image and there was no report.
    findings
        One :class:`Finding` per label in pack order (empty when mode is ``"none"``).
    gate
        The input gate's verdict (None when no image was given).
    timing_ms
        Wall times in milliseconds: ``preprocess``, ``model``, ``total``.
    geometry
        Where the image lies on the model grid (for heatmaps), or None.
    vectors
        With ``predict(..., embed=True)``: the similar-case vectors ``{mode: (E,)}`` of the inputs
        the model saw (as :meth:`Predictor.embed` gives them), else None.
    """

    mode: str
    findings: tuple[Finding, ...]
    gate: GateVerdict | None
    timing_ms: dict = field(default_factory=dict)
    geometry: Geometry | None = None
    vectors: dict | None = field(default=None, repr=False, compare=False)

    def positives(self) -> list[str]:
        """Names of labels at or above their threshold."""
        return [f.name for f in self.findings if f.positive]

    def to_dict(self) -> dict:
        """JSON-safe form (used by ``cxr-lens predict --json``)."""
        return {
            "mode": self.mode,
            "findings": [{"name": f.name, "probability": round(f.probability, 4),
                          "threshold": round(f.threshold, 4), "positive": f.positive} for f in self.findings],
            "positive": self.positives(),
            "gate": None if self.gate is None else self.gate.to_dict(),
            "timing_ms": {k: round(v, 2) for k, v in self.timing_ms.items()},
        }


def _image_facts(image) -> dict:
    """Return the header facts the gate reads (empty for a bare array)."""
    if isinstance(image, np.ndarray):
        return {}
    if hasattr(image, "pixels"):
        return {"modality": getattr(image, "modality", None), "body_part": getattr(image, "body_part", None),
                "view_position": getattr(image, "view_position", None)}
    raise ModelError(f"cannot predict on a {type(image).__name__}; give a [0, 1] array or an engine Image")


def _display_array(image) -> np.ndarray:
    """Return the display image in [0, 1] of an ndarray or an engine.images.read Image (first frame)."""
    if isinstance(image, np.ndarray):
        return image
    from engine.images.display import display_float
    return display_float(image)


class Predictor:
    """Runs a loaded pack's model with its preprocessing, calibration and gate.

    Parameters
    ----------
    pack
        A :class:`engine.model.pack.Pack` (or a pack folder, loaded and verified here).
    threads
        torch intra-op threads (None leaves torch's setting alone).
    device
        torch device for the model (``"cpu"`` by default; ``"cuda"`` on a GPU node, as the Ray
        scan's GPU actors use). Outputs are always returned on the CPU.
    """

    def __init__(self, pack: Pack | str | Path, threads: int | None = None, device: str | None = None):
        import torch

        if threads is not None:  # before the pack's selftest, which then runs on these threads too
            torch.set_num_threads(threads)
        self.pack = pack if isinstance(pack, Pack) else load_pack(pack)
        self.device = torch.device(device or "cpu")
        if self.device.type != "cpu":
            try:
                self.pack.model.to(self.device)
            except (RuntimeError, AssertionError) as error:  # torch says "not compiled with CUDA" by assert
                raise ModelError(f"cannot run the model on device {device!r} ({error})",
                                 hint="use device 'cpu', or run on a node that has that device") from error
        manifest = self.pack.manifest
        self.params = PreprocessParams.from_dict(manifest["preprocessing"])
        self.labels = self.pack.label_names
        self.thresholds = {mode: np.array([entry.get("thresholds", {}).get(mode, entry["threshold"])
                                           for entry in manifest["labels"]], dtype=np.float64)
                           for mode in ("image", "text", "joint")}
        temps = manifest["calibration"].get("temperature", {})
        self.temperature = {mode: float(temps.get(mode, 1.0)) for mode in ("image", "text", "joint")}
        biases = manifest["calibration"].get("bias", {})
        self.bias = {mode: np.asarray(biases.get(mode, [0.0] * len(self.labels)), dtype=np.float64)
                     for mode in ("image", "text", "joint")}
        ood = manifest["gate"].get("ood", {})
        self.ood_threshold = ood.get("threshold")
        training_data = manifest.get("training_data")
        # an image-only pack was trained without reports: its text and joint modes are untrained
        self.image_only = isinstance(training_data, dict) and bool(training_data.get("image_only"))

    def prepare(self, image01: np.ndarray):
        """Return the model input tensor ``(1, 1, size, size)`` and its :class:`Geometry`."""
        import torch
        array, geometry = preprocess(image01, self.params)
        return torch.from_numpy(array)[None], geometry

    def tokenize(self, texts: list[str]):
        """Return ``input_ids`` and ``attention_mask`` for report texts."""
        from engine.model.fusion import encode_texts
        return encode_texts(self.pack.tokenizer, texts)

    def model_inputs(self, image_tensor=None, texts: list[str] | None = None) -> dict:
        """Keyword arguments for the model: ``image`` and, with texts, ``input_ids`` and ``attention_mask``."""
        inputs = {"image": None if image_tensor is None else image_tensor.to(self.device)}
        if texts:
            input_ids, attention_mask = self.tokenize(texts)
            inputs["input_ids"], inputs["attention_mask"] = input_ids.to(self.device), attention_mask.to(self.device)
        return inputs

    def forward(self, image_tensor=None, texts: list[str] | None = None, need_attention: bool = False):
        """Run the model (no grad) on a prepared image tensor and/or texts; return the FusionOutput."""
        import torch
        with torch.inference_mode():
            return self.pack.model(**self.model_inputs(image_tensor, texts), need_attention=need_attention)

    def probabilities(self, logits: np.ndarray, mode: str) -> np.ndarray:
        """Calibrated probabilities ``sigmoid(logit / T[mode] + bias[mode])`` of ``(batch, labels)`` logits."""
        scaled = np.asarray(logits, dtype=np.float64) / self.temperature[mode] + self.bias[mode][None]
        return 1.0 / (1.0 + np.exp(-scaled))

    def predict(self, image=None, report: str | None = None, check_gate: bool = True,
                embed: bool = False) -> Prediction:
        """Predict findings for one image (a [0, 1] array or an engine.images.read Image) and/or a report.

        When the gate refuses the image, image-based findings are withheld: with a report the
        findings come from the text alone, otherwise there are none. ``embed=True`` also returns the
        similar-case vectors from the same encoder pass (None when the gate stopped the image before
        the model).
        """
        start = time.perf_counter()
        report = report if report and report.strip() else None
        if image is None and report is None:
            raise ModelError("nothing to predict on: give an image, a report text, or both")
        if self.image_only and report is not None:
            manifest_name = self.pack.manifest.get("name")
            if image is None:
                raise ModelError(f"pack {manifest_name!r} is image-only (trained without reports) and cannot "
                                 "read a report alone: give an image")
            log.info("pack %s is image-only: the report is not used", manifest_name)
            report = None
        verdict = geometry = tensor = None
        timing = {}
        if image is not None:
            verdict = GateVerdict(tuple(check_metadata(**_image_facts(image))), checks=("metadata",))
            if check_gate and not verdict.accepted:  # refused on its header: pixels are not decoded
                tensor = None
            else:
                array = _display_array(image)
                if check_gate:
                    verdict = GateVerdict(verdict.issues + tuple(check_pixels(array)),
                                          checks=("metadata", "pixels"))
                t0 = time.perf_counter()
                tensor, geometry = self.prepare(array)
                timing["preprocess"] = (time.perf_counter() - t0) * 1000
                if check_gate and not verdict.accepted:
                    tensor = None
            if not check_gate:
                verdict = GateVerdict()
        if tensor is None and report is None:
            timing["total"] = (time.perf_counter() - start) * 1000
            return Prediction("none", (), verdict, timing, geometry)
        mode = "joint" if tensor is not None and report is not None else ("image" if tensor is not None else "text")
        t0 = time.perf_counter()
        texts = [report] if report else None
        vectors = outputs = None
        if embed:
            vectors, outputs = self.embed_batch(tensor, texts)
            vectors = {name: vector[0] for name, vector in vectors.items()}
            output = outputs[mode]
        else:
            output = self.forward(tensor, texts)
        timing["model"] = (time.perf_counter() - t0) * 1000
        if output.image_tokens is not None and check_gate and self.ood_threshold is not None:
            score = float(ood_scores(ood_features(output, self.pack.ood_features), self.pack.gate_stats)[0])
            issues = verdict.issues + tuple(check_ood(score, self.ood_threshold))
            verdict = GateVerdict(issues, score, float(self.ood_threshold), verdict.checks + ("ood",))
            if not verdict.accepted:  # far from the training data: withhold image-based findings
                if report is None:
                    timing["total"] = (time.perf_counter() - start) * 1000
                    return Prediction("none", (), verdict, timing, geometry, vectors)
                mode, output = "text", outputs["text"] if outputs else self.forward(None, texts)
        probs = self.probabilities(output.logits.cpu().numpy(), mode)[0]
        thresholds = self.thresholds[mode]
        findings = tuple(Finding(name, float(p), float(t), bool(p >= t))
                         for name, p, t in zip(self.labels, probs, thresholds))
        timing["total"] = (time.perf_counter() - start) * 1000
        return Prediction(mode, findings, verdict, timing, geometry, vectors)

    def embed_batch(self, image_tensor=None, texts: list[str] | None = None) -> tuple[dict[str, np.ndarray], dict]:
        """Similar-case vectors of a batch: ``({mode: (batch, E) float32}, {mode: FusionOutput})``.

        Each mode's vector is the L2-normalised embedding of the fused representation the classifier
        reads, computed from that mode's input: the image alone, the text alone, or both. So every
        mode's findings and its neighbours come from the same representation, and a free-text query
        lands in the same space as the archive's images. With one input, ``joint`` is that input's vector.
        """
        import torch
        with torch.inference_mode():
            outputs = self.pack.model.forward_modes(**self.model_inputs(image_tensor, texts))
        if "joint" not in outputs:
            outputs["joint"] = outputs.get("image", outputs.get("text"))
        return {mode: out.joint_embedding.cpu().numpy().astype(np.float32) for mode, out in outputs.items()}, outputs

    def embed(self, image=None, report: str | None = None) -> dict[str, np.ndarray]:
        """Return the similar-case vectors ``{"image", "text", "joint"}`` (those available), each ``(E,)``."""
        tensor = None
        if image is not None:
            tensor, _ = self.prepare(_display_array(image))
        report = report if report and report.strip() else None
        if tensor is None and report is None:
            raise ModelError("nothing to embed: give an image, a report text, or both")
        vectors, _ = self.embed_batch(tensor, [report] if report else None)
        return {mode: vector[0] for mode, vector in vectors.items()}
