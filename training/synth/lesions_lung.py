"""Findings of the lung and pleura on the frontal view: each draws into a Context and sets its mask.

Sizes are in mm and scale with ``spec.severity`` (0 subtle .. 1 obvious).
"""
from __future__ import annotations

import numpy as np

from training.synth.context import Context, FindingSpec
from training.synth.frame import clip, smooth_step, tube_segments
from training.synth.patient import MU_LUNG, MU_SOFT


def _side_geometry(ctx: Context, sign: float):
    """Return (d, lateral, medial, top, bottom) fields for the side with x-sign ``sign``."""
    g, X, Y = ctx.geom, ctx.frame.X, ctx.frame.Y
    d = sign * X
    return d, g.lateral(Y), g.medial(Y, sign), g.top(d), g.bottom(d, sign)


def effusion(ctx: Context, spec: FindingSpec) -> None:
    """Pleural fluid: a meniscus rising laterally, blunting the costophrenic angle.

    The fluid has its own antero-posterior thickness (it layers in the posterior pleural space), so
    it is dense even beside the lateral chest wall where the lung is thin.
    """
    Y, dmax = ctx.frame.Y, 0.6 * ctx.geom.p.depth
    for sign in ctx.side_signs(spec):
        d, lat, med, top, bot = _side_geometry(ctx, sign)
        _, y_cp = ctx.geom.costophrenic(sign)
        height = 16.0 + 130.0 * spec.severity ** 1.3 + ctx.rng.uniform(-3, 3)
        rel = clip((d - med) / np.maximum(lat - med, 1.0), 0.0, 1.0)
        surface = y_cp + 15.0 - (height + 15.0) * (0.2 + 0.8 * rel ** 1.5)
        frac = smooth_step(Y - surface, 8.0) * (d > med - 5.0) * (d < lat + 2.0) * (Y < bot + 40.0)
        fluid = frac * dmax * (0.35 + 0.5 * spec.severity) * np.sqrt(clip(1.2 - (1 - rel) ** 2, 0, 1))
        lung = ctx.scene.lung
        displaced = np.minimum(fluid, lung)
        ctx.extra += (MU_SOFT - MU_LUNG * ctx.geom.p.lung_density) * displaced
        ctx.extra += MU_SOFT * 0.5 * (fluid - displaced)
        ctx.add_mask("Effusion", (frac > 0.5) & ctx.lung_side(sign) | (frac > 0.5) & (lung > 2.0) & (Y < bot + 6.0))


def prepare_pneumothorax(ctx: Context, spec: FindingSpec) -> None:
    """Pleural air at the apex/lateral wall: no lung tissue and no vessels there (run pre-vessels)."""
    scene, Y = ctx.scene, ctx.frame.Y
    if np.isscalar(scene.density):
        scene.density = np.full_like(scene.lung, scene.density)
    scene.no_vessels = np.zeros(scene.lung.shape, bool) if scene.no_vessels is None else scene.no_vessels
    for sign in ctx.side_signs(spec):
        d, lat, med, top, bot = _side_geometry(ctx, sign)
        gap = 5.0 + 45.0 * spec.severity ** 1.2 + ctx.rng.uniform(-2, 3)
        extent = (0.3 + 0.6 * spec.severity) * ctx.geom.p.lung_height
        w = gap * clip(1.0 - (Y - ctx.geom.p.apex_y) / extent, 0.0, 1.0) ** 0.7
        inward = np.minimum(lat - d, (Y - top) * 0.8)
        lung = ctx.lung_side(sign)
        region = lung & (inward < w) & (w > 0.5)
        scene.density[region] = 0.0
        scene.no_vessels |= region
        line = lung & (np.abs(inward - w) < 0.9) & (w > 0.5)
        ctx.extra[line] += MU_SOFT * 9.0
        collapsed = lung & ~region
        ctx.extra[collapsed] += (MU_SOFT - MU_LUNG) * 0.2 * spec.severity * scene.lung[collapsed]
        ctx.add_mask("Pneumothorax", region)


