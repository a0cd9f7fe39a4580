"""Heatmaps for one finding: Grad-CAM, gradient-weighted attention rollout and Integrated Gradients.

Every method explains *the chosen label's logit* through the whole model (image encoder, text
encoder, fusion and head) — not a token position — for image-only or image+text input, and returns
a :class:`Heatmap` on the original image's pixel grid (the letterbox resize and padding undone),
scaled to [0, 1]. With a report, the words that drove the finding come with it
(:class:`TokenAttribution`).

Methods
-------
``gradcam``
    Grad-CAM (Selvaraju et al. 2017) on the image encoder's output tokens reshaped to their grid
    (or an earlier feature level's map, ``stage=-2``): ``ReLU(sum_c mean(dy/dA_c) * A_c)``;
    ``hires=True`` keeps the gradient per position (HiResCAM).
``attention``
    Gradient-weighted attention rollout over the fusion layers for bi-modal transformers (Chefer et
    al. 2021): each layer's per-head attention in both directions, weighted by the gradient of the
    logit and rectified, propagated through the co-attention rules; the map is the image tokens'
    relevance to the pooled text and image tokens. With image-only input the "absent report" token
    is the text side.
``ig``
    Integrated Gradients (Sundararajan et al. 2017, via captum) from a black or blurred baseline,
    integrated in segments so that progress can be reported and memory stays bounded; the positive
    attributions are smoothed with a small Gaussian before mapping back.
``igcam``
    Integrated Gradients multiplied by the label's HiResCAM map (bilinearly upsampled), as Guided
    Grad-CAM (Selvaraju et al. 2017) multiplies guided backpropagation by Grad-CAM: IG's pixel detail,
    kept only where the encoder's class-specific map says the label's evidence lies.

Long work is :func:`explain_steps`, a generator that yields :class:`Progress` and finally the
:class:`Heatmap`; :func:`explain` runs it to the end.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from engine.errors import ModelError
from engine.explain.text import TokenAttribution, encode_report, word_attributions
from engine.model.preprocess import map_to_original

log = logging.getLogger(__name__)

METHODS = ("gradcam", "attention", "ig", "igcam")
BASELINES = ("black", "blur")
BLUR_SIGMA_FRACTION = 1 / 20   # IG blurred baseline: Gaussian sigma as a fraction of the input side
SMOOTH_SIGMA_FRACTION = 1 / 56  # IG map smoothing: sigma as a fraction of the input side (4 px at 224)


@dataclass(frozen=True)
class Progress:
    """A step of long work: ``fraction`` done in [0, 1] and what is happening."""

    fraction: float
    message: str


@dataclass(frozen=True)
class Heatmap:
    """One explanation of one label for one image.

    Attributes
    ----------
    values
        float32 ``(rows, cols)`` on the original image's pixel grid, in [0, 1] (1 = strongest
        evidence for the label; all zeros when the method found no positive evidence).
    method
        One of :data:`METHODS`.
    label
        The explained label's name, as in the pack.
    mode
        ``"image"`` or ``"joint"`` (image + report text).
    probability
        The label's calibrated probability for this input (same number as ``predict``).
    timing_ms
        Wall times in milliseconds: ``explain`` (model passes) and ``total``.
    tokens
        Per report word, its signed attribution (empty without a report).
    model_map
        The map at the method's native resolution, covering the whole square model input (e.g.
        the 7×7 token grid for Grad-CAM, the input size for IG), in [0, 1].
    details
        Method settings and checks (layer, steps, baseline, IG convergence delta, …).
    """

    values: np.ndarray
    method: str
    label: str
    mode: str
    probability: float
    timing_ms: dict
    tokens: tuple[TokenAttribution, ...] = ()
    model_map: np.ndarray | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-safe summary (no pixel arrays)."""
        return {"method": self.method, "label": self.label, "mode": self.mode,
                "probability": round(self.probability, 4), "shape": list(self.values.shape),
                "timing_ms": {k: round(v, 2) for k, v in self.timing_ms.items()},
                "tokens": [t.to_dict() for t in self.tokens], "details": self.details}


