"""Focal findings, the heart and devices on the frontal view (sizes in mm, scaled by severity)."""
from __future__ import annotations

import numpy as np

from training.synth.bones import rib_model
from training.synth.context import Context, FindingSpec
from training.synth.frame import clip, ellipsoid, tube_segments
from training.synth.patient import MU_BONE, MU_CALCIUM, MU_LUNG, MU_METAL, MU_SOFT

# inclusive diameter ranges, mm (Fleischner: nodule < 30 mm, mass >= 30 mm)
NODULE_MM = (6.0, 28.0)
MASS_MM = (30.0, 75.0)
GRANULOMA_MM = (4.0, 10.0)
# Solid lesions are drawn this many times denser than soft tissue. At physical density a moderate
# nodule (15 mm, added attenuation ~0.22) kept only a few grey levels after latitude compression,
# the characteristic curve and downsampling to 320 px, and a from-scratch model scored it at chance.
SOLID_CONSPICUITY = 2.2
# Catheters and tubes carry a radiopaque stripe: their wall attenuates this many times soft tissue.
TUBE_OPACITY = 20.0


def _zone(ctx: Context, spec: FindingSpec) -> str:
    return spec.zone if spec.zone and spec.zone != "retrocardiac" else str(
        ctx.rng.choice(["upper", "mid", "lower", "upper"]))


def _solid(ctx: Context, label: str, x: float, y: float, diameter: float, lobulated: bool) -> None:
    """A soft-tissue sphere (or a cluster of three) replacing lung, with its mask."""
    f, rng = ctx.frame, ctx.rng
    r = diameter / 2
    parts = [(x, y, r)]
    if lobulated:
        parts += [(x + rng.normal(0, r / 4), y + rng.normal(0, r / 4), r * rng.uniform(0.5, 0.8))
                  for _ in range(2)]
    sl = f.box(x - 1.6 * r, x + 1.6 * r, y - 1.6 * r, y + 1.6 * r)
    path = np.zeros(f.X[sl].shape, np.float32)
    for cx, cy, cr in parts:
        _, p = ellipsoid(f, cx, cy, cr, cr * rng.uniform(0.85, 1.15), 2 * cr, box=sl)
        np.maximum(path, p, out=path)
    ctx.extra[sl] += SOLID_CONSPICUITY * (MU_SOFT - MU_LUNG) * path
    mask = np.zeros(f.X.shape, bool)
    mask[sl] = (path > 0.05 * diameter) & ctx.scene.thorax_mask[sl]
    ctx.add_mask(label, mask)
    ctx.placements.append((label, x, y, diameter))


def nodule(ctx: Context, spec: FindingSpec) -> None:
    """Solitary pulmonary nodule, 6-28 mm."""
    for sign in ctx.side_signs(spec):
        lo, hi = NODULE_MM
        diameter = lo + (hi - lo) * spec.severity * ctx.rng.uniform(0.7, 1.0)
        x, y = ctx.geom.sample_point(ctx.rng, sign, _zone(ctx, spec), margin=diameter / 2 + 4)
        _solid(ctx, "Nodule", x, y, diameter, lobulated=False)


def mass(ctx: Context, spec: FindingSpec) -> None:
    """Lung mass, 30-75 mm, lobulated."""
    for sign in ctx.side_signs(spec):
        lo, hi = MASS_MM
        diameter = lo + (hi - lo) * spec.severity * ctx.rng.uniform(0.7, 1.0)
        zone = _zone(ctx, spec) if spec.zone != "hilar" else "hilar"
        x, y = ctx.geom.sample_point(ctx.rng, sign, zone, margin=min(0.6 * diameter, 30.0))
        _solid(ctx, "Mass", x, y, diameter, lobulated=True)


def granuloma(ctx: Context, spec: FindingSpec) -> None:
    """Calcified granuloma: a small (4-10 mm), very dense, sharply marginated dot."""
    f = ctx.frame
    for sign in ctx.side_signs(spec):
        lo, hi = GRANULOMA_MM
        diameter = lo + (hi - lo) * spec.severity * ctx.rng.uniform(0.6, 1.0)
        x, y = ctx.geom.sample_point(ctx.rng, sign, _zone(ctx, spec), margin=6.0)
        r = diameter / 2
        sl, path = ellipsoid(f, x, y, r, r, diameter)
        ctx.extra[sl] += MU_CALCIUM * path
        rr = np.hypot(f.X[sl] - x, f.Y[sl] - y)
        mask = np.zeros(f.X.shape, bool)
        mask[sl] = rr < max(r + 2.0, 4.0)
        ctx.add_mask("Granuloma", mask)
        ctx.placements.append(("Granuloma", x, y, diameter))


def cardiomegaly(ctx: Context, spec: FindingSpec) -> None:
    """The heart was enlarged in the patient (CTR > 0.5); its silhouette is the mask."""
    ctx.add_mask("Cardiomegaly", ctx.scene.heart_mask)


def plan_fracture(ctx: Context, spec: FindingSpec) -> list[tuple[int, float, float]]:
    """Choose rib breaks (rib, x mm, gap mm) before the skeleton is drawn; draws callus and mask."""
    f, g, rng = ctx.frame, ctx.geom, ctx.rng
    model = rib_model(g)
    breaks = []
    for sign in ctx.side_signs(spec):
        zone = spec.zone or "mid"
        ribs = {"apex": (2, 4), "upper": (3, 5), "mid": (5, 8), "lower": (7, 10), "base": (8, 10)}
        rib = int(rng.integers(*ribs.get(zone, (4, 9))))
        d = g.p.half_width * rng.uniform(0.55, 0.9)
        y = model.centre(rib, d)
        gap = 2.0 + 4.0 * spec.severity
        breaks.append((rib, sign * d, gap))
        healed = "healed" in spec.words or "old" in spec.words or rng.random() < 0.6
        if healed:
            sl, callus = ellipsoid(f, sign * d, y, 8.0 + 6 * spec.severity, 8.0, 5.0 + 5 * spec.severity)
            ctx.extra[sl] += MU_BONE * callus
        sl = f.box(sign * d - 12, sign * d + 12, y - 12, y + 12)
        mask = np.zeros(f.X.shape, bool)
        mask[sl] = np.hypot(f.X[sl] - sign * d, f.Y[sl] - y) < 11.0
        ctx.add_mask("Fracture", mask)
        ctx.placements.append(("Fracture", sign * d, y, 20.0))
    return breaks