def consolidation(ctx: Context, spec: FindingSpec) -> None:
    """Airspace opacity: lobar (zone-filling, air bronchograms) or patchy (blobs)."""
    f, rng = ctx.frame, ctx.rng
    lobar = spec.label == "Pneumonia" and rng.random() < 0.6 or "lobe" in spec.words or "lobar" in spec.words
    density = 0.35 + 0.6 * spec.severity
    for sign in ctx.side_signs(spec):
        zone = spec.zone or rng.choice(["lower", "lower", "mid", "upper"])
        weight = np.zeros_like(f.X)
        n = 1 if lobar else rng.integers(2, 6)
        for _ in range(n):
            x, y = ctx.geom.sample_point(rng, sign, zone, margin=10.0)
            r = (28.0 + 30.0 * spec.severity) if lobar else rng.uniform(10.0, 18.0 + 14.0 * spec.severity)
            sl = f.box(x - 2.5 * r, x + 2.5 * r, y - 2.5 * r, y + 2.5 * r)
            q = ((f.X[sl] - x) / r) ** 2 + ((f.Y[sl] - y) / (r * rng.uniform(0.7, 1.2))) ** 2
            weight[sl] = np.maximum(weight[sl], np.exp(-q ** 1.5))
            ctx.placements.append((spec.label, x, y, 2.0 * r))
        tex = ctx.texture()
        frac = density * clip(1.6 * weight * (0.55 + 0.7 * tex) - 0.15, 0.0, 1.0)
        frac *= ctx.lung_side(sign)
        if lobar or "bronchogram" in spec.words:
            frac = _air_bronchograms(ctx, frac, sign, weight)
        ctx.fill(frac)
        ctx.add_mask(spec.label, frac > 0.15 * density)


def _air_bronchograms(ctx: Context, frac: np.ndarray, sign: float, weight: np.ndarray) -> np.ndarray:
    """Lucent branching airways inside dense consolidation."""
    f, rng = ctx.frame, ctx.rng
    rows, cols = np.nonzero(weight > 0.7)
    if len(rows) == 0:
        return frac
    i = rng.integers(len(rows))
    x0, y0 = float(f.X[rows[i], cols[i]]), float(f.Y[rows[i], cols[i]])
    tubes = np.zeros_like(frac)
    for _ in range(3):
        ang = rng.uniform(0, 2 * np.pi)
        pts = [(x0, y0)]
        for step in range(4):
            ang += rng.normal(0, 0.3)
            x, y = pts[-1]
            pts.append((x + 9.0 * np.cos(ang), y + 9.0 * np.sin(ang)))
        tube_segments(f, np.array(pts), np.linspace(1.8, 0.9, 4), out=tubes)
    return frac * (1.0 - 0.7 * clip(tubes / 3.0, 0.0, 1.0) * (weight > 0.5))


def atelectasis(ctx: Context, spec: FindingSpec) -> None:
    """Plate-like (discoid) atelectasis: a thin dense band, mostly horizontal, in the lower zones."""
    f, rng = ctx.frame, ctx.rng
    for sign in ctx.side_signs(spec):
        zone = spec.zone if spec.zone in ("mid", "lower", "base") else "lower"
        x, y = ctx.geom.sample_point(rng, sign, zone, margin=18.0)
        length = 30.0 + 45.0 * spec.severity + rng.uniform(-5, 5)
        thick = 2.5 + 6.0 * spec.severity
        ang = np.deg2rad(rng.uniform(-18, 18))
        sl = f.box(x - length, x + length, y - length, y + length)
        u = (f.X[sl] - x) * np.cos(ang) + (f.Y[sl] - y) * np.sin(ang)
        v = -(f.X[sl] - x) * np.sin(ang) + (f.Y[sl] - y) * np.cos(ang)
        band = np.exp(-((v / thick) ** 2)) * smooth_step(length / 2 - np.abs(u), 8.0)
        band *= ctx.lung_side(sign)[sl]
        frac = np.zeros_like(f.X)
        frac[sl] = (0.55 + 0.4 * spec.severity) * band
        ctx.fill(frac)
        ctx.add_mask("Atelectasis", frac > 0.12)
        ctx.placements.append(("Atelectasis", x, y, length))


