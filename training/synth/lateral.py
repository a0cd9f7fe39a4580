"""Lateral (LL) chest anatomy of the same patient: body, both lungs, heart, spine, sternum, airway.

On a lateral image the frame's ``X`` axis is the antero-posterior coordinate ``z`` (mm, anterior
negative, shown on the image's left; columns run towards posterior, PatientOrientation ``P\\F``);
``Y`` is head to feet as on the frontal view. Path lengths are now across the patient (left-right).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synth.frame import Frame, clip, ellipsoid, smooth_step, tube_segments
from training.synth.patient import Patient


@dataclass
class LateralGeometry:
    """Analytic outlines on the lateral view (all mm)."""

    p: Patient

    @property
    def front(self) -> float:
        """z of the anterior lung edge behind the sternum."""
        return -0.5 * self.p.depth + self.p.wall * 0.6 + 14.0

    @property
    def back(self) -> float:
        """z of the posterior lung edge (beside the spine)."""
        return 0.5 * self.p.depth - self.p.wall * 0.6 - 16.0

    def top(self, z: np.ndarray) -> np.ndarray:
        """y of the apex outline (the apices are posterior-superior)."""
        span = self.back - self.front
        return self.p.apex_y + 1.4 * span * ((z - (self.back - 0.35 * span)) / span) ** 2

    def bottom(self, z: np.ndarray, left: bool) -> np.ndarray:
        """y of a hemidiaphragm; lowest posteriorly (posterior costophrenic sulcus)."""
        span = self.back - self.front
        dome = self.p.dome_y + (self.p.dome_left_drop if left else 0.0)
        rel = (z - (self.front + 0.45 * span)) / span
        return dome + self.p.dome_curve * (45.0 * rel ** 2 + 35.0 * clip(rel, 0.0, None) ** 2)

    def heart(self) -> tuple[float, float, float, float]:
        """(z centre, y centre, z semi-axis, y semi-axis) of the heart silhouette."""
        p = self.p
        rz = 0.3 * p.depth * (p.heart_hw / (0.43 * p.half_width)) ** 0.8
        return self.front + 0.75 * rz, p.heart_cy + 0.1 * p.heart_hh, rz, p.heart_hh * 1.05

    def zone_y(self, zone: str) -> tuple[float, float]:
        """y range of a lung zone (same fractions as the frontal geometry)."""
        spans = {"apex": (0.02, 0.18), "upper": (0.08, 0.38), "mid": (0.36, 0.64),
                 "lower": (0.62, 0.92), "base": (0.78, 0.97), "hilar": (0.35, 0.58)}
        f0, f1 = spans.get(zone, (0.1, 0.92))
        return self.p.apex_y + f0 * self.p.lung_height, self.p.apex_y + f1 * self.p.lung_height

    def sample_z(self, rng: np.random.Generator, y: float, margin: float) -> float:
        """A z inside the lungs at height ``y`` (behind the heart when the heart is there)."""
        lo, hi = self.front + margin, self.back - margin
        hz, hy, rz, ry = self.heart()
        if abs(y - hy) < ry:
            lo = max(lo, hz + rz * np.sqrt(max(1 - ((y - hy) / ry) ** 2, 0.0)) * 0.8)
        return float(rng.uniform(lo, max(hi, lo + 1.0)))


@dataclass
class LateralScene:
    """Path-length fields (mm) of the lateral anatomy; same meaning as ``FrontalScene``."""

    frame: Frame
    geom: LateralGeometry
    soft: np.ndarray
    lung: np.ndarray
    lung_mask: np.ndarray
    heart_mask: np.ndarray
    air: np.ndarray
    bone: np.ndarray
    density: np.ndarray | float = 1.0
    no_vessels: np.ndarray | None = None


def build_lateral(p: Patient, frame: Frame) -> LateralScene:
    """Evaluate the lateral anatomy on ``frame``."""
    g = LateralGeometry(p)
    Z, Y = frame.X, frame.Y
    half_d = 0.5 * p.depth * (0.55 + 0.45 * smooth_step(Y - (p.apex_y - 30.0), 70.0))
    centre = 0.5 * p.depth * 0.25 * (1.0 - smooth_step(Y - (p.apex_y - 30.0), 70.0))
    width = 2.0 * (p.half_width + 12.0 + p.wall) * (0.5 + 0.5 * smooth_step(Y - (p.apex_y - 40.0), 60.0))
    soft = width * np.sqrt(clip(1.0 - ((Z - centre) / half_d) ** 2, 0.0, 1.0))

    span = g.back - g.front
    u = (Z - 0.5 * (g.front + g.back)) / (0.5 * span)
    across = np.sqrt(clip(1.0 - np.abs(u) ** 3, 0.0, 1.0))
    top = g.top(Z)
    lung = np.zeros_like(Z)
    lung_width = 2.0 * 0.75 * (p.half_width - p.mediastinum_hw)
    for left in (False, True):
        bot = g.bottom(Z, left)
        vert = np.sqrt(clip((Y - top) / 35.0, 0.0, 1.0) * clip((bot - Y) / 4.0, 0.0, 1.0))
        lung += 0.5 * lung_width * across * vert * (np.abs(u) < 1.0)
    lung_mask = (lung > 4.0) & (Y > top) & (Y < g.bottom(Z, True))

    hz, hy, rz, ry = g.heart()
    sl, heart = ellipsoid(frame, hz, hy, rz, ry, 2.0 * p.heart_hw)
    heart_mask = np.zeros(Z.shape, bool)
    heart_mask[sl] = (heart > 0) & (frame.Y[sl] < g.bottom(frame.X[sl], True) + 4.0)
    lung[sl] = np.maximum(lung[sl] - 0.8 * heart, 0.12 * lung[sl])

    carina_y = p.apex_y + 0.3 * g.p.lung_height
    tz = g.front + 0.48 * span
    air = tube_segments(frame, np.array([[tz - 15.0, float(Y.min()) - 10], [tz, carina_y]]), 8.5)
    air *= 1.6
    bone = _lateral_bones(frame, g)
    return LateralScene(frame, g, soft.astype(np.float32), lung.astype(np.float32), lung_mask,
                        heart_mask, air.astype(np.float32), bone)


def _lateral_bones(frame: Frame, g: LateralGeometry) -> np.ndarray:
    """Spine (bodies, discs, posterior elements), sternum and faint overlapping ribs."""
    p = g.p
    Z, Y = frame.X, frame.Y
    zc = 0.5 * p.depth - p.wall - 38.0
    height = 0.9 * p.rib_spacing
    phase = ((Y - p.apex_y) / height) % 1.0
    lean = 0.12 * (Y - p.apex_y)                     # thoracic kyphosis, posterior convex
    zz = Z - zc - lean * 0.15
    body = clip(1.0 - (zz / 17.0) ** 2, 0.0, None)
    bone = 14.0 * np.sqrt(body) * (phase < 0.8) + 6.0 * (body > 0) * (
        np.exp(-(((phase - 0.03) / 0.04) ** 2)) + np.exp(-(((phase - 0.77) / 0.04) ** 2)))
    bone += 7.0 * np.exp(-(((zz - 32.0) / 8.0) ** 2)) * (np.abs(phase - 0.4) < 0.3)
    sternum_z = -0.5 * p.depth + p.wall * 0.5 + 4.0
    sl = frame.box(sternum_z - 30, sternum_z + 30, p.apex_y, p.heart_cy + p.heart_hh)
    st = np.exp(-(((frame.X[sl] - sternum_z - 0.08 * (frame.Y[sl] - p.apex_y)) / 4.0) ** 2))
    bone[sl] += 6.0 * st * smooth_step(frame.Y[sl] - p.apex_y - 25.0, 10.0) \
        * smooth_step(p.heart_cy + 0.8 * p.heart_hh - frame.Y[sl], 10.0)
    v = (Y - p.apex_y + 0.45 * (Z - g.back)) / p.rib_spacing
    frac = v - np.floor(v)
    ribs = np.exp(-(((frac - 0.5) / 0.15) ** 2)) * smooth_step(Z - g.front - 20.0, 30.0)
    ribs *= (Y > g.top(Z) - 10.0) & (Y < g.bottom(Z, True) + 30.0) & (Z < g.back + 12.0)
    return (bone + 3.0 * ribs).astype(np.float32)
