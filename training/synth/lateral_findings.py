"""Findings on the lateral view, placed at the heights the frontal view used (``placements``)."""
from __future__ import annotations

import numpy as np

from training.synth.context import FindingSpec
from training.synth.frame import Frame, clip, ellipsoid, smooth_step, tube_segments
from training.synth.lateral import LateralScene, build_lateral
from training.synth.patient import MU_BONE, MU_CALCIUM, MU_LUNG, MU_METAL, MU_SOFT, Patient, with_changes
from training.synth.render import SynthImage, attenuation, expose, exposed_region


class _Lat:
    """Drawing state on one lateral image."""

    def __init__(self, scene: LateralScene, rng: np.random.Generator):
        self.s, self.rng, self.f = scene, rng, scene.frame
        self.extra = np.zeros(scene.lung.shape, np.float32)
        self.masks: dict[str, np.ndarray] = {}

    def fill(self, frac: np.ndarray) -> None:
        self.extra += (MU_SOFT - MU_LUNG * self.s.geom.p.lung_density) * clip(frac, 0, 1) * self.s.lung

    def mask(self, label: str, m: np.ndarray) -> None:
        self.masks[label] = self.masks.get(label, np.zeros(m.shape, bool)) | m.astype(bool)

    def blob(self, z: float, y: float, r: float) -> np.ndarray:
        q = ((self.f.X - z) / r) ** 2 + ((self.f.Y - y) / r) ** 2
        return np.exp(-(q ** 1.5))


def _places(placements, label, rng, g, spec):
    """(y, size) of each placement of ``label``, or one in the spec's zone when there is none."""
    own = [(y, size) for lab, _, y, size in placements if lab == label]
    if own:
        return own
    y0, y1 = g.zone_y(spec.zone or "mid")
    return [(float(rng.uniform(y0, y1)), 20.0)]


