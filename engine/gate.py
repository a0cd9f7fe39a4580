"""Input gate: is this a frontal chest radiograph the model was made for?

Three kinds of check, each giving :class:`GateIssue` entries with a severity:

* metadata (DICOM Modality (0008,0060), Body Part Examined (0018,0015), View Position (0018,5101)):
  only CR/DX/DR are radiographs; lateral views are flagged; non-chest body parts are flagged;
* pixel sanity on the display image: blank, colour photograph, extreme aspect ratio;
* out-of-distribution score: Mahalanobis distance of the image's encoder features (the mean and
  standard deviation of the final encoder tokens, :func:`ood_features`) from the training set's
  (:func:`fit_ood`), compared with a threshold set on the validation split (95th percentile):
  above it the image is flagged, far above it refused.

``refuse`` issues stop image-based findings; ``warn`` issues are shown beside them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RADIOGRAPH_MODALITIES = frozenset({"CR", "DX", "DR"})
LATERAL_VIEWS = frozenset({"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"})
CHEST_BODY_PARTS = frozenset({"CHEST", "THORAX", "LUNG", "LUNGS", "PORT CHEST", "TORAX", "THX"})
MAX_ASPECT = 2.0           # long side / short side; chest films are ~0.8–1.25
MIN_STD = 0.02             # grey-level standard deviation below which an image is blank
MIN_CHROMA = 0.06          # mean |R-G|+|G-B|+|R-B| / 3 above which an RGB image is a colour photo
OOD_QUANTILE = 0.95
# Refuse beyond this multiple of the validation threshold (set before these measurements, not tuned
# on them). Pack 0.4.0 (bench/gate.py): synthetic test split max 2.21x (1 of 395 refused, 22 flagged);
# pydicom-data's 63 non-chest files (26 distinct images: CT, MR, US, NM, a tibia radiograph, photos)
# given as bare pixels, no header, all refused, 36 of them by this score alone at 2.21-3.32x; the real
# CR chest film RG1 1.99x (flagged, read: close to the line, it is unlike the synthetic training films).
# Pack 0.3.0, scored on the 128-d image embedding, refused 51 of those 63 files (20 of 26 images): the
# MR head and abdomen, the tibia and two other images got through.
OOD_REFUSE_FACTOR = 2.0
# What the OOD score reads: "encoder_tokens" (mean and standard deviation over the final encoder
# tokens, 2 x channels) since pack 0.4.0; "image_embedding" (the 128-d retrieval vector) before.
OOD_FEATURES = "encoder_tokens"
KNOWN_OOD_FEATURES = ("encoder_tokens", "image_embedding")


@dataclass(frozen=True)
class GateIssue:
    """One reason the gate has doubts about an input.

    Attributes
    ----------
    code
        Stable identifier, e.g. ``modality``, ``lateral``, ``blank``, ``colour``, ``aspect``, ``ood``.
    severity
        ``"refuse"`` or ``"warn"``.
    message
        A sentence for the reader.
    """

    code: str
    severity: str
    message: str


@dataclass(frozen=True)
class GateVerdict:
    """The gate's decision: ``status`` is ``"pass"``, ``"warn"`` or ``"refuse"``."""

    issues: tuple[GateIssue, ...] = ()
    ood_score: float | None = None
    ood_threshold: float | None = None
    checks: tuple[str, ...] = field(default=())

    @property
    def status(self) -> str:
        """``refuse`` if any issue refuses, else ``warn`` if any issue, else ``pass``."""
        severities = {issue.severity for issue in self.issues}
        return "refuse" if "refuse" in severities else ("warn" if severities else "pass")

    @property
    def accepted(self) -> bool:
        """True unless an issue refuses the image."""
        return self.status != "refuse"

    def to_dict(self) -> dict:
        """JSON-safe form."""
        return {"status": self.status, "checks": list(self.checks), "ood_score": self.ood_score,
                "ood_threshold": self.ood_threshold,
                "issues": [{"code": i.code, "severity": i.severity, "message": i.message} for i in self.issues]}


def _norm(value) -> str:
    return str(value or "").strip().upper()


def check_metadata(modality: str | None = None, body_part: str | None = None,
                   view_position: str | None = None) -> list[GateIssue]:
    """Check DICOM header facts; empty values (e.g. a PNG) raise no issue."""
    issues = []
    modality, body_part, view = _norm(modality), _norm(body_part), _norm(view_position)
    if modality and modality not in RADIOGRAPH_MODALITIES:
        issues.append(GateIssue("modality", "refuse",
                                f"modality {modality} is not a radiograph (CR/DX/DR); the model reads chest radiographs only"))
    if body_part and body_part not in CHEST_BODY_PARTS:
        issues.append(GateIssue("body_part", "warn", f"body part is {body_part}, not chest"))
    if view in LATERAL_VIEWS:
        issues.append(GateIssue("lateral", "warn",
                                f"view position {view} is lateral; the model was trained on frontal (PA/AP) views"))
    return issues


