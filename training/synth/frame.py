"""The pixel grid of one image and its mapping to body coordinates (mm), plus shape primitives.

Body coordinates: ``x`` from the patient's right to left (image left to right on a frontal view;
on a lateral view ``x`` is posterior-to-anterior reversed, see ``lateral.py``), ``y`` head to feet.
Primitives return *path lengths* in mm (how much material a ray crosses) on the full grid or on a
bounding-box slice, so they can be multiplied by an attenuation coefficient and added.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Frame:
    """Pixel grid with body coordinates.

    Attributes
    ----------
    rows, cols
        Image size in pixels.
    spacing
        Pixel spacing in mm (square pixels).
    X, Y
        float32 arrays (rows, cols): body coordinates of each pixel centre, mm.
    """

    rows: int
    cols: int
    spacing: float
    cos_t: float
    sin_t: float
    shift_x: float
    shift_y: float
    X: np.ndarray
    Y: np.ndarray

    @classmethod
    def from_geometry(cls, rows: int, cols: int, fov: float, tilt_deg: float,
                      shift_x: float, shift_y: float) -> "Frame":
        """Build a grid of ``rows x cols`` pixels covering ``fov`` mm across, tilted and shifted."""
        spacing = fov / cols
        u = ((np.arange(cols, dtype=np.float32) - (cols - 1) / 2) * spacing)[None, :]
        v = ((np.arange(rows, dtype=np.float32) - (rows - 1) / 2) * spacing)[:, None]
        t = np.deg2rad(tilt_deg)
        c, s = float(np.cos(t)), float(np.sin(t))
        X = (c * u + s * v - shift_x).astype(np.float32)
        Y = (-s * u + c * v - shift_y).astype(np.float32)
        return cls(rows, cols, spacing, c, s, shift_x, shift_y, X, Y)

    def to_pixel(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return fractional (row, col) of body points ``x, y`` (mm)."""
        xs, ys = np.asarray(x) + self.shift_x, np.asarray(y) + self.shift_y
        u = self.cos_t * xs - self.sin_t * ys
        v = self.sin_t * xs + self.cos_t * ys
        return v / self.spacing + (self.rows - 1) / 2, u / self.spacing + (self.cols - 1) / 2

    def box(self, x0: float, x1: float, y0: float, y1: float) -> tuple[slice, slice]:
        """Return the (row, col) slices covering the body-space rectangle (clipped to the image)."""
        xs = np.array([x0, x1, x0, x1])
        ys = np.array([y0, y0, y1, y1])
        r, c = self.to_pixel(xs, ys)
        r0, r1 = int(max(np.floor(r.min()) - 1, 0)), int(min(np.ceil(r.max()) + 2, self.rows))
        c0, c1 = int(max(np.floor(c.min()) - 1, 0)), int(min(np.ceil(c.max()) + 2, self.cols))
        return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))


def ellipsoid(frame: Frame, cx: float, cy: float, rx: float, ry: float, depth: float,
              box: tuple[slice, slice] | None = None) -> tuple[tuple[slice, slice], np.ndarray]:
    """Path length (mm) through an ellipsoid with in-plane semi-axes ``rx, ry`` and full depth.

    Returns the bounding-box slices and the path-length array on them.
    """
    sl = box or frame.box(cx - rx, cx + rx, cy - ry, cy + ry)
    X, Y = frame.X[sl], frame.Y[sl]
    q = 1.0 - ((X - cx) / rx) ** 2 - ((Y - cy) / ry) ** 2
    return sl, depth * np.sqrt(clip(q, 0.0, None))


def tube_segments(frame: Frame, pts: np.ndarray, radius: np.ndarray | float,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Path length (mm) through round tubes along a polyline, added into ``out`` (full grid).

    Parameters
    ----------
    pts
        (n, 2) polyline vertices (x, y) in mm.
    radius
        Tube radius in mm, scalar or one per segment.
    """
    out = np.zeros((frame.rows, frame.cols), np.float32) if out is None else out
    radii = np.broadcast_to(np.asarray(radius, np.float32), (len(pts) - 1,))
    for (x0, y0), (x1, y1), r in zip(pts[:-1], pts[1:], radii):
        sl = frame.box(min(x0, x1) - r, max(x0, x1) + r, min(y0, y1) - r, max(y0, y1) + r)
        if sl[0].stop <= sl[0].start or sl[1].stop <= sl[1].start:
            continue
        X, Y = frame.X[sl], frame.Y[sl]
        dx, dy = x1 - x0, y1 - y0
        t = clip(((X - x0) * dx + (Y - y0) * dy) / max(dx * dx + dy * dy, 1e-6), 0.0, 1.0)
        d2 = (X - x0 - t * dx) ** 2 + (Y - y0 - t * dy) ** 2
        path = 2.0 * np.sqrt(clip(r * r - d2, 0.0, None))
        np.maximum(out[sl], path, out=out[sl])
    return out


def clip(a, lo=None, hi=None):
    """``np.clip`` through ``np.maximum``/``np.minimum``: the same values, several times faster on
    float32 images with numpy 1.26 (the synthesizer calls it ~100 times per image)."""
    if lo is not None:
        a = np.maximum(a, lo)
    if hi is not None:
        a = np.minimum(a, hi)
    return a


def smooth_step(v: np.ndarray, width: float) -> np.ndarray:
    """0 for ``v <= -width/2``, 1 for ``v >= width/2``, smooth (cubic) in between."""
    t = clip(v / max(width, 1e-6) + 0.5, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