def _draw(L: _Lat, spec: FindingSpec, placements) -> None:
    g, f, rng, p = L.s.geom, L.f, L.rng, L.s.geom.p
    label, sev = spec.label, spec.severity
    Z, Y = f.X, f.Y
    if label == "Cardiomegaly":
        L.mask(label, L.s.heart_mask)
    elif label == "Emphysema":
        L.mask(label, L.s.lung_mask)
    elif label == "Effusion":
        y_sulcus = float(g.bottom(np.float32(g.back - 5.0), True))
        height = 15.0 + 110.0 * sev ** 1.3
        rel = clip((Z - g.front) / (g.back - g.front), 0, 1)
        frac = smooth_step(Y - (y_sulcus - height * (0.15 + 0.85 * rel ** 2)), 8.0)
        L.fill(frac)
        L.extra += MU_SOFT * 0.4 * frac * 60.0 * sev * (Y < g.bottom(Z, True) + 30) * (rel > 0.4)
        L.mask(label, (frac > 0.5) & (L.s.lung > 3.0) & (Y < g.bottom(Z, True) + 10))
    elif label == "Pneumothorax":
        w = 5.0 + 40.0 * sev
        inward = Y - g.top(Z)
        region = L.s.lung_mask & (inward < w)
        L.extra[region] -= MU_LUNG * p.lung_density * L.s.lung[region]
        L.extra[L.s.lung_mask & (np.abs(inward - w) < 0.9)] += MU_SOFT * 7.0
        L.mask(label, region)
    elif label in ("Nodule", "Mass", "Granuloma"):
        for y, size in _places(placements, label, rng, g, spec):
            z = g.sample_z(rng, y, size / 2 + 5)
            sl, path = ellipsoid(f, z, y, size / 2, size / 2, size)
            L.extra[sl] += (MU_CALCIUM if label == "Granuloma" else MU_SOFT * 0.8) * path
            m = np.zeros(Z.shape, bool)
            m[sl] = np.hypot(f.X[sl] - z, f.Y[sl] - y) < (max(size / 2 + 2, 4.0) if label == "Granuloma" else size / 2)
            L.mask(label, m)
    elif label in ("Opacity", "Pneumonia", "Atelectasis"):
        for y, size in _places(placements, label, rng, g, spec):
            z = g.sample_z(rng, y, 12.0)
            if label == "Atelectasis":
                weight = np.exp(-(((Y - y) / (2.5 + 5 * sev)) ** 2)) * smooth_step(size / 2 - np.abs(Z - z), 8.0)
            else:
                weight = L.blob(z, y, size / 2)
            frac = (0.35 + 0.55 * sev) * weight * L.s.lung_mask
            L.fill(frac)
            L.mask(label, frac > 0.15 * (0.35 + 0.55 * sev))
    elif label in ("Edema", "Fibrosis", "Pleural Thickening"):
        zone = {"Edema": "hilar"}.get(label, spec.zone or "lower")
        y0, y1 = g.zone_y(zone)
        weight = smooth_step(Y - y0, 20.0) * smooth_step(y1 - Y, 20.0) * L.s.lung_mask
        if label == "Pleural Thickening":
            weight = weight * smooth_step(8.0 + 8 * sev - (g.back - Z), 3.0)
        level = 0.6 if label == "Pleural Thickening" else 0.15 + 0.35 * sev
        L.fill(level * weight)
        L.mask(label, weight > 0.5)
    elif label == "Hernia":
        hz, hy, rz, ry = g.heart()
        r = 22.0 + 22.0 * sev
        z, y = hz + rz * 0.9, float(g.bottom(np.float32(hz + rz), True)) - r * 0.7
        sl, path = ellipsoid(f, z, y, r, r, 2 * r)
        upper = f.Y[sl] < y - 0.3 * r
        L.extra[sl] += MU_SOFT * 0.5 * path * ~upper - MU_SOFT * 0.7 * path * upper
        L.mask(label, _full(Z.shape, sl, path > 0))
    elif label == "Fracture":
        for y, _ in _places(placements, label, rng, g, spec):
            z = g.back - 15.0
            sl, callus = ellipsoid(f, z, y, 8.0, 6.0, 2.0 + 3 * sev)
            L.extra[sl] += MU_BONE * callus
            L.mask(label, _full(Z.shape, sl, np.hypot(f.X[sl] - z, f.Y[sl] - y) < 11.0))
    elif label == "Support Devices":
        hz, hy, rz, ry = g.heart()
        metal = tube_segments(f, np.array([[g.front - 10, p.apex_y + 35], [g.front + 40, p.apex_y + 70],
                                           [hz, hy]]), 1.1)
        sl, can = ellipsoid(f, g.front - 12, p.apex_y + 35, 8.0, 18.0, 24.0)
        metal[sl] = np.maximum(metal[sl], np.minimum(can, 8.0))
        L.extra += MU_METAL * metal
        L.mask(label, metal > 0)


def _full(shape, sl, values) -> np.ndarray:
    out = np.zeros(shape, bool)
    out[sl] = values
    return out


def draw_lateral(p: Patient, specs: list[FindingSpec], placements, rng: np.random.Generator,
                 rows: int = 512, cols: int = 512) -> SynthImage:
    """Render the lateral (LL) view of ``p`` (already adjusted for its findings) with ``specs``.

    Returns a :class:`~training.synth.render.SynthImage` with view ``LL``.
    """
    frame = Frame.from_geometry(rows, cols, p.fov, p.tilt_deg * 0.5, p.shift_x * 0.5, p.shift_y)
    scene = build_lateral(p, frame)
    L = _Lat(scene, rng)
    for spec in specs:
        _draw(L, spec, placements)
    a = attenuation(scene.soft, scene.lung, p.lung_density, scene.bone, scene.air, 0.0, L.extra)
    lateral_p = with_changes(p, noise=p.noise * 1.3)      # thicker path, fewer photons
    rendered = expose(a, lateral_p, frame, rng)
    exposed = exposed_region(p, rows, cols)
    return SynthImage(rendered, {k: v & exposed for k, v in L.masks.items()}, frame.spacing, "LL")