def check_pixels(image01: np.ndarray) -> list[GateIssue]:
    """Check the display image (float in [0, 1], grey ``(rows, cols)`` or colour ``(rows, cols, 3)``)."""
    array = np.asarray(image01, dtype=np.float32)
    issues = []
    rows, cols = array.shape[:2]
    if max(rows, cols) / max(1, min(rows, cols)) > MAX_ASPECT:
        issues.append(GateIssue("aspect", "refuse",
                                f"image is {cols}×{rows} pixels; an aspect ratio beyond {MAX_ASPECT}:1 is not a chest film"))
    if array.ndim == 3 and array.shape[2] >= 3:
        rgb = array[::4, ::4, :3]
        chroma = float(np.mean(np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2])
                               + np.abs(rgb[..., 0] - rgb[..., 2])) / 3.0)
        if chroma > MIN_CHROMA:
            issues.append(GateIssue("colour", "refuse",
                                    f"image is in colour (mean chroma {chroma:.2f}); it looks like a photograph, not a radiograph"))
        grey = rgb.mean(axis=2)
    else:
        grey = array[::4, ::4] if array.ndim == 2 else array[::4, ::4, 0]
    if float(grey.std()) < MIN_STD:
        issues.append(GateIssue("blank", "refuse", "image is blank (almost no grey-level variation)"))
    return issues


def ood_features(output, kind: str = OOD_FEATURES) -> np.ndarray:
    """Return the ``(batch, F)`` float64 features the OOD score reads from a model output.

    ``output`` is an :class:`engine.model.fusion.FusionOutput` of an image input. ``kind`` is one of
    :data:`KNOWN_OOD_FEATURES`, as the pack's manifest names it.
    """
    if _known_kind(kind) == "image_embedding":
        return output.image_embedding.detach().float().cpu().numpy().astype(np.float64)
    tokens = output.image_tokens.detach().float().cpu().numpy().astype(np.float64)
    return np.concatenate([tokens.mean(axis=1), tokens.std(axis=1)], axis=1)


def ood_feature_width(kind: str, model) -> int:
    """Return F, the width of :func:`ood_features` of ``kind`` for ``model`` (an engine.model.fusion.FusionModel)."""
    if _known_kind(kind) == "image_embedding":
        return model.config.embed_dim
    return 2 * model.image_channels  # mean and standard deviation per channel


def _known_kind(kind: str) -> str:
    if kind not in KNOWN_OOD_FEATURES:
        raise ValueError(f"unknown OOD features {kind!r}; known: {', '.join(KNOWN_OOD_FEATURES)}")
    return kind


def fit_ood(features: np.ndarray, shrinkage: float = 0.1) -> dict[str, np.ndarray]:
    """Fit the training-set statistics for the Mahalanobis OOD score.

    Parameters
    ----------
    features
        ``(n, F)`` :func:`ood_features` of the training split.
    shrinkage
        Ledoit–Wolf-style blend of the covariance with its scaled identity (0 = none).

    Returns
    -------
    dict
        ``{"mean": (F,), "precision": (F, F)}`` float64.
    """
    data = np.asarray(features, dtype=np.float64)
    mean = data.mean(axis=0)
    cov = np.cov(data - mean, rowvar=False)
    cov = (1 - shrinkage) * cov + shrinkage * np.eye(cov.shape[0]) * np.trace(cov) / cov.shape[0]
    return {"mean": mean, "precision": np.linalg.inv(cov)}


def ood_scores(features: np.ndarray, stats: dict[str, np.ndarray]) -> np.ndarray:
    """Return the Mahalanobis distance of each ``(n, F)`` feature row from the training mean."""
    diff = np.atleast_2d(np.asarray(features, dtype=np.float64)) - stats["mean"]
    return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", diff, stats["precision"], diff), 0.0))


def ood_threshold(validation_scores: np.ndarray, quantile: float = OOD_QUANTILE) -> float:
    """Return the threshold: the ``quantile`` of the validation split's OOD scores."""
    return float(np.quantile(np.asarray(validation_scores, dtype=np.float64), quantile))


def check_ood(score: float, threshold: float) -> list[GateIssue]:
    """Flag an embedding farther from the training data than the validation threshold.

    Beyond :data:`OOD_REFUSE_FACTOR` times the threshold the image is refused.
    """
    if score <= threshold:
        return []
    if score > OOD_REFUSE_FACTOR * threshold:
        return [GateIssue("ood", "refuse",
                          f"image is far from anything the model was trained on (OOD score {score:.1f} > "
                          f"{OOD_REFUSE_FACTOR:g} × threshold {threshold:.1f}); it does not look like the chest radiographs "
                          "this model was trained on")]
    return [GateIssue("ood", "warn",
                      f"image is unlike the training data (OOD score {score:.1f} > threshold {threshold:.1f}); "
                      "findings may be unreliable")]


def run_gate(image01: np.ndarray, modality: str | None = None, body_part: str | None = None,
             view_position: str | None = None) -> GateVerdict:
    """Run the metadata and pixel checks (the OOD check needs the model; see engine.predict)."""
    issues = check_metadata(modality, body_part, view_position) + check_pixels(image01)
    return GateVerdict(tuple(issues), checks=("metadata", "pixels"))
