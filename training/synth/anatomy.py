"""Frontal (PA/AP) chest anatomy as path-length fields: body, lungs, heart, mediastinum, airway.

Everything is analytic in body coordinates (mm, see ``frame.py``), evaluated on the pixel grid with
vectorised numpy. ``FrontalGeometry`` also answers "where is the left lower zone" for findings.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from training.synth.frame import Frame, clip, ellipsoid, smooth_step, tube_segments
from training.synth.patient import Patient

SIDES = {"right": -1.0, "left": 1.0}   # sign of x on the patient's side


@dataclass
class FrontalGeometry:
    """Analytic lung, heart and chest-wall outlines of one patient on the frontal view."""

    p: Patient

    def mid_x(self) -> float:
        """x of the mediastinal midline (anterior structures shift with rotation), mm."""
        return 0.5 * self.p.rotation

    def lateral(self, y: np.ndarray) -> np.ndarray:
        """Inner rib-cage half width at height ``y`` (mm from the spine axis)."""
        a = self.p.half_width
        yw = self.p.apex_y + 0.68 * self.p.lung_height
        above = a * np.sqrt(clip(1.0 - ((yw - y) / (yw - self.p.apex_y + 28.0)) ** 2, 0.0, 1.0))
        below = a * (1.0 - 0.12 * clip((y - yw) / 90.0, 0.0, 1.0) ** 2)
        return np.where(y < yw, above, below)

    def medial(self, y: np.ndarray, side: float) -> np.ndarray:
        """Medial (mediastinal) lung border, as distance from the midline on ``side`` (mm)."""
        p = self.p
        knob_y = p.apex_y + 0.30 * self.p.lung_height
        m = p.mediastinum_hw + 4.0 * clip((y - knob_y) / 60.0, 0.0, 1.0)
        if side > 0:
            m = m + p.knob_r * np.exp(-(((y - knob_y) / 16.0) ** 2))
        return m - side * self.mid_x()

    def top(self, d: np.ndarray) -> np.ndarray:
        """y of the lung apex outline at lateral distance ``d`` (mm)."""
        a = self.p.half_width
        return self.p.apex_y + 1.5 * a * ((d - 0.42 * a) / a) ** 2

    def dome_top(self, side: float) -> float:
        """y of the dome's highest point on ``side``."""
        return self.p.dome_y + (self.p.dome_left_drop if side > 0 else 0.0)

    def bottom(self, d: np.ndarray, side: float) -> np.ndarray:
        """y of the hemidiaphragm (lung base) at lateral distance ``d`` on ``side`` (mm)."""
        a = self.p.half_width
        return self.dome_top(side) + self.p.dome_curve * 0.95 * a * ((d - 0.45 * a) / a) ** 2

    def costophrenic(self, side: float) -> tuple[float, float]:
        """(x, y) of the lateral costophrenic angle on ``side``, mm."""
        yb = self.p.dome_y + self.p.dome_curve * 0.95 * self.p.half_width * 0.3
        for _ in range(3):
            d = float(self.lateral(np.float32(yb)))
            yb = float(self.bottom(np.float32(d), side))
        return side * d, yb

    def zone_y(self, zone: str, side: float) -> tuple[float, float]:
        """y range (mm) of a lung zone: ``apex``, ``upper``, ``mid``, ``lower``, ``base``."""
        y0, h = self.p.apex_y, self.dome_top(side) - self.p.apex_y
        spans = {"apex": (0.02, 0.18), "upper": (0.08, 0.38), "mid": (0.36, 0.64),
                 "lower": (0.62, 0.92), "base": (0.78, 0.97), "hilar": (0.35, 0.58)}
        f0, f1 = spans.get(zone, (0.1, 0.92))
        return y0 + f0 * h, y0 + f1 * h

    def sample_point(self, rng: np.random.Generator, side: float, zone: str,
                     margin: float = 8.0, region: str = "any") -> tuple[float, float]:
        """A random (x, y) inside ``side``'s lung, in ``zone``, ``margin`` mm from its borders.

        ``region`` is ``any``, ``peripheral`` (outer third), ``central`` (inner half) or ``medial``.
        """
        y0, y1 = self.zone_y(zone, side)
        for _ in range(40):
            y = float(rng.uniform(y0, y1))
            lo = float(self.medial(np.float32(y), side)) + margin
            hi = float(self.lateral(np.float32(y))) - margin
            if region == "peripheral":
                lo = max(lo, hi - (hi - lo) / 3)
            elif region == "central":
                hi = min(hi, lo + (hi - lo) / 2)
            elif region == "medial":
                hi = min(hi, lo + (hi - lo) / 3)
            if side > 0 and y > self.p.heart_cy - 0.6 * self.p.heart_hh:
                lo = max(lo, self.p.heart_cx + self.p.heart_hw * 0.8 + margin)
            if side < 0 and y > self.p.heart_cy - 0.6 * self.p.heart_hh:
                lo = max(lo, self.p.heart_hw - self.p.heart_cx + margin * 0.5)
            if hi <= lo:
                continue
            d = float(rng.uniform(lo, hi))
            if self.top(np.float32(d)) + margin < y < self.bottom(np.float32(d), side) - margin:
                return side * d, y
        d = 0.55 * self.p.half_width
        return side * d, float(0.5 * (self.top(np.float32(d)) + self.bottom(np.float32(d), side)))


