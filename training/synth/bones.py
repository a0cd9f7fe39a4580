"""Frontal skeleton as bone-equivalent path length (mm): ribs, spine, clavicles, scapulae, humeri.

Ribs use a *phase field*: every posterior (and every anterior) rib on a side follows the same curve
shifted by a multiple of the rib spacing, so all ribs of a family cost one vectorised evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synth.anatomy import FrontalGeometry
from training.synth.frame import Frame, clip, ellipsoid, smooth_step, tube_segments

N_RIBS = 12


@dataclass(frozen=True)
class RibModel:
    """Where rib ``k`` runs: ``y = y1 + (k - 1) * spacing + shape(d)`` (posterior arc)."""

    y1: float
    spacing: float
    a: float

    def posterior_shape(self, d: np.ndarray) -> np.ndarray:
        """Posterior arc drop below its spinal end at lateral distance ``d`` (mm)."""
        return -0.12 * d + 0.42 * d * d / self.a

    def anterior_shape(self, d: np.ndarray) -> np.ndarray:
        """Anterior arc: from the lateral wall, running medially and down to the cartilage."""
        lat_drop = -0.12 * self.a + 0.42 * self.a
        return lat_drop + 2.6 * self.spacing * clip((self.a - d) / self.a, 0.0, None) ** 1.1

    def centre(self, k: int, d: float, anterior: bool = False) -> float:
        """y of rib ``k``'s centre line at lateral distance ``d`` (mm)."""
        shape = self.anterior_shape(np.float32(d)) if anterior else self.posterior_shape(np.float32(d))
        return float(self.y1 + (k - 1) * self.spacing + shape)


def rib_model(geom: FrontalGeometry) -> RibModel:
    """The rib layout of the patient behind ``geom``."""
    p = geom.p
    return RibModel(y1=p.apex_y - 0.9 * p.rib_spacing, spacing=p.rib_spacing, a=p.half_width)


def _rib_family(frame: Frame, geom: FrontalGeometry, model: RibModel, anterior: bool,
                breaks: list[tuple[int, float, float]]) -> np.ndarray:
    """Bone path of all posterior or all anterior ribs on both sides."""
    X, Y = frame.X, frame.Y
    d = np.abs(X)
    shape = model.anterior_shape(d) if anterior else model.posterior_shape(d)
    v = (Y - model.y1 - shape) / model.spacing + 0.5
    k = np.floor(v)
    frac = v - k
    width = 0.52 if anterior else 0.46
    e = (frac - 0.5) / (width / 2)
    inside = np.abs(e) < 1.0
    lat = geom.lateral(Y) + 10.0
    rib_no = k + 1
    if anterior:
        keep = (d > 22.0 + 4.0 * rib_no) & (d < lat) & (rib_no >= 1) & (rib_no <= 10)
        thick = 2.6
    else:
        keep = (d > 16.0) & (d < lat) & (rib_no >= 1) & (rib_no <= N_RIBS)
        thick = 7.0
    prof = np.sqrt(clip(1.0 - e * e, 0.0, None))
    cortex = np.exp(-(((np.abs(e) - 0.82) / 0.14) ** 2))
    taper = smooth_step(lat - d, 16.0) * smooth_step(d - 16.0, 12.0)
    bone = thick * (0.55 * prof + 0.7 * cortex) * (inside & keep) * taper
    for rib, x_break, gap in breaks:
        # cortical break: bone missing across a gap, the lateral fragment displaced by the gap width
        near = (np.sign(X) == np.sign(x_break)) & (np.abs(X - x_break) < 25.0)
        this_rib = near & (rib_no == rib)
        bone = np.where(this_rib & (np.abs(X - x_break) < gap / 2), 0.1 * bone, bone)
        if not anterior:
            step = gap / model.spacing
            shifted = np.abs(frac - 0.5 - step) < width / 2
            outer = near & (np.abs(X) > abs(x_break) + gap / 2) & (np.abs(X - x_break) < 14.0)
            e2 = (frac - 0.5 - step) / (width / 2)
            moved = thick * (0.55 * np.sqrt(clip(1 - e2 * e2, 0, None))
                             + 0.7 * np.exp(-(((np.abs(e2) - 0.82) / 0.14) ** 2))) * shifted
            bone = np.where(outer & (rib_no == rib), 0.0, bone)
            bone = np.where(outer & (np.floor(v - step) + 1 == rib), moved, bone)
    return bone


