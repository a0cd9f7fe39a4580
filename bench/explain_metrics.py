"""Pure-numpy measures of heatmap quality against ground-truth masks, and the reference maps.

Used by bench/explain.py; the definitions are spelled out in docs/EXPLAIN.md.
"""
from __future__ import annotations

import numpy as np


def pointing_hit(values: np.ndarray, mask: np.ndarray, tolerance_px: float = 0.0) -> bool:
    """Pointing game (Zhang et al. 2016): is the map's maximum inside the mask?

    ``tolerance_px`` > 0 also counts a maximum within that distance (pixels) of the mask. An
    all-zero map points nowhere and misses. Ties: the first maximum in row-major order.
    """
    values = np.asarray(values)
    if not np.any(values > 0):
        return False
    row, col = np.unravel_index(int(np.argmax(values)), values.shape)
    mask = np.asarray(mask, bool)
    if mask[row, col]:
        return True
    if tolerance_px <= 0:
        return False
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return False
    return bool(np.min((rows - row) ** 2 + (cols - col) ** 2) <= tolerance_px ** 2)


def top_fraction_iou(values: np.ndarray, mask: np.ndarray, fraction: float = 0.1) -> float:
    """IoU of the map's top ``fraction`` of pixels (by value) with the mask.

    Exactly ``round(fraction * pixels)`` pixels are taken (ties broken by position), so a flat
    map is not rewarded with a larger area.
    """
    values = np.asarray(values, np.float64).ravel()
    mask = np.asarray(mask, bool).ravel()
    count = max(1, int(round(fraction * values.size)))
    top = np.zeros(values.size, bool)
    top[np.argsort(-values, kind="stable")[:count]] = True
    union = np.count_nonzero(top | mask)
    return float(np.count_nonzero(top & mask) / union) if union else 0.0


def perturbation_images(image: np.ndarray, reference: np.ndarray, order_map: np.ndarray,
                        steps: int, insertion: bool) -> np.ndarray:
    """The image sequence of a deletion or insertion curve (Petsiuk et al. 2018).

    Parameters
    ----------
    image, reference
        ``(H, W)`` model inputs: the real one and the "information removed" one (e.g. blurred).
    order_map
        ``(H, W)`` map; its highest pixels are deleted (or inserted) first.
    steps
        Number of equal increments; ``steps + 1`` images are returned, from 0 % to 100 %.
    insertion
        False: start from ``image`` and replace pixels by ``reference``; True: the reverse.

    Returns
    -------
    numpy.ndarray
        ``(steps + 1, H, W)`` float32.
    """
    order = np.argsort(-np.asarray(order_map, np.float64).ravel(), kind="stable")
    start, end = (reference, image) if insertion else (image, reference)
    flat_start, flat_end = np.asarray(start, np.float32).ravel(), np.asarray(end, np.float32).ravel()
    out = np.empty((steps + 1, flat_start.size), np.float32)
    for k in range(steps + 1):
        current = flat_start.copy()
        changed = order[:int(round(k / steps * order.size))]
        current[changed] = flat_end[changed]
        out[k] = current
    return out.reshape((steps + 1,) + np.shape(image))


def curve_auc(scores: np.ndarray) -> float:
    """Area under a curve sampled at equal fractions from 0 to 1 (trapezoid rule)."""
    scores = np.asarray(scores, np.float64)
    return float(np.trapz(scores, dx=1.0 / (len(scores) - 1)))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (average ranks for ties); 0 when either is constant."""
    ra, rb = _ranks(np.ravel(a)), _ranks(np.ravel(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / denominator) if denominator > 0 else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average = ends - (counts - 1) / 2.0  # 1-based average rank of each distinct value
    return average[inverse].astype(np.float64)


def random_map(shape: tuple[int, int], rng: np.random.Generator, cells: int = 16) -> np.ndarray:
    """A smooth random map in [0, 1]: uniform noise on a ``cells × cells`` grid, resized bilinearly."""
    from PIL import Image as PILImage

    grid = rng.random((cells, cells)).astype(np.float32)
    resized = np.asarray(PILImage.fromarray(grid, mode="F").resize((shape[1], shape[0]), PILImage.BILINEAR))
    low, high = float(resized.min()), float(resized.max())
    return ((resized - low) / (high - low if high > low else 1.0)).astype(np.float32)


def centre_map(shape: tuple[int, int], sigma_fraction: float = 0.25) -> np.ndarray:
    """An isotropic Gaussian centred on the image, sigma ``sigma_fraction`` of the shorter side."""
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    sigma = sigma_fraction * min(rows, cols)
    return np.exp(-(((yy - (rows - 1) / 2) ** 2 + (xx - (cols - 1) / 2) ** 2) / (2 * sigma ** 2))).astype(np.float32)
