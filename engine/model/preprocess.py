"""Pure preprocessing functions shared by training and inference.

Their parameters come from the pack manifest's ``preprocessing`` section
(:class:`PreprocessParams`), so the model sees exactly what it was trained on. The geometry of
each step is recorded (:class:`Geometry`) so a map on the model grid can be put back onto the
original pixel grid (:func:`map_to_original`).

Input images are float arrays in [0, 1] as returned by ``engine.images.display.display_float``:
``(rows, cols)`` for grey, ``(rows, cols, 3)`` for colour (converted to grey here).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image as PILImage

from engine.errors import ModelError


@dataclass(frozen=True)
class PreprocessParams:
    """How an image becomes a model input.

    Attributes
    ----------
    size
        Side of the square model input, pixels.
    mean, std
        Normalisation applied to the [0, 1] grey values after resizing: ``(x - mean) / std``.
    pad_value
        Grey value in [0, 1] used to pad the letterboxed image to a square.
    """

    size: int = 224
    mean: float = 0.5
    std: float = 0.25
    pad_value: float = 0.0

    def to_dict(self) -> dict:
        """Return the manifest form (JSON-safe)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PreprocessParams":
        """Build from a manifest ``preprocessing`` section; unknown keys are ignored."""
        names = {"size", "mean", "std", "pad_value"}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Geometry:
    """Where the original image lies on the square model grid.

    The original ``(rows, cols)`` image was scaled by ``scale`` to ``(scaled_rows, scaled_cols)``
    and placed at ``(top, left)`` on a ``size × size`` canvas.
    """

    rows: int
    cols: int
    size: int
    scale: float
    top: int
    left: int
    scaled_rows: int
    scaled_cols: int


def to_grey(image01: np.ndarray) -> np.ndarray:
    """Return a float32 ``(rows, cols)`` grey image from grey or RGB input in [0, 1]."""
    array = np.asarray(image01, dtype=np.float32)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        array = array[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if array.ndim != 2:
        raise ModelError(f"expected a 2-D grey or (rows, cols, 3) colour image, got shape {array.shape}")
    return array


def letterbox_geometry(rows: int, cols: int, size: int) -> Geometry:
    """Return the geometry that fits a ``rows × cols`` image into a ``size`` square, centred."""
    if rows < 1 or cols < 1:
        raise ModelError(f"image has no pixels (shape {rows}×{cols})")
    scale = size / max(rows, cols)
    scaled_rows = max(1, min(size, round(rows * scale)))
    scaled_cols = max(1, min(size, round(cols * scale)))
    return Geometry(rows, cols, size, scale, (size - scaled_rows) // 2, (size - scaled_cols) // 2,
                    scaled_rows, scaled_cols)


def resize_letterbox(image01: np.ndarray, size: int, pad_value: float = 0.0) -> tuple[np.ndarray, Geometry]:
    """Scale the grey image so its long side is ``size`` and pad it to a square.

    Returns
    -------
    canvas
        float32 ``(size, size)`` in [0, 1].
    geometry
        Where the image lies on the canvas.
    """
    grey = to_grey(image01)
    geometry = letterbox_geometry(*grey.shape, size)
    resized = PILImage.fromarray(grey, mode="F").resize(
        (geometry.scaled_cols, geometry.scaled_rows), PILImage.BILINEAR, reducing_gap=2.0)
    canvas = np.full((size, size), pad_value, dtype=np.float32)
    canvas[geometry.top:geometry.top + geometry.scaled_rows,
           geometry.left:geometry.left + geometry.scaled_cols] = np.asarray(resized, dtype=np.float32)
    return np.clip(canvas, 0.0, 1.0), geometry


def normalise(canvas01: np.ndarray, params: PreprocessParams) -> np.ndarray:
    """Return ``(canvas - mean) / std`` as float32 with a leading channel axis: ``(1, size, size)``."""
    return ((np.asarray(canvas01, dtype=np.float32) - params.mean) / params.std)[None]


def preprocess(image01: np.ndarray, params: PreprocessParams) -> tuple[np.ndarray, Geometry]:
    """Turn a display image in [0, 1] into the model input ``(1, size, size)`` float32.

    Training caches the letterboxed canvas as uint8 (:func:`canvas_to_uint8`) and calls
    :func:`normalise` on it; inference calls this function. Both go through
    :func:`resize_letterbox`, so they cannot drift.
    """
    canvas, geometry = resize_letterbox(image01, params.size, params.pad_value)
    return normalise(canvas, params), geometry


def canvas_to_uint8(canvas01: np.ndarray) -> np.ndarray:
    """Quantise a [0, 1] canvas to uint8 (for the training cache)."""
    return np.round(np.clip(canvas01, 0.0, 1.0) * 255.0).astype(np.uint8)


def uint8_to_canvas(canvas_u8: np.ndarray) -> np.ndarray:
    """Undo :func:`canvas_to_uint8`: uint8 → float32 in [0, 1]."""
    return np.asarray(canvas_u8, dtype=np.float32) / 255.0


def map_to_original(grid_map: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Put a map defined on the model grid back onto the original image's pixel grid.

    Parameters
    ----------
    grid_map
        float ``(h, w)`` map covering the whole ``size × size`` model input (any resolution, e.g.
        the 7 × 7 token grid or the full input).
    geometry
        The :class:`Geometry` recorded when the image was preprocessed.

    Returns
    -------
    numpy.ndarray
        float32 ``(rows, cols)``: the map resampled to the canvas, the padding cropped away, and
        the rest scaled back to the original size (bilinear).
    """
    grid = np.asarray(grid_map, dtype=np.float32)
    if grid.ndim != 2:
        raise ModelError(f"expected a 2-D map, got shape {grid.shape}")
    canvas = np.asarray(PILImage.fromarray(grid, mode="F").resize(
        (geometry.size, geometry.size), PILImage.BILINEAR), dtype=np.float32)
    crop = canvas[geometry.top:geometry.top + geometry.scaled_rows,
                  geometry.left:geometry.left + geometry.scaled_cols]
    restored = PILImage.fromarray(np.ascontiguousarray(crop), mode="F").resize(
        (geometry.cols, geometry.rows), PILImage.BILINEAR)
    return np.asarray(restored, dtype=np.float32)