def _spine(frame: Frame, geom: FrontalGeometry) -> np.ndarray:
    """Vertebral bodies with end plates, discs and pedicles along the midline."""
    p = geom.p
    X, Y = frame.X, frame.Y
    sl = frame.box(-45.0, 45.0, float(Y.min()), float(Y.max()))
    Xs, Ys = X[sl], Y[sl]
    hw = 14.0 + 0.05 * clip(Ys - p.apex_y + 80.0, 0.0, None)
    height = 0.9 * p.rib_spacing
    phase = ((Ys - p.apex_y) / height) % 1.0
    q = clip(1.0 - (Xs / hw) ** 2, 0.0, None)
    body = 6.0 * np.sqrt(q) * (phase < 0.8)
    plates = 3.0 * np.exp(-(((phase - 0.03) / 0.04) ** 2)) + 3.0 * np.exp(-(((phase - 0.77) / 0.04) ** 2))
    body += plates * (q > 0)
    ped = np.zeros_like(Xs)
    for side in (-1.0, 1.0):
        r = np.sqrt(((Xs - side * 0.72 * hw) / (0.22 * hw)) ** 2 + ((phase - 0.35) / 0.17) ** 2)
        ped += 3.5 * np.exp(-(((r - 1.0) / 0.25) ** 2))
    spinous = 3.0 * np.exp(-((Xs / 4.0) ** 2 + ((phase - 0.55) / 0.12) ** 2))
    out = np.zeros((frame.rows, frame.cols), np.float32)
    out[sl] = body + ped + spinous
    return out


def _clavicles(frame: Frame, geom: FrontalGeometry) -> np.ndarray:
    """Two S-shaped clavicles from the manubrium to the acromion."""
    p = geom.p
    ap = p.projection == "AP"
    y0 = p.apex_y + (8.0 if ap else 32.0)
    rise = 12.0 if ap else 34.0
    out = np.zeros((frame.rows, frame.cols), np.float32)
    for side in (-1.0, 1.0):
        x_med = geom.mid_x() + side * 22.0
        length = p.half_width + p.wall + 20.0
        s = np.linspace(0.0, 1.0, 14)
        xs = x_med + side * s * length
        ys = y0 - rise * s ** 1.4 + 6.0 * np.sin(2 * np.pi * s)
        tube_segments(frame, np.stack([xs, ys], 1), 7.5 - 1.5 * s[:-1], out=out)
    return 0.55 * out


def _scapulae_humeri(frame: Frame, geom: FrontalGeometry) -> np.ndarray:
    """Scapular plates with their medial border, and the humeral heads at the shoulders."""
    p = geom.p
    a = p.half_width
    medial = 0.62 * a if p.projection == "AP" else 0.9 * a
    out = np.zeros((frame.rows, frame.cols), np.float32)
    for side in (-1.0, 1.0):
        top, bot = p.apex_y + 5.0, p.apex_y + 0.62 * p.lung_height
        sl = frame.box(side * medial - 80, side * medial + 80, top - 60, bot + 10)
        Xs, Ys = frame.X[sl], frame.Y[sl]
        t = clip((Ys - top) / (bot - top), 0.0, 1.0)
        border = medial + 22.0 * t                     # the medial border leans outwards downwards
        dd = side * Xs - border
        plate = smooth_step(dd, 4.0) * smooth_step(bot - Ys, 20.0) * smooth_step(Ys - top + 40, 20.0)
        rim = np.exp(-((dd - 3.0) / 2.5) ** 2) * (Ys > top - 30) * (Ys < bot)
        out[sl] += 2.2 * plate * smooth_step(a + p.wall + 70 - side * Xs, 20.0) + 3.0 * rim
        sl2, head = ellipsoid(frame, side * (a + p.wall + 38.0), p.apex_y - 18.0, 27.0, 27.0, 14.0)
        out[sl2] += head
    return out


def build_bones(frame: Frame, geom: FrontalGeometry,
                breaks: list[tuple[int, float, float]] | None = None) -> np.ndarray:
    """Bone-equivalent path length (mm) of the frontal skeleton.

    ``breaks`` lists rib fractures as (rib number, x of the break in mm, gap width in mm);
    the posterior/lateral rib loses bone there (a cortical break).
    """
    model = rib_model(geom)
    breaks = breaks or []
    bone = _rib_family(frame, geom, model, False, breaks)
    bone += _rib_family(frame, geom, model, True, [])
    bone += _spine(frame, geom) + _clavicles(frame, geom) + _scapulae_humeri(frame, geom)
    return bone.astype(np.float32)