def edema(ctx: Context, spec: FindingSpec) -> None:
    """Bilateral perihilar haze fading outwards, and Kerley B lines at the lateral bases."""
    f, g, rng = ctx.frame, ctx.geom, ctx.rng
    p = g.p
    hilum_y = p.apex_y + 0.46 * g.p.lung_height
    sigma = 45.0 + 30.0 * spec.severity
    level = 0.2 + 0.45 * spec.severity
    for sign in (-1.0, 1.0):
        hx = g.mid_x() + sign * (p.mediastinum_hw + 20.0)
        r2 = ((f.X - hx) / sigma) ** 2 + ((f.Y - hilum_y) / (1.3 * sigma)) ** 2
        frac = level * np.exp(-r2) * (0.7 + 0.6 * ctx.texture()) * ctx.lung_side(sign)
        ctx.fill(frac)
        mask = frac > 0.35 * level
        lines = np.zeros_like(f.X)
        for _ in range(int(4 + 8 * spec.severity)):
            y = rng.uniform(*g.zone_y("lower", sign))
            x_wall = sign * float(g.lateral(np.float32(y)))
            seg = np.array([[x_wall, y], [x_wall - sign * rng.uniform(10, 20), y + rng.normal(0, 1.5)]])
            tube_segments(f, seg, 0.8 + 0.4 * spec.severity, out=lines)
        lines *= ctx.lung_side(sign)
        ctx.fill(clip(lines / 4.0, 0.0, 1.0) * 0.8)
        ctx.add_mask("Edema", mask | (lines > 0))


def fibrosis(ctx: Context, spec: FindingSpec) -> None:
    """Reticular scarring: a net of fine lines (zero crossings of a smooth random field)."""
    f, rng = ctx.frame, ctx.rng
    field = ctx.texture()
    shifted = np.roll(field, (f.rows // 7, f.cols // 5), axis=(0, 1))
    net = np.exp(-(((field - 0.5) / 0.02) ** 2)) + np.exp(-(((shifted - 0.5) / 0.02) ** 2))
    for sign in ctx.side_signs(spec, default="both"):
        zone = spec.zone or ("upper" if rng.random() < 0.5 else "lower")
        y0, y1 = ctx.geom.zone_y(zone, sign)
        weight = smooth_step(f.Y - y0, 25.0) * smooth_step(y1 - f.Y, 25.0) * ctx.lung_side(sign)
        frac = (0.25 + 0.45 * spec.severity) * clip(net, 0.0, 1.0) * weight
        frac += 0.08 * spec.severity * weight
        ctx.fill(frac)
        ctx.add_mask("Fibrosis", weight > 0.5)


def pleural_thickening(ctx: Context, spec: FindingSpec) -> None:
    """A smooth soft-tissue band along the lateral chest wall, or an apical cap."""
    f, g, rng = ctx.frame, ctx.geom, ctx.rng
    for sign in ctx.side_signs(spec):
        d, lat, med, top, bot = _side_geometry(ctx, sign)
        thick = 3.0 + 9.0 * spec.severity
        if (spec.zone or ("apex" if rng.random() < 0.4 else "lateral")) in ("apex", "upper"):
            dist = f.Y - top
            extent = smooth_step(g.p.apex_y + 0.25 * g.p.lung_height - f.Y, 20.0)
        else:
            dist = lat - d
            y0, y1 = g.zone_y(rng.choice(["mid", "lower"]), sign)
            extent = smooth_step(f.Y - y0, 15.0) * smooth_step(y1 - f.Y, 15.0)
        band = smooth_step(thick - dist, 3.0) * extent * ctx.lung_side(sign)
        ctx.fill(0.9 * band)
        ctx.add_mask("Pleural Thickening", band > 0.25)


def emphysema_bullae(ctx: Context, spec: FindingSpec) -> None:
    """Hyperlucent lungs (set in the patient) plus a few thin-walled apical bullae."""
    scene, f, rng = ctx.scene, ctx.frame, ctx.rng
    if np.isscalar(scene.density):
        scene.density = np.full_like(scene.lung, scene.density)
    if scene.no_vessels is None:
        scene.no_vessels = np.zeros(scene.lung.shape, bool)
    mask = np.zeros(scene.lung.shape, bool)
    for sign in (-1.0, 1.0):
        mask |= ctx.lung_side(sign)
        for _ in range(rng.integers(0, 3) if spec.severity > 0.3 else 0):
            x, y = ctx.geom.sample_point(rng, sign, "upper", margin=12.0)
            r = rng.uniform(10, 25)
            sl = f.box(x - r - 3, x + r + 3, y - r - 3, y + r + 3)
            rr = np.hypot(f.X[sl] - x, f.Y[sl] - y)
            scene.density[sl][rr < r] = 0.0
            scene.no_vessels[sl] |= rr < r
            ctx.extra[sl] += MU_SOFT * 2.5 * np.exp(-(((rr - r) / 0.8) ** 2))
    ctx.add_mask("Emphysema", mask)
