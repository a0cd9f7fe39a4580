"""From path-length fields to a stored 12-bit detector image: attenuation, processing, noise, blur.

The detector records log exposure, i.e. the attenuation line integral ``A`` (dimensionless). Like a
CR/DX reader we compress its latitude (subtract a fraction of a large-scale blur), apply a
characteristic curve, add quantum noise (larger where fewer photons arrive), blur with the detector
MTF, collimate, and quantise to 12 bits. MONOCHROME1 files store the inverted values.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from training.synth.frame import Frame, clip
from training.synth.patient import MU_BONE, MU_LUNG, MU_SOFT, Patient

BITS_STORED = 12
MAX_VALUE = 2 ** BITS_STORED - 1


@dataclass(frozen=True)
class Rendered:
    """Stored pixel values and how to display them.

    ``pixels`` is uint16 (rows, cols) in 0..4095; ``window`` the (centre, width) that shows the
    image as the synthesizer intended; ``monochrome1`` tells whether high values are dark.
    """

    pixels: np.ndarray
    window: tuple[float, float]
    monochrome1: bool


def attenuation(soft: np.ndarray, lung: np.ndarray, density: np.ndarray | float, bone: np.ndarray,
                air: np.ndarray, vessels: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """Line integral of attenuation, ``sum(mu * path)``; ``extra`` is already in attenuation units."""
    lung_mu = MU_LUNG * density
    a = MU_SOFT * (soft - lung - air) + lung_mu * lung + MU_BONE * bone
    a += (MU_SOFT - lung_mu) * vessels
    a += extra
    return a.astype(np.float32)


def _lerp_axis(small: np.ndarray, n_out: int, factor: int, axis: int) -> np.ndarray:
    """Linear interpolation along ``axis`` from a grid decimated by ``factor`` to ``n_out`` samples.

    Plain gathers and multiply-adds (no BLAS: a threaded matrix product spins the second core for
    nothing on images this small).
    """
    n_in = small.shape[axis]
    pos = np.clip((np.arange(n_out) - (factor - 1) / 2) / factor, 0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    shape = [1, 1]
    shape[axis] = n_out
    w = (pos - lo).astype(np.float32).reshape(shape)
    return np.take(small, lo, axis=axis) * (1.0 - w) + np.take(small, hi, axis=axis) * w


def _large_blur(a: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur with a large sigma, computed on a 4x decimated copy and upsampled."""
    small = ndimage.gaussian_filter(a[::4, ::4], sigma_px / 4.0, mode="nearest")
    return _lerp_axis(_lerp_axis(small, a.shape[0], 4, 0), a.shape[1], 4, 1)


def expose(a: np.ndarray, p: Patient, frame: Frame, rng: np.random.Generator) -> Rendered:
    """Turn attenuation ``a`` into a stored 12-bit image with the patient's acquisition settings."""
    sample = a[::8, ::8]
    lo, hi = np.percentile(sample, [3.0, 99.5])
    noise = rng.standard_normal(a.shape, dtype=np.float32)
    # quantum noise: relative std grows as exp(a/2) (fewer photons behind dense tissue)
    sigma_n = p.noise * np.exp(clip(0.5 * (a - lo), 0.0, 3.0))
    signal = a + sigma_n * noise
    blur_px = p.blur / frame.spacing
    if blur_px > 0.3:
        signal = ndimage.gaussian_filter(signal, blur_px, mode="nearest")
    # latitude compression / unsharp mask, as CR processing does
    background = _large_blur(signal, 40.0 / frame.spacing)
    signal = signal - 0.18 * (background - float(np.median(sample)))
    s_lo, s_hi = np.percentile(signal[::8, ::8], [2.0, 99.7])
    z = (signal - s_lo) / max(s_hi - s_lo, 1e-3) - 0.5 - p.exposure
    z = np.tanh(1.6 * p.gamma * z) * 0.5 + 0.5          # characteristic curve, 0..1
    left, right, top, bottom = p.collimation
    rows, cols = a.shape
    c0, c1 = int(left * cols), cols - int(right * cols)
    r0, r1 = int(top * rows), rows - int(bottom * rows)
    out = np.ones_like(z)
    out[r0:r1, c0:c1] = z[r0:r1, c0:c1]
    offset, scale = 80.0, MAX_VALUE - 300.0
    stored = np.rint(offset + scale * clip(out, 0.0, 1.0))
    window = (float(offset + 0.5 * scale), float(scale))
    if p.monochrome1:
        stored = MAX_VALUE - stored
        window = (float(MAX_VALUE - window[0]), window[1])
    return Rendered(stored.astype(np.uint16), window, p.monochrome1)


@dataclass(frozen=True)
class SynthImage:
    """One rendered image.

    Attributes
    ----------
    rendered
        Stored pixels (uint16, 12 bits used), window and photometric interpretation.
    masks
        Label -> bool (rows, cols) ground truth; only labels that were drawn.
    spacing
        Pixel spacing, mm.
    view
        ``PA``, ``AP`` or ``LL``.
    """

    rendered: Rendered
    masks: dict[str, np.ndarray]
    spacing: float
    view: str


def exposed_region(p: Patient, rows: int, cols: int) -> np.ndarray:
    """Bool mask of the pixels inside the collimator opening."""
    left, right, top, bottom = p.collimation
    out = np.zeros((rows, cols), bool)
    out[int(top * rows): rows - int(bottom * rows), int(left * cols): cols - int(right * cols)] = True
    return out
