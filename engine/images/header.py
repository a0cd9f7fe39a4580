"""Header facts and display parameters taken from a pydicom dataset (used by engine.images.read only)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Window:
    """A VOI window: centre and width in modality-LUT output units (e.g. HU for CT)."""

    center: float
    width: float
    explanation: str = ""


@dataclass(frozen=True, eq=False)
class ModalityLut:
    """Modality LUT: RescaleSlope/Intercept (0028,1053/1052) or a Modality LUT Sequence (0028,3000).

    ``lut`` holds the LUT values and ``first_mapped`` the stored value mapped to ``lut[0]``.
    """

    slope: float = 1.0
    intercept: float = 0.0
    lut: np.ndarray | None = None
    first_mapped: int = 0


@dataclass(frozen=True, eq=False)
class VoiLut:
    """VOI parameters: windows (0028,1050/1051) with VOILUTFunction (0028,1056), or a VOI LUT
    Sequence (0028,3010) given as ``lut`` (values), ``first_mapped`` and ``lut_bits``."""

    windows: tuple[Window, ...] = ()
    function: str = "LINEAR"
    lut: np.ndarray | None = None
    first_mapped: int = 0
    lut_bits: int = 16


def _text(dataset, keyword: str) -> str:
    value = dataset.get(keyword, "")
    return "" if value is None else str(value).strip()


def _int_or_none(dataset, keyword: str) -> int | None:
    try:
        value = dataset.get(keyword)
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _multi(value) -> list:
    if value is None or value == "":
        return []
    return list(value) if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)) else [value]


def pixel_spacing(dataset) -> tuple[tuple[float, float] | None, str]:
    """Return ((row mm, column mm), source keyword) from PixelSpacing or ImagerPixelSpacing."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        values = _multi(dataset.get(keyword))
        if len(values) == 2:
            try:
                row, col = float(values[0]), float(values[1])
            except (TypeError, ValueError):
                continue
            if row > 0 and col > 0:
                return (row, col), keyword
    return None, ""


def header_facts(dataset, path: Path) -> dict:
    """Return the :class:`engine.images.read.Image` fields read from a dataset's header."""
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    spacing, spacing_source = pixel_spacing(dataset)
    return {
        "rows": int(dataset.get("Rows", 0) or 0),
        "columns": int(dataset.get("Columns", 0) or 0),
        "photometric": _text(dataset, "PhotometricInterpretation") or "MONOCHROME2",
        "number_of_frames": max(1, _int_or_none(dataset, "NumberOfFrames") or 1),
        "samples_per_pixel": int(dataset.get("SamplesPerPixel", 1) or 1),
        "bits_stored": int(dataset.get("BitsStored", dataset.get("BitsAllocated", 8)) or 8),
        "study_uid": _text(dataset, "StudyInstanceUID") or f"unknown-study:{path.parent}",
        "series_uid": _text(dataset, "SeriesInstanceUID") or f"unknown-series:{path.parent}",
        "sop_uid": _text(dataset, "SOPInstanceUID"),
        "patient_name": _text(dataset, "PatientName"),
        "patient_id": _text(dataset, "PatientID"),
        "study_date": _text(dataset, "StudyDate"),
        "study_description": _text(dataset, "StudyDescription"),
        "series_description": _text(dataset, "SeriesDescription"),
        "series_number": _int_or_none(dataset, "SeriesNumber"),
        "instance_number": _int_or_none(dataset, "InstanceNumber"),
        "modality": _text(dataset, "Modality"),
        "body_part": _text(dataset, "BodyPartExamined"),
        "view_position": _text(dataset, "ViewPosition"),
        "laterality": _text(dataset, "ImageLaterality") or _text(dataset, "Laterality"),
        "pixel_spacing_mm": spacing,
        "pixel_spacing_source": spacing_source,
        "transfer_syntax": str(syntax) if syntax else "",
        "transfer_syntax_name": getattr(syntax, "name", "") if syntax else "",
    }


def _lut_from_item(item) -> tuple[np.ndarray, int, int] | None:
    """Return (values, first mapped stored value, bits) from a LUT item, or None if malformed."""
    descriptor = _multi(item.get("LUTDescriptor"))
    data = item.get("LUTData")
    if len(descriptor) != 3 or data is None:
        return None
    entries, first_mapped, bits = (int(v) for v in descriptor)
    entries = entries or 65536
    if isinstance(data, bytes):
        values = np.frombuffer(data, dtype="<u2" if bits > 8 else "u1").astype(np.float32)
    else:
        values = np.asarray(_multi(data), dtype=np.float32)
    return values[:entries], first_mapped, bits


def modality_lut_from(dataset) -> ModalityLut:
    """Return the modality LUT of a dataset (identity when it has none)."""
    sequence = dataset.get("ModalityLUTSequence")
    if sequence:
        parsed = _lut_from_item(sequence[0])
        if parsed is not None:
            return ModalityLut(lut=parsed[0], first_mapped=parsed[1])
    try:
        slope = float(dataset.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(dataset.get("RescaleIntercept", 0.0) or 0.0)
    except (TypeError, ValueError):
        slope, intercept = 1.0, 0.0
    return ModalityLut(slope=slope, intercept=intercept)


def voi_from(dataset) -> VoiLut:
    """Return the VOI parameters of a dataset: windows, function, or a VOI LUT sequence."""
    centers = _multi(dataset.get("WindowCenter"))
    widths = _multi(dataset.get("WindowWidth"))
    explanations = _multi(dataset.get("WindowCenterWidthExplanation"))
    windows = []
    for index, (center, width) in enumerate(zip(centers, widths)):
        try:
            center, width = float(center), float(width)
        except (TypeError, ValueError):
            continue
        if width > 0:
            note = str(explanations[index]) if index < len(explanations) else ""
            windows.append(Window(center, width, note))
    function = _text(dataset, "VOILUTFunction").upper() or "LINEAR"
    sequence = dataset.get("VOILUTSequence")
    if sequence and not windows:
        parsed = _lut_from_item(sequence[0])
        if parsed is not None:
            return VoiLut(function=function, lut=parsed[0], first_mapped=parsed[1], lut_bits=parsed[2])
    return VoiLut(windows=tuple(windows), function=function)


__all__ = ["ModalityLut", "VoiLut", "Window", "header_facts", "modality_lut_from", "pixel_spacing", "voi_from"]
