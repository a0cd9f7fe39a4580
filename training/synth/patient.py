"""Patient and acquisition parameters of one synthetic chest radiograph, sampled from a seed.

All lengths are millimetres in *body coordinates*: ``x`` runs from the patient's right to the
patient's left (image left to image right on a frontal view), ``y`` runs head to feet, origin at the
centre of the thorax. Attenuation coefficients are per millimetre at a ~60 keV effective energy.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# linear attenuation coefficients, 1/mm (soft tissue ~ water; aerated lung ~ 1/4 of it)
MU_SOFT = 0.020
MU_LUNG = 0.0052
MU_BONE = 0.048
MU_CALCIUM = 0.075
MU_METAL = 0.45


@dataclass(frozen=True)
class Patient:
    """Anatomy and acquisition of one study (shared by its frontal and lateral images).

    Attributes are in mm unless stated. ``half_width`` is the inner rib-cage half width at its
    widest; ``heart_hw`` the heart's half width, so the cardiothoracic ratio is
    ``heart_hw / half_width`` (before magnification).
    """

    half_width: float
    wall: float               # chest wall soft tissue thickness beside the ribs
    depth: float              # antero-posterior body depth
    apex_y: float             # top of the lung apices
    dome_y: float             # top of the right hemidiaphragm dome
    dome_left_drop: float     # left dome lies this much lower than the right
    dome_curve: float         # dimensionless dome curvature (small = flat)
    heart_cx: float           # heart centre, x (positive = patient's left)
    heart_cy: float           # heart centre, y
    heart_hw: float
    heart_hh: float
    mediastinum_hw: float
    knob_r: float             # aortic knob bulge beyond the mediastinum
    rib_spacing: float        # vertical distance between posterior ribs
    lung_density: float       # multiplier on MU_LUNG (emphysema < 1)
    vessel_scale: float       # multiplier on vascular marking calibre
    breast: float             # breast soft-tissue thickness (0 = none)
    rotation: float           # anterior structures shift relative to the spine, mm
    tilt_deg: float           # in-plane rotation of the patient on the detector, degrees
    shift_x: float            # patient position on the detector
    shift_y: float
    projection: str           # "PA" or "AP"
    sex: str                  # "F" or "M"
    age: int                  # years
    fov: float                # field of view (detector width imaged), mm
    exposure: float           # log-exposure offset (under/over exposure)
    gamma: float              # processing contrast
    noise: float              # quantum noise scale
    blur: float               # detector blur sigma, mm
    collimation: tuple[float, float, float, float]  # left, right, top, bottom margins (fraction)
    monochrome1: bool
    modality: str             # "CR" or "DX"
    poor_quality: bool

    @property
    def lung_height(self) -> float:
        """Apex to right dome, mm."""
        return self.dome_y - self.apex_y

    @property
    def ctr(self) -> float:
        """Cardiothoracic ratio on the frontal view (AP views magnify the heart by ~10%)."""
        return self.heart_hw * (1.1 if self.projection == "AP" else 1.0) / self.half_width


def sample_patient(rng: np.random.Generator, projection: str | None = None) -> Patient:
    """Draw a plausible adult patient and acquisition.

    Parameters
    ----------
    rng
        Seeded generator; the same state gives the same patient.
    projection
        ``"PA"`` or ``"AP"`` to fix the frontal projection (e.g. from the source image's
        ViewPosition); drawn at random (18 % AP) when ``None``.
    """
    size = rng.normal(0.0, 1.0)
    habitus = rng.normal(0.0, 1.0)            # > 0 broad/obese, < 0 slender
    half_width = float(np.clip(138 + 9 * size + 5 * habitus, 112, 170))
    inspiration = rng.normal(0.0, 1.0)
    lung_height = float(np.clip(238 + 14 * size + 14 * inspiration, 185, 290))
    apex_y = -0.52 * lung_height + rng.normal(0, 6)
    dome_y = apex_y + lung_height
    ctr = float(np.clip(rng.normal(0.43, 0.028), 0.35, 0.485))
    heart_hw = ctr * half_width
    drawn = "AP" if rng.random() < 0.18 else "PA"
    projection = projection if projection in ("PA", "AP") else drawn
    if projection == "AP":
        heart_hw /= 1.1                      # keep the displayed CTR inside the normal range
        ctr = heart_hw * 1.1 / half_width
    heart_hh = heart_hw * rng.uniform(0.85, 1.0)
    poor = bool(rng.random() < 0.1)
    sex = "F" if rng.random() < 0.5 else "M"
    col = rng.uniform(0.0, 0.06, size=4) * (rng.random(4) < 0.5)
    return Patient(
        half_width=half_width,
        wall=float(np.clip(16 + 6 * habitus, 8, 34)),
        depth=float(np.clip(215 + 18 * size + 22 * habitus, 160, 300)),
        apex_y=float(apex_y),
        dome_y=float(dome_y),
        dome_left_drop=float(rng.uniform(8, 22)),
        dome_curve=float(rng.uniform(0.9, 1.3)),
        heart_cx=float(rng.uniform(0.08, 0.2) * half_width),
        heart_cy=float(dome_y - heart_hh * rng.uniform(0.4, 0.6)),
        heart_hw=float(heart_hw),
        heart_hh=float(heart_hh),
        mediastinum_hw=float(rng.uniform(22, 30)),
        knob_r=float(rng.uniform(6, 16)),
        rib_spacing=float(np.clip(lung_height / rng.uniform(9.0, 10.5), 19, 30)),
        lung_density=float(rng.uniform(0.85, 1.15)),
        vessel_scale=float(rng.uniform(0.85, 1.15)),
        breast=float(rng.uniform(15, 45)) if sex == "F" else 0.0,
        rotation=float(rng.normal(0, 5 if not poor else 14)),
        tilt_deg=float(rng.normal(0, 1.5 if not poor else 5)),
        shift_x=float(rng.normal(0, 6)),
        shift_y=float(rng.normal(0, 8)),
        projection=projection,
        sex=sex,
        age=int(np.clip(rng.normal(55, 17), 18, 95)),
        fov=float(rng.uniform(380, 430) + 12 * size),
        exposure=float(np.clip(rng.normal(0, 0.1 if not poor else 0.25), -0.4, 0.4)),
        gamma=float(rng.uniform(0.85, 1.15)),
        noise=float(rng.uniform(0.010, 0.022) * (2.2 if poor else 1.0)),
        blur=float(rng.uniform(0.25, 0.55) * (2.0 if poor else 1.0)),
        collimation=tuple(float(c) for c in col),
        monochrome1=bool(rng.random() < 0.5),
        modality="CR" if rng.random() < 0.6 else "DX",
        poor_quality=poor,
    )


def with_changes(patient: Patient, **changes) -> Patient:
    """Return a copy of ``patient`` with some fields replaced (findings that change anatomy)."""
    return replace(patient, **changes)
