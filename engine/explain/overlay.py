"""Heatmap rendering in pure numpy: colormaps, value-dependent opacity, outlines.

The overlay's opacity rises with the map's value, so the radiograph stays readable where the map
is low and the colour speaks only where the evidence is. No matplotlib at run time: the colormaps
are tables of 17 colours sampled from matplotlib's ``turbo`` (Google, Apache-2.0) and ``inferno``
(BSD-style licence) and interpolated linearly.
"""
from __future__ import annotations

import numpy as np

from engine.errors import ModelError

_ANCHORS = {
    "turbo": [[48, 18, 59], [64, 64, 162], [70, 107, 227], [66, 148, 255], [40, 188, 235], [24, 221, 194],
              [50, 242, 152], [109, 254, 98], [164, 252, 60], [205, 236, 52], [238, 207, 58],
              [253, 172, 52], [251, 126, 33], [235, 80, 14], [208, 47, 5], [169, 22, 1], [122, 4, 3]],
    "inferno": [[0, 0, 4], [11, 7, 36], [33, 12, 74], [61, 9, 101], [87, 16, 110], [113, 25, 110],
                [138, 34, 106], [163, 44, 97], [188, 55, 84], [210, 70, 68], [228, 90, 49], [241, 115, 29],
                [249, 142, 9], [252, 172, 17], [249, 203, 53], [242, 234, 105], [252, 255, 164]],
}
COLORMAPS = tuple(_ANCHORS)


def colormap_lut(name: str = "turbo", entries: int = 256) -> np.ndarray:
    """Return the colormap as a uint8 ``(entries, 3)`` RGB table (index 0 = value 0)."""
    if name not in _ANCHORS:
        raise ModelError(f"unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}")
    anchors = np.asarray(_ANCHORS[name], dtype=np.float64)
    positions = np.linspace(0.0, 1.0, len(anchors))
    x = np.linspace(0.0, 1.0, entries)
    table = np.stack([np.interp(x, positions, anchors[:, c]) for c in range(3)], axis=1)
    return np.round(table).astype(np.uint8)


def opacity(values01: np.ndarray, max_opacity: float = 0.6, floor: float = 0.15,
            gamma: float = 1.0) -> np.ndarray:
    """Per-pixel opacity in [0, ``max_opacity``]: 0 up to ``floor``, rising to the maximum at 1.

    ``((v - floor) / (1 - floor)) ** gamma * max_opacity``, clipped.
    """
    values = np.clip(np.asarray(values01, dtype=np.float32), 0.0, 1.0)
    ramp = np.clip((values - floor) / max(1.0 - floor, 1e-6), 0.0, 1.0)
    return (ramp ** gamma * max_opacity).astype(np.float32)


def render_overlay(image01: np.ndarray, values01: np.ndarray, colormap: str = "turbo",
                   max_opacity: float = 0.6, floor: float = 0.15) -> np.ndarray:
    """Blend a [0, 1] heatmap over a display image; return uint8 ``(rows, cols, 3)`` RGB.

    Parameters
    ----------
    image01
        The display image in [0, 1], ``(rows, cols)`` grey or ``(rows, cols, 3)`` RGB.
    values01
        The heatmap on the same ``(rows, cols)`` grid (e.g. ``Heatmap.values``).
    colormap
        One of :data:`COLORMAPS`.
    max_opacity, floor
        See :func:`opacity`.
    """
    image = np.clip(np.asarray(image01, dtype=np.float32), 0.0, 1.0)
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    values = np.clip(np.asarray(values01, dtype=np.float32), 0.0, 1.0)
    if values.shape != rgb.shape[:2]:
        raise ModelError(f"heatmap shape {values.shape} does not match the image {rgb.shape[:2]}")
    lut = colormap_lut(colormap).astype(np.float32) / 255.0
    colours = lut[np.round(values * (len(lut) - 1)).astype(np.intp)]
    alpha = opacity(values, max_opacity, floor)[..., None]
    blended = rgb * (1.0 - alpha) + colours * alpha
    return np.round(blended * 255.0).astype(np.uint8)


def mask_outline(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """Return a bool ``(rows, cols)`` array that is True on the boundary pixels of ``mask``.

    ``width`` pixels inside the mask's edge are marked (4-neighbour erosion, repeated).
    """
    inside = np.asarray(mask, dtype=bool)
    eroded = inside.copy()
    for _ in range(max(1, width)):
        shrunk = eroded.copy()
        shrunk[1:, :] &= eroded[:-1, :]
        shrunk[:-1, :] &= eroded[1:, :]
        shrunk[:, 1:] &= eroded[:, :-1]
        shrunk[:, :-1] &= eroded[:, 1:]
        eroded = shrunk
    return inside & ~eroded


def draw_outline(rgb: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (255, 255, 255),
                 width: int = 2) -> np.ndarray:
    """Return a copy of uint8 RGB ``rgb`` with the outline of ``mask`` drawn in ``colour``."""
    out = np.array(rgb, copy=True)
    out[mask_outline(mask, width)] = colour
    return out


def legend_bar(height: int = 256, width: int = 16, colormap: str = "turbo", max_opacity: float = 0.6,
               floor: float = 0.15, background: float = 0.5) -> np.ndarray:
    """A vertical legend (uint8 ``(height, width, 3)``, value 1 at the top) as the overlay draws it
    over a uniform grey ``background``."""
    values = np.repeat(np.linspace(1.0, 0.0, height, dtype=np.float32)[:, None], width, axis=1)
    return render_overlay(np.full((height, width), background, np.float32), values, colormap,
                          max_opacity, floor)
