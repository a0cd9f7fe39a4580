"""PNG and JPEG chest images (how NIH and CheXpert ship) read without DICOM metadata."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import DicomError


def raster_header_facts(path: Path) -> dict:
    """Return the :class:`engine.images.read.Image` fields of a PNG/JPEG file (no DICOM metadata).

    The folder becomes the study and series, so a folder of PNGs reads as one study.
    """
    from PIL import Image as PILImage, UnidentifiedImageError

    try:
        with PILImage.open(path) as picture:
            columns, rows = picture.size
            mode = picture.mode
    except (UnidentifiedImageError, OSError) as error:
        raise DicomError(f"cannot read the image ({error})", path=path,
                         hint="the PNG/JPEG file is damaged; export it again") from error
    colour = mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr")
    bits = 16 if mode.startswith("I") else 8
    return {"path": path, "kind": "raster", "rows": rows, "columns": columns,
            "photometric": "RGB" if colour else "MONOCHROME2", "samples_per_pixel": 3 if colour else 1,
            "bits_stored": bits, "study_uid": f"folder:{path.parent}", "series_uid": f"folder:{path.parent}",
            "sop_uid": f"file:{path}", "study_description": path.parent.name,
            "series_description": path.parent.name, "transfer_syntax_name": path.suffix.upper().lstrip(".")}


def read_raster_pixels(path: Path) -> np.ndarray:
    """Return the pixels of a PNG/JPEG: uint8 grey, int32 for 16-bit grey, or uint8 RGB."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(path) as picture:
            if picture.mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr"):
                return np.asarray(picture.convert("RGB"))
            if picture.mode.startswith("I"):
                return np.asarray(picture).astype(np.int32)
            return np.asarray(picture.convert("L"))
    except OSError as error:
        raise DicomError(f"cannot decode the image ({error})", path=path,
                         hint="the PNG/JPEG file is damaged; export it again") from error
