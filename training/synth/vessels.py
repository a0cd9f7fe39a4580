"""Pulmonary vascular markings: random branching trees from each hilum, tapering to the periphery.

Vessel centre lines are sampled as points; each point deposits its cross-section (pi r^2 ds, mm^3)
into the pixel grid with ``np.bincount``; a Gaussian blur of about the vessel radius turns the
deposit into a projected path length (mm of blood replacing aerated lung). Two calibre groups are
blurred separately so hilar vessels stay broad and peripheral ones thin.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from training.synth.anatomy import FrontalScene

_LEVELS = 5


def _tree(rng: np.random.Generator, root: tuple[float, float], side: float, length: float,
          prune: float) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Return centre-line segments as (start (2,), end (2,), level) of one hilar tree."""
    segs = []
    # primary branches fan from upwards (-90 deg) through lateral to downwards (+80 deg)
    angles = np.deg2rad(np.linspace(-105, 80, 8) + rng.normal(0, 8, 8))
    stack = []
    for ang in angles:
        start = np.array(root, float) + [rng.normal(0, 4), 22.0 * np.sin(ang) + rng.normal(0, 5)]
        stack.append((start, ang, length * rng.uniform(0.2, 0.28), 0))
    while stack:
        start, ang, seg_len, level = stack.pop()
        direction = np.array([side * np.cos(ang), np.sin(ang)])
        end = start + direction * seg_len
        segs.append((start, end, level))
        if level + 1 < _LEVELS:
            for sign in (-1.0, 1.0):
                if level > 0 and rng.random() < prune:
                    continue
                child = ang + sign * rng.uniform(0.15, 0.5)
                stack.append((end, child, seg_len * rng.uniform(0.6, 0.85), level + 1))
    return segs


def build_vessels(scene: FrontalScene, rng: np.random.Generator, calibre: float = 1.0,
                  prune: float = 0.12) -> np.ndarray:
    """Projected vessel path length (mm) inside the lungs of ``scene``.

    Parameters
    ----------
    calibre
        Multiplier on vessel radii (edema/congestion > 1, emphysema < 1).
    prune
        Probability that a peripheral branch is missing (emphysema raises it).
    """
    f, g = scene.frame, scene.geom
    p = g.p
    hilum_y = p.apex_y + 0.44 * g.p.lung_height
    lung_any = scene.lung_masks["right"] | scene.lung_masks["left"]
    if scene.no_vessels is not None:
        lung_any = lung_any & ~scene.no_vessels
    step = 0.5 * f.spacing
    base_r = 4.2 * p.vessel_scale * calibre
    segs = []
    for side in (-1.0, 1.0):
        root = (g.mid_x() + side * (p.mediastinum_hw + 10.0), hilum_y + (6.0 if side > 0 else 0.0))
        segs += _tree(rng, root, side, g.p.lung_height * 0.9, prune)
    starts = np.array([s[0] for s in segs])
    ends = np.array([s[1] for s in segs])
    level = np.array([s[2] for s in segs])
    counts = np.maximum((np.hypot(*(ends - starts).T) / step).astype(int), 2)
    seg = np.repeat(np.arange(len(segs)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    t = (np.arange(len(seg)) - first) / (counts[seg] - 1)
    pts = starts[seg] + t[:, None] * (ends[seg] - starts[seg])
    r = base_r * 0.7 ** level[seg] * (1.0 - 0.35 * t)
    weight = np.pi * r ** 2 * step / f.spacing ** 2
    big_pts = level[seg] < 1
    rows, cols = f.to_pixel(pts[:, 0], pts[:, 1])
    ri, ci = np.rint(rows).astype(np.int64), np.rint(cols).astype(np.int64)
    ok = (ri >= 0) & (ri < f.rows) & (ci >= 0) & (ci < f.cols)
    idx = ri[ok] * f.cols + ci[ok]
    weight, big_pts = weight[ok], big_pts[ok]
    inside = lung_any.ravel()[idx]
    idx, weight, big_pts = idx[inside], weight[inside], big_pts[inside]
    size = f.rows * f.cols
    small = np.bincount(idx[~big_pts], weights=weight[~big_pts], minlength=size)
    small = ndimage.gaussian_filter(small.reshape(f.rows, f.cols).astype(np.float32),
                                    max(base_r * 0.25 / f.spacing, 0.7), truncate=3.0)
    # broad hilar vessels: deposit and blur on a half-resolution grid (4x cheaper), then upsample
    hr, hc = (f.rows + 1) // 2, (f.cols + 1) // 2
    half_idx = (idx[big_pts] // f.cols // 2) * hc + (idx[big_pts] % f.cols) // 2
    big = np.bincount(half_idx, weights=weight[big_pts] / 4.0, minlength=hr * hc)
    big = ndimage.gaussian_filter(big.reshape(hr, hc).astype(np.float32),
                                  max(base_r * 0.4 / f.spacing, 0.5), truncate=3.0)
    big = np.repeat(np.repeat(big, 2, 0), 2, 1)[: f.rows, : f.cols]
    return (2.2 * (big + small) * lung_any).astype(np.float32)
