"""Window/level presets for the image view (Qt-free, so they are easy to test).

Values are in the image's real units after the modality LUT (Hounsfield units for CT, detector
units for CR/DX). CT-style presets are fixed in HU. Projection radiographs have no absolute
unit, so their presets are percentiles of the image's *attenuation* histogram — the stored values
for MONOCHROME2, their negation for MONOCHROME1 (where high stored values are dark) — which puts
the lung fields, the mediastinum or the bones into the middle of the grey scale whatever the
detector.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRESETS = ("default", "lung", "mediastinum", "bone", "auto")
PRESET_TITLES = {
    "default": "File default",
    "lung": "Lung",
    "mediastinum": "Mediastinum",
    "bone": "Bone",
    "auto": "Auto (1–99 %)",
}

# (centre, width) in HU for CT-like images.
_HU_PRESETS = {"lung": (-600.0, 1500.0), "mediastinum": (40.0, 400.0), "bone": (400.0, 1800.0)}
# (low, high) percentiles of attenuation for projection radiographs.
_PERCENTILE_PRESETS = {
    "lung": (1.0, 60.0),
    "mediastinum": (35.0, 99.5),
    "bone": (55.0, 99.9),
    "auto": (1.0, 99.0),
}


@dataclass(frozen=True)
class Window:
    """A linear VOI window: ``center`` and ``width`` in the image's real units."""

    center: float
    width: float

    @property
    def levels(self) -> tuple[float, float]:
        """``(low, high)`` value mapped to black and white."""
        return self.center - self.width / 2.0, self.center + self.width / 2.0

    @classmethod
    def from_levels(cls, low: float, high: float) -> "Window":
        """Build a window from the values mapped to black and white."""
        return cls((low + high) / 2.0, max(high - low, 1e-6))

    def dragged(self, dx: float, dy: float, scale: float) -> "Window":
        """Window after a right-drag of ``dx, dy`` screen pixels.

        Horizontal motion changes the width, vertical motion the centre (drag up: brighter).
        ``scale`` is the value change per pixel, usually a fraction of the data range.
        """
        width = max(self.width + dx * scale * 2.0, scale)
        return Window(self.center + dy * scale, width)


def _sample(values: np.ndarray) -> np.ndarray:
    """At most ~250k finite values of a 2-D image, for fast percentiles."""
    step = max(1, int(np.sqrt(values.size / 250_000)))
    sample = values[::step, ::step].ravel()
    return sample[np.isfinite(sample)]


def preset_window(
    name: str,
    values: np.ndarray,
    *,
    monochrome1: bool = False,
    hounsfield: bool = False,
    file_window: Window | None = None,
) -> Window:
    """Return the window of preset ``name`` for an image.

    Parameters
    ----------
    name
        One of :data:`PRESETS`.
    values
        Image after the modality LUT, shape (rows, columns), real units.
    monochrome1
        Whether low values are displayed bright (Photometric Interpretation MONOCHROME1).
    hounsfield
        Whether the values are Hounsfield units (CT); then fixed HU presets are used.
    file_window
        The file's own window (Window Center/Width, (0028,1050)/(0028,1051)); ``default`` falls
        back to ``auto`` when it is ``None``.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown window preset {name!r}; choose one of {', '.join(PRESETS)}")
    if name == "default":
        if file_window is not None:
            return file_window
        name = "auto"
    if hounsfield and name in _HU_PRESETS:
        return Window(*_HU_PRESETS[name])
    sample = _sample(values)
    if sample.size == 0:
        return Window(0.5, 1.0)
    low_p, high_p = _PERCENTILE_PRESETS[name]
    if monochrome1:
        # attenuation rises as the stored value falls: mirror the percentiles
        low_p, high_p = 100.0 - high_p, 100.0 - low_p
    low, high = np.percentile(sample, [low_p, high_p])
    if high <= low:
        low, high = float(sample.min()), float(sample.max()) + 1.0
    return Window.from_levels(float(low), float(high))
