"""What a finding renderer works with: the scene, the attenuation it adds to, and shared helpers."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from training.synth.anatomy import SIDES, FrontalScene
from training.synth.frame import clip
from training.synth.patient import MU_LUNG, MU_SOFT


@dataclass(frozen=True)
class FindingSpec:
    """One finding to draw.

    Attributes
    ----------
    label
        A name from ``engine.reports.labels.FINDING_NAMES``.
    sides
        ``("right",)``, ``("left",)`` or both; empty when the finding has no side.
    zone
        ``apex``, ``upper``, ``mid``, ``lower``, ``base``, ``hilar``, ``retrocardiac`` or ``None``.
    severity
        0 (subtlest) .. 1 (most obvious); scales size and contrast.
    words
        Lower-case evidence text the finding came from (devices and subtypes read it).
    """

    label: str
    sides: tuple[str, ...] = ()
    zone: str | None = None
    severity: float = 0.5
    words: str = ""


@dataclass
class Context:
    """Mutable state while drawing findings on one frontal image.

    ``extra`` collects attenuation (dimensionless line integral) added by findings; ``masks`` the
    ground truth per label (bool, image grid); ``placements`` (label, x, y, size) in mm of drawn
    lesions, so a lateral view of the same study puts them at the same height.
    """

    scene: FrontalScene
    rng: np.random.Generator
    extra: np.ndarray
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    placements: list[tuple[str, float, float, float]] = field(default_factory=list)
    _texture: np.ndarray | None = None

    @property
    def frame(self):
        """The pixel grid."""
        return self.scene.frame

    @property
    def geom(self):
        """The analytic outlines."""
        return self.scene.geom

    def side_signs(self, spec: FindingSpec, default: str = "random") -> list[float]:
        """Signs of x for the finding's sides (a random side when the report gives none)."""
        if spec.sides:
            return [SIDES[s] for s in spec.sides]
        if default == "both":
            return [-1.0, 1.0]
        return [-1.0 if self.rng.random() < 0.5 else 1.0]

    def lung_side(self, sign: float) -> np.ndarray:
        """Bool mask of the lung on the side with x-sign ``sign``."""
        return self.scene.lung_masks["left" if sign > 0 else "right"]

    def texture(self) -> np.ndarray:
        """A smooth random field in [0, 1] on the image grid (shared by patchy findings)."""
        if self._texture is None:
            f = self.frame
            coarse = self.rng.random((f.rows // 16 + 2, f.cols // 16 + 2)).astype(np.float32)
            coarse = ndimage.gaussian_filter(coarse, 0.8)
            up = ndimage.zoom(coarse, 16, order=1)[: f.rows, : f.cols]
            lo, hi = float(up.min()), float(up.max())
            self._texture = (up - lo) / max(hi - lo, 1e-6)
        return self._texture

    def fill(self, fraction: np.ndarray, sl: tuple[slice, slice] | None = None) -> None:
        """Replace ``fraction`` (0..1) of the aerated lung path with fluid/tissue."""
        sl = sl or (slice(None), slice(None))
        lung = self.scene.lung[sl]
        dens = self.scene.density if np.isscalar(self.scene.density) else self.scene.density[sl]
        self.extra[sl] += (MU_SOFT - MU_LUNG * dens) * clip(fraction, 0.0, 1.0) * lung

    def add_mask(self, label: str, mask: np.ndarray) -> None:
        """Union ``mask`` into the ground truth of ``label``."""
        mask = mask.astype(bool)
        self.masks[label] = self.masks[label] | mask if label in self.masks else mask