def hernia(ctx: Context, spec: FindingSpec) -> None:
    """Hiatal hernia: a retrocardiac round soft-tissue density with an air-fluid level."""
    f, g, rng = ctx.frame, ctx.geom, ctx.rng
    r = 22.0 + 22.0 * spec.severity
    x = g.mid_x() + rng.uniform(0, 25)
    y = g.dome_top(1.0) - r * rng.uniform(0.5, 0.9)
    sl, path = ellipsoid(f, x, y, r * 1.15, r, 2 * r)
    level = y - r * rng.uniform(0.1, 0.5)
    upper = f.Y[sl] < level
    ctx.extra[sl] += MU_SOFT * 0.5 * path * ~upper - MU_SOFT * 0.7 * path * upper
    ctx.extra[sl] += MU_SOFT * 3.0 * (np.abs(f.Y[sl] - level) < 0.8) * (path > 0)
    mask = np.zeros(f.X.shape, bool)
    mask[sl] = path > 0
    ctx.add_mask("Hernia", mask)


def support_devices(ctx: Context, spec: FindingSpec) -> None:
    """Pacemaker, central line, endotracheal/nasogastric tubes or sternotomy wires (from the text)."""
    f, g, rng = ctx.frame, ctx.geom, ctx.rng
    p = g.p
    words = spec.words
    kinds = [k for k, keys in (("pacer", ("pacemaker", "pacer", "defibrillator", "aicd", "icd")),
                               ("line", ("catheter", "line", "picc", "port", "central")),
                               ("tubes", ("endotracheal", "et tube", "nasogastric", "enteric", "feeding", "ng tube")),
                               ("sternotomy", ("sternotomy", "wires", "cabg")))
             if any(w in words for w in keys)]
    if not kinds:
        kinds = [str(rng.choice(["pacer", "line", "sternotomy", "tubes"], p=[0.35, 0.3, 0.2, 0.15]))]
    metal = np.zeros(f.X.shape, np.float32)
    plastic = np.zeros(f.X.shape, np.float32)
    mid, a = g.mid_x(), p.half_width
    svc = (mid - 18.0, p.apex_y + 0.38 * g.p.lung_height)
    ra = (mid - 10.0, p.heart_cy)
    for kind in kinds:
        if kind == "pacer":
            side = 1.0 if rng.random() < 0.8 else -1.0
            gx, gy = side * 0.62 * a, p.apex_y + 40.0
            sl, can = ellipsoid(f, gx, gy, 24.0, 18.0, 7.0)
            metal[sl] = np.maximum(metal[sl], np.minimum(can * 3.0, 8.0))
            for tip in ((p.heart_cx + 0.4 * p.heart_hw, p.heart_cy + 0.5 * p.heart_hh), ra):
                pts = np.array([[gx, gy], [side * 30.0, p.apex_y + 20.0], svc, tip])
                tube_segments(f, _smooth(pts), 1.1, out=metal)
        elif kind == "line":
            side = -1.0 if rng.random() < 0.6 else 1.0
            pts = np.array([[side * (a + 30.0), p.apex_y + 10.0], [side * 25.0, p.apex_y + 30.0], svc,
                            [svc[0] + 4.0, svc[1] + 25.0 + 20 * rng.random()]])
            tube_segments(f, _smooth(pts), 1.3, out=plastic)
        elif kind == "tubes":
            carina = p.apex_y + 0.28 * g.p.lung_height
            tube_segments(f, np.array([[mid * 0.6, float(f.Y.min()) - 5], [mid, carina - 45.0]]), 4.0, out=plastic)
            tube_segments(f, np.array([[mid * 0.6 + 6, float(f.Y.min()) - 5], [mid + 8, p.dome_y],
                                       [0.4 * a, p.dome_y + 45.0]]), 2.0, out=plastic)
        else:
            for k in range(int(rng.integers(5, 8))):
                y = p.apex_y + 35.0 + k * 0.6 * p.rib_spacing * 1.3
                sl, loop = ellipsoid(f, mid + rng.normal(0, 1.5), y, 5.0, 3.0, 1.6)
                ring = (loop > 0) & (loop < 1.2)
                metal[sl] = np.maximum(metal[sl], 4.0 * ring)
    ctx.extra += MU_METAL * metal + MU_SOFT * TUBE_OPACITY * clip(plastic, 0.0, 2.6)
    ctx.add_mask("Support Devices", (metal > 0) | (plastic > 0))


def _smooth(pts: np.ndarray, n: int = 24) -> np.ndarray:
    """Chaikin-smoothed polyline through ``pts`` (so tubes and leads curve gently)."""
    pts = np.asarray(pts, float)
    for _ in range(3):
        q = 0.75 * pts[:-1] + 0.25 * pts[1:]
        r = 0.25 * pts[:-1] + 0.75 * pts[1:]
        pts = np.vstack([pts[:1], np.column_stack([q, r]).reshape(-1, 2), pts[-1:]])
    keep = np.unique(np.linspace(0, len(pts) - 1, min(n, len(pts))).round().astype(int))
    return pts[keep]