@dataclass
class FrontalScene:
    """Path-length fields (mm) of the frontal anatomy before findings.

    ``soft`` is the body's soft-tissue path, ``lung`` the aerated-lung path (replacing soft
    tissue), ``bone`` bone-equivalent path, ``air`` gas outside the lungs (trachea, stomach).
    ``density`` multiplies the lung tissue attenuation per pixel (1 = normal, 0 = free air).
    """

    frame: Frame
    geom: FrontalGeometry
    soft: np.ndarray
    lung: np.ndarray
    lung_masks: dict[str, np.ndarray]
    heart_mask: np.ndarray
    thorax_mask: np.ndarray
    air: np.ndarray
    bone: np.ndarray = field(default=None)
    density: np.ndarray = field(default=None)
    no_vessels: np.ndarray = field(default=None)


def build_frontal(p: Patient, frame: Frame) -> FrontalScene:
    """Evaluate body outline, lungs, heart, mediastinum and airways on ``frame``."""
    g = FrontalGeometry(p)
    X, Y = frame.X, frame.Y
    a, mid = p.half_width, g.mid_x()

    # body outline: chest wall, shoulders, neck, abdomen; elliptical cross-section
    lat = g.lateral(Y)
    outer = lat + 12.0 + p.wall
    outer = np.maximum(outer, (a + p.wall + 6.0) * smooth_step(Y - p.dome_y - 20.0, 50.0))
    shoulder = (a + p.wall + 62.0) * (0.35 + 0.65 * smooth_step(Y - (p.apex_y - 45.0), 110.0)) \
        * smooth_step(p.apex_y + 60.0 - Y, 90.0)
    outer = np.maximum(np.maximum(outer, shoulder), 52.0 + 0.4 * p.wall)
    depth_y = p.depth * clip(0.45 + 0.55 * smooth_step(Y - (p.apex_y - 20.0), 60.0), 0.0, 1.0)
    soft = depth_y * np.sqrt(clip(1.0 - ((X - 0.3 * mid) / outer) ** 2, 0.0, 1.0))
    if p.breast > 0:
        for side in (-1.0, 1.0):
            cy, r = p.dome_y - 10.0, 0.5 * a
            sl, b = ellipsoid(frame, side * 0.62 * a, cy, r * 1.05, r, p.breast)
            soft[sl] += b * smooth_step(frame.Y[sl] - (cy - 0.35 * r), 30.0)

    # lungs: per side, lateral/medial borders, apex and dome; elliptic depth profile across
    lung = np.zeros_like(X)
    masks, dmax = {}, 0.6 * p.depth
    heart_box = frame.box(p.heart_cx + mid - 1.5 * p.heart_hw, p.heart_cx + mid + 1.5 * p.heart_hw,
                          p.heart_cy - 1.1 * p.heart_hh, p.heart_cy + 1.1 * p.heart_hh)
    for name, side in SIDES.items():
        y_low = float(g.bottom(np.float32(a + 5.0), side)) + 50.0
        x_in, x_out = side * (p.mediastinum_hw - abs(mid) - 5.0), side * (a + 5.0)
        sl = frame.box(min(x_in, x_out), max(x_in, x_out), p.apex_y - 5.0, y_low)
        Xs, Ys, lat_s = X[sl], Y[sl], lat[sl]
        d = side * Xs
        med = g.medial(Ys, side)
        hw = np.maximum(0.5 * (lat_s - med), 1.0)
        u = (d - 0.5 * (lat_s + med)) / hw
        top, bot = g.top(d), g.bottom(d, side)
        across = np.sqrt(clip(1.0 - np.abs(u) ** 2.5, 0.0, 1.0))
        vert = np.sqrt(clip((Ys - top) / 40.0, 0.0, 1.0) * clip((bot - Ys) / 4.0, 0.0, 1.0))
        recess = 0.28 * clip(1.0 - (Ys - bot) / 45.0, 0.0, 1.0) * (Ys > bot)
        t = clip((Ys - p.apex_y) / g.p.lung_height, 0.0, 1.0)
        inside = (np.abs(u) < 1.0) & (Ys > top)
        path = dmax * across * (vert * (0.55 + 0.45 * t) + recess) * inside
        np.maximum(lung[sl], path, out=lung[sl])
        masks[name] = np.zeros(X.shape, bool)
        masks[name][sl] = inside & (Ys < bot) & (path > 2.0)

    # heart: leaning ellipsoid resting on the left dome, displacing lung (retrocardiac lung kept)
    Xh, Yh = X[heart_box], Y[heart_box]
    hx = Xh - (p.heart_cx + mid) - 0.4 * (Yh - p.heart_cy)
    rr = (hx / p.heart_hw) ** 2 + ((Yh - p.heart_cy) / p.heart_hh) ** 2
    heart = 0.62 * p.depth * np.sqrt(clip(1.0 - rr, 0.0, None))
    heart_mask = np.zeros(X.shape, bool)
    heart_mask[heart_box] = (rr < 1.0) & (Yh < g.bottom(np.abs(Xh), 1.0) + 4.0)
    lung[heart_box] = np.maximum(lung[heart_box] - 0.85 * heart, 0.1 * lung[heart_box])

    # airway: trachea to the carina, main bronchi; gastric bubble under the left dome
    carina_y = p.apex_y + 0.28 * g.p.lung_height
    top_y = float(frame.Y.min()) - 20.0
    air = tube_segments(frame, np.array([[mid * 0.6, top_y], [mid, carina_y]]), 8.0)
    for side, ang in ((-1.0, 0.45), (1.0, 0.75)):
        end = [mid + side * 38.0, carina_y + 38.0 / np.tan(np.pi / 2 - ang) * 0.8]
        tube_segments(frame, np.array([[mid, carina_y], end]), 6.0, out=air)
    air *= 0.7
    sl, bubble = ellipsoid(frame, 0.45 * a, g.dome_top(1.0) + 28.0, 32.0, 18.0, 40.0)
    air[sl] += bubble * (frame.Y[sl] < g.dome_top(1.0) + 30.0)

    base = np.where(X > 0, g.bottom(np.abs(X), 1.0), g.bottom(np.abs(X), -1.0))
    thorax = (np.abs(X) < lat) & (Y > p.apex_y - 10.0) & (Y < base + 10.0)
    return FrontalScene(frame, g, soft.astype(np.float32), lung.astype(np.float32), masks,
                        heart_mask, thorax, air.astype(np.float32))
