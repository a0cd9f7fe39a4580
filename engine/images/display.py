"""The display pipeline as pure functions: modality LUT → VOI → MONOCHROME1 inversion → 8-bit.

Every function takes arrays and parameters and returns a new array; nothing here reads files.
The order follows DICOM PS3.4 N.2: the modality LUT first, then the VOI transform, and the
MONOCHROME1 inversion after VOI so that the window is set in the file's own units.
"""
from __future__ import annotations

import numpy as np

from engine.images.header import ModalityLut, VoiLut, Window

# Percentiles of the modality values used as a window when the file carries none.
DEFAULT_PERCENTILES = (0.5, 99.5)
# Largest number of pixels looked at when computing percentiles.
_SAMPLE_PIXELS = 262_144


def apply_modality_lut(stored: np.ndarray, lut: ModalityLut) -> np.ndarray:
    """Map stored values to modality values (float32), by LUT sequence or slope/intercept.

    Parameters
    ----------
    stored
        Stored pixel values, any integer or float dtype, shape (rows, cols).
    lut
        The image's modality LUT (identity when slope 1, intercept 0, no table).
    """
    if lut.lut is not None:
        index = np.clip(stored.astype(np.int64) - lut.first_mapped, 0, lut.lut.size - 1)
        return lut.lut[index].astype(np.float32)
    values = stored.astype(np.float32)
    if lut.slope != 1.0:
        values *= np.float32(lut.slope)
    if lut.intercept != 0.0:
        values += np.float32(lut.intercept)
    return values


def apply_window(values: np.ndarray, window: Window, function: str = "LINEAR") -> np.ndarray:
    """Apply a VOI window (PS3.3 C.11.2.1.2) and return float32 in [0, 1].

    ``function`` is VOILUTFunction (0028,1056): LINEAR, LINEAR_EXACT or SIGMOID.
    """
    center, width = float(window.center), max(float(window.width), 1e-6)
    values = values.astype(np.float32, copy=False)
    if function == "SIGMOID":
        return (1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))).astype(np.float32)
    if function == "LINEAR_EXACT":
        low = center - width / 2.0
        return np.clip((values - low) / width, 0.0, 1.0).astype(np.float32)
    if width <= 1.0:  # LINEAR with width 1 is a threshold at the centre
        return (values >= center - 0.5).astype(np.float32)
    scaled = ((values - (center - 0.5)) / (width - 1.0)) + 0.5
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)


def apply_voi_lut_table(values: np.ndarray, voi: VoiLut) -> np.ndarray:
    """Apply a VOI LUT Sequence table and return float32 in [0, 1]."""
    index = np.clip(np.rint(values).astype(np.int64) - voi.first_mapped, 0, voi.lut.size - 1)
    return (voi.lut[index] / float(2 ** voi.lut_bits - 1)).astype(np.float32)


def auto_window(values: np.ndarray, percentiles: tuple[float, float] = DEFAULT_PERCENTILES) -> Window:
    """Return a window spanning the given percentiles of the values (a subsample for speed)."""
    flat = values.reshape(-1)
    if flat.size > _SAMPLE_PIXELS:
        flat = flat[:: flat.size // _SAMPLE_PIXELS + 1]
    low, high = np.percentile(flat, percentiles)
    if high <= low:
        low, high = float(flat.min()), float(flat.max())
    width = max(float(high - low), 1.0)
    return Window(float(low) + width / 2.0, width, "auto")


def apply_voi(values: np.ndarray, voi: VoiLut, window: Window | None = None) -> np.ndarray:
    """Apply the VOI transform: an explicit window, else the file's first window, else its VOI
    LUT table, else a percentile window. Returns float32 in [0, 1]."""
    if window is not None:
        return apply_window(values, window, voi.function)
    if voi.windows:
        return apply_window(values, voi.windows[0], voi.function)
    if voi.lut is not None:
        return apply_voi_lut_table(values, voi)
    return apply_window(values, auto_window(values), "LINEAR")


def invert(values01: np.ndarray) -> np.ndarray:
    """Invert a [0, 1] image (MONOCHROME1: high values are dark)."""
    return (1.0 - values01).astype(np.float32)


def to_uint8(values01: np.ndarray) -> np.ndarray:
    """Scale a [0, 1] float image to uint8 0..255 with rounding."""
    return np.rint(np.clip(values01, 0.0, 1.0) * 255.0).astype(np.uint8)


def colour_to_float(rgb: np.ndarray, bits_stored: int = 8) -> np.ndarray:
    """Scale an RGB array (rows, cols, 3) to float32 [0, 1] by its dtype's range."""
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float32) / 255.0
    top = float(2 ** min(bits_stored if bits_stored > 8 else 16, 16) - 1)
    return np.clip(rgb.astype(np.float32) / top, 0.0, 1.0)


def modality_values(image, frame: int = 0) -> np.ndarray:
    """Return one grey frame of ``image`` (an :class:`engine.images.read.Image`) after the modality LUT."""
    return apply_modality_lut(image.pixels(frame), image.modality_lut)


def display_float(image, frame: int = 0, window: Window | None = None) -> np.ndarray:
    """Run the full display pipeline for one frame; float32 in [0, 1] where 1 is bright.

    Grey images give (rows, cols) after modality LUT → VOI → MONOCHROME1 inversion; colour images
    give (rows, cols, 3) RGB. ``window`` overrides the file's VOI (modality-value units).
    """
    if image.is_colour:
        return colour_to_float(image.pixels(frame), image.bits_stored)
    shown = apply_voi(modality_values(image, frame), image.voi, window)
    return invert(shown) if image.photometric == "MONOCHROME1" else shown


def render_uint8(image, frame: int = 0, window: Window | None = None) -> np.ndarray:
    """Return the displayed frame as uint8 (grey (rows, cols) or RGB (rows, cols, 3))."""
    return to_uint8(display_float(image, frame, window))


__all__ = [
    "DEFAULT_PERCENTILES", "Window", "apply_modality_lut", "apply_voi", "apply_voi_lut_table",
    "apply_window", "auto_window", "colour_to_float", "display_float", "invert", "modality_values",
    "render_uint8", "to_uint8",
]