def explain(predictor, image, label: str, method: str = "gradcam", report: str | None = None,
            **options) -> Heatmap:
    """Run :func:`explain_steps` to the end and return its :class:`Heatmap`."""
    result = None
    for item in explain_steps(predictor, image, label, method, report, **options):
        result = item
    return result


def explain_steps(predictor, image, label: str, method: str = "gradcam", report: str | None = None, *,
                  steps: int = 32, baseline: str = "black", batch: int = 8,
                  stage: int | None = None, hires: bool = False) -> Iterator[Progress | Heatmap]:
    """Explain ``label`` for ``image`` (and ``report``); yield progress, then the heatmap.

    Parameters
    ----------
    predictor
        An :class:`engine.predict.Predictor` (its pack's model, preprocessing and calibration).
    image
        Display image in [0, 1] ``(rows, cols)`` (or ``(rows, cols, 3)``), or an engine.images.read Image.
    label
        Label name (case, spaces and dashes ignored).
    method
        One of :data:`METHODS`.
    report
        Report text; None or blank for image-only input.
    steps
        Integrated Gradients (``ig``, ``igcam``): number of interpolation points along the path.
    baseline
        Integrated Gradients: ``"black"`` (display value 0) or ``"blur"`` (the image blurred).
    batch
        Integrated Gradients: interpolation points per model pass (bounds memory).
    stage
        Grad-CAM: None for the encoder's output tokens, or an index into its feature levels
        (timm ``feature_info``; ``-2`` is the level before the last, at twice the resolution).
    hires
        Grad-CAM: weight the activations by the gradient at each position instead of its channel
        mean (HiResCAM, Draelos & Carin 2020).

    Yields
    ------
    Progress, then Heatmap
        The consumer may stop iterating at any time to cancel.
    """
    import torch

    from engine.explain.trace import FusionTrace

    start = time.perf_counter()
    if method not in METHODS:
        raise ModelError(f"unknown explanation method {method!r}; choose one of {', '.join(METHODS)}")
    if baseline not in BASELINES:
        raise ModelError(f"unknown baseline {baseline!r}; choose one of {', '.join(BASELINES)}")
    if steps < 1 or batch < 1:
        raise ModelError(f"steps ({steps}) and batch ({batch}) must be at least 1")
    index = label_index(predictor.labels, label)
    array = _display_array(image)
    tensor, geometry = predictor.prepare(array)
    report = report if report and report.strip() else None
    encoded = encode_report(predictor.pack.tokenizer, report) if report else None
    mode = "joint" if report else "image"
    trace = FusionTrace(predictor.pack.model, stage=stage if method == "gradcam" else None)
    yield Progress(0.0, f"{method}: {predictor.labels[index]}")
    t0 = time.perf_counter()
    if method in ("ig", "igcam"):  # grad mode is switched on per segment, never held across a yield
        outcome = None
        black = (0.0 - predictor.params.mean) / predictor.params.std
        for item in _integrated_gradients(trace, tensor, encoded, index, steps, baseline, batch, black):
            if isinstance(item, Progress):
                yield item
            else:
                outcome = item
        if method == "igcam":
            with torch.enable_grad():
                cam = _gradcam(trace, tensor, encoded, index, hires=True)[0]
            outcome = _gate_by_cam(outcome, cam)
    else:
        with torch.enable_grad():
            if method == "gradcam":
                outcome = _gradcam(trace, tensor, encoded, index, hires)
            else:
                outcome = _attention_rollout(trace, tensor, encoded, index)
    grid_map, logit, token_scores, details = outcome
    explain_ms = (time.perf_counter() - t0) * 1000
    model_map = _unit_range(grid_map)
    values = _unit_range(np.clip(map_to_original(model_map, geometry), 0.0, None))
    tokens = word_attributions(encoded, token_scores) if encoded is not None else ()
    probability = float(predictor.probabilities(np.array([[logit]]), mode)[0, 0])
    details = {**details, "input_size": int(tensor.shape[-1])}
    timing = {"explain": explain_ms, "total": (time.perf_counter() - start) * 1000}
    yield Heatmap(values.astype(np.float32), method, predictor.labels[index], mode, probability, timing,
                  tokens, model_map.astype(np.float32), details)


