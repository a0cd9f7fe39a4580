"""Turn engine images into what the view shows (runs on worker threads; no widgets here)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import engine
from desktop.widgets.image_view import ImageData
from desktop.windowing import Window

THUMBNAIL_PX = 96


def image_data(image, frame: int = 0) -> ImageData:
    """Load one frame of an :class:`engine.Image` for the view.

    Grey images give modality-LUT values (real units) and the file's first VOI window; colour
    images give RGB in [0, 1]. Raises :class:`engine.DicomError` when the pixels cannot be decoded.
    """
    if image.is_colour:
        values = engine.display_float(image, frame)
        return ImageData(values=np.ascontiguousarray(values, dtype=np.float32),
                         pixel_spacing_mm=image.pixel_spacing_mm)
    values = engine.modality_values(image, frame)
    file_window = None
    if image.voi.windows:
        first = image.voi.windows[0]
        file_window = Window(float(first.center), float(first.width))
    return ImageData(
        values=np.ascontiguousarray(values, dtype=np.float32),
        file_window=file_window,
        monochrome1=image.photometric == "MONOCHROME1",
        hounsfield=image.modality == "CT",
        pixel_spacing_mm=image.pixel_spacing_mm,
    )


@dataclass(frozen=True)
class Thumbnail:
    """A small uint8 rendering of an image: grey (h, w) or RGB (h, w, 3)."""

    key: str
    pixels: np.ndarray


def thumbnail(image, key: str, size: int = THUMBNAIL_PX) -> Thumbnail:
    """Render the first frame of ``image`` through the display pipeline and shrink it to ``size``."""
    shown = engine.render_uint8(image, 0)
    step = max(1, int(np.ceil(max(shown.shape[:2]) / size)))
    return Thumbnail(key, np.ascontiguousarray(shown[::step, ::step]))