def label_index(labels: tuple[str, ...], name: str) -> int:
    """Return the position of label ``name`` in the pack's ``labels`` (case, spaces, dashes ignored)."""
    def key(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    for i, candidate in enumerate(labels):
        if key(candidate) == key(name):
            return i
    raise ModelError(f"the pack has no label {name!r}", hint=f"choose one of: {', '.join(labels)}")


def _display_array(image) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return image
    if hasattr(image, "pixels"):
        from engine.images.display import display_float
        return display_float(image)
    raise ModelError(f"cannot explain a {type(image).__name__}; give a [0, 1] array or an engine Image")


def _unit_range(values: np.ndarray) -> np.ndarray:
    """Scale a non-negative map so that its maximum is 1 (an all-zero map stays zero)."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    values = np.clip(values, 0.0, None)
    peak = float(values.max()) if values.size else 0.0
    return values / peak if peak > 0 else np.zeros_like(values)


def _text_inputs(trace, encoded):
    """Return (embeddings requiring grad, attention mask, baseline embeddings) or Nones."""
    if encoded is None:
        return None, None, None
    embeddings = trace.word_embeddings(encoded.input_ids).detach()
    baseline = trace.word_embeddings(encoded.baseline_ids).detach()
    return embeddings.requires_grad_(True), encoded.attention_mask, baseline


def _token_scores(grad, embeddings, baseline) -> np.ndarray:
    """Gradient × (input − baseline) summed over the hidden axis: one signed score per token."""
    return ((embeddings - baseline) * grad).sum(-1)[0].detach().numpy()


def _gradcam(trace, tensor, encoded, index, hires=False):
    import torch

    embeddings, mask, text_baseline = _text_inputs(trace, encoded)
    logits, rec = trace.logits(tensor, embeddings, mask)
    source = rec.stage_features if rec.stage_features is not None else rec.image_tokens
    wanted = [source] + ([embeddings] if embeddings is not None else [])
    grads = torch.autograd.grad(logits[0, index], wanted)
    activations, gradient = source.detach(), grads[0]
    if rec.stage_features is None:  # tokens (1, h*w, C) -> (1, C, h, w)
        h, w = rec.grid
        activations = activations.transpose(1, 2).reshape(1, -1, h, w)
        gradient = gradient.transpose(1, 2).reshape(1, -1, h, w)
    weights = gradient if hires else gradient.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activations).sum(1))[0].numpy()
    scores = _token_scores(grads[1], embeddings, text_baseline) if embeddings is not None else None
    layer = "encoder output" if trace.stage is None else \
        f"encoder feature level {trace.stage} ({trace.model.image_encoder.feature_info[trace.stage]['module']})"
    return cam, float(logits[0, index].detach()), scores, {"layer": layer, "grid": list(cam.shape),
                                                             "weights": "per position" if hires else "channel mean"}


def _attention_rollout(trace, tensor, encoded, index):
    import torch

    embeddings, mask, text_baseline = _text_inputs(trace, encoded)
    logits, rec = trace.logits(tensor, embeddings, mask)
    attentions = rec.image_to_text + rec.text_to_image
    wanted = attentions + ([embeddings] if embeddings is not None else [])
    grads = torch.autograd.grad(logits[0, index], wanted)
    layers = len(rec.image_to_text)
    weighted = [(a * g).clamp_min(0).mean(1)[0].detach() for a, g in zip(attentions, grads[:2 * layers])]
    n_img, n_txt = weighted[0].shape
    r_ii, r_tt = torch.eye(n_img), torch.eye(n_txt)
    r_it, r_ti = torch.zeros(n_img, n_txt), torch.zeros(n_txt, n_img)
    for a_it, a_ti in zip(weighted[:layers], weighted[layers:]):  # both directions use the layer's inputs
        r_ii, r_it, r_tt, r_ti = (r_ii + a_it @ r_ti, r_it + a_it @ r_tt,
                                  r_tt + a_ti @ r_it, r_ti + a_ti @ r_ii)
    real = mask[0].bool() if mask is not None else torch.ones(n_txt, dtype=torch.bool)
    relevance = (r_ii - torch.eye(n_img)).mean(0) + r_ti[real].mean(0)
    h, w = rec.grid
    scores = _token_scores(grads[-1], embeddings, text_baseline) if embeddings is not None else None
    return relevance.reshape(h, w).numpy(), float(logits[0, index].detach()), scores, {"fusion_layers": layers,
                                                                               "grid": [h, w]}


def _integrated_gradients(trace, tensor, encoded, index, steps, baseline, batch, black):
    """Yield Progress per path segment, then (map, logit, token scores, details)."""
    import torch
    from captum.attr import IntegratedGradients

    embeddings, mask, text_baseline = _text_inputs(trace, encoded)
    image_base = _image_baseline(tensor, baseline, black)
    with torch.no_grad():
        logit = float(trace.logits(tensor, embeddings, mask)[0][0, index])
        base_logit = float(trace.logits(image_base, text_baseline, mask)[0][0, index])

    def forward(image, *text):
        emb = text[0] if text else None
        batch_mask = mask.expand(image.shape[0], -1) if mask is not None else None
        return trace.logits(image, emb, batch_mask)[0][:, index]

    ig = IntegratedGradients(forward)
    inputs = (tensor,) + ((embeddings.detach(),) if embeddings is not None else ())
    bases = (image_base,) + ((text_baseline,) if embeddings is not None else ())
    segments = max(1, math.ceil(steps / batch))
    per_segment = [steps // segments + (1 if i < steps % segments else 0) for i in range(segments)]
    totals = [torch.zeros_like(t) for t in inputs]
    delta = 0.0
    for i, n in enumerate(per_segment):
        lo, hi = i / segments, (i + 1) / segments
        seg_start = tuple(b + lo * (x - b) for x, b in zip(inputs, bases))
        seg_end = tuple(b + hi * (x - b) for x, b in zip(inputs, bases))
        with torch.enable_grad():
            attributions, seg_delta = ig.attribute(seg_end, baselines=seg_start, n_steps=n,
                                                   internal_batch_size=batch, return_convergence_delta=True)
        totals = [t + a.detach() for t, a in zip(totals, attributions)]
        delta += float(seg_delta.sum())
        yield Progress((i + 1) / segments, f"integrated gradients: {sum(per_segment[:i + 1])}/{steps} steps")
    pixel = totals[0][0, 0].clamp_min(0).numpy()
    pixel = gaussian_blur(pixel, SMOOTH_SIGMA_FRACTION * pixel.shape[-1])
    scores = totals[1].sum(-1)[0].numpy() if len(totals) > 1 else None
    yield pixel, logit, scores, {"steps": steps, "baseline": baseline, "batch": batch,
                                 "logit": logit, "baseline_logit": base_logit,
                                 "attribution_sum": float(sum(t.sum() for t in totals)),
                                 "convergence_delta": delta}


def _gate_by_cam(outcome, cam: np.ndarray):
    """IG's (map, logit, token scores, details) with the map multiplied by ``cam`` (a non-negative
    token-grid map) upsampled bilinearly to the map's size."""
    import torch
    import torch.nn.functional as F

    pixel, logit, scores, details = outcome
    gate = F.interpolate(torch.from_numpy(cam)[None, None], size=pixel.shape, mode="bilinear",
                         align_corners=False)[0, 0].numpy()
    return pixel * np.clip(gate, 0.0, None), logit, scores, {**details, "gate": "HiResCAM, encoder output",
                                                             "gate_grid": list(cam.shape)}


def _image_baseline(tensor, baseline: str, black: float):
    """The IG start image, normalised like ``tensor``: all ``black`` (display value 0, normalised),
    or ``tensor`` blurred."""
    import torch

    if baseline == "blur":
        sigma = BLUR_SIGMA_FRACTION * tensor.shape[-1]
        return torch.from_numpy(gaussian_blur(tensor[0, 0].numpy(), sigma))[None, None]
    return torch.full_like(tensor, black)


def gaussian_blur(values: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D float array, edges reflected; ``sigma`` in pixels."""
    radius = max(1, int(round(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (x / max(sigma, 1e-6)) ** 2)
    kernel /= kernel.sum()
    out = np.asarray(values, dtype=np.float32)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        out = np.apply_along_axis(lambda line: np.convolve(line, kernel, mode="valid"), axis, padded)
    return out.astype(np.float32)
