"""Draw one synthetic frontal radiograph with the findings asked for, and its ground-truth masks."""
from __future__ import annotations

import numpy as np

from training.synth import lesions_focal as focal
from training.synth import lesions_lung as lung
from training.synth.anatomy import build_frontal
from training.synth.bones import build_bones
from training.synth.context import Context, FindingSpec
from training.synth.frame import Frame
from training.synth.patient import Patient, with_changes
from training.synth.lateral_findings import draw_lateral
from training.synth.render import SynthImage, attenuation, expose, exposed_region
from training.synth.vessels import build_vessels

# label -> renderer drawn after the skeleton and vessels (fixed order keeps results deterministic)
DRAWERS = {
    "Cardiomegaly": focal.cardiomegaly,
    "Effusion": lung.effusion,
    "Pneumonia": lung.consolidation,
    "Opacity": lung.consolidation,
    "Atelectasis": lung.atelectasis,
    "Edema": lung.edema,
    "Fibrosis": lung.fibrosis,
    "Pleural Thickening": lung.pleural_thickening,
    "Nodule": focal.nodule,
    "Mass": focal.mass,
    "Granuloma": focal.granuloma,
    "Hernia": focal.hernia,
    "Support Devices": focal.support_devices,
}
# drawn before the vessels (they remove lung tissue / markings) or before the ribs
PRE_VESSEL = {"Pneumothorax": lung.prepare_pneumothorax, "Emphysema": lung.emphysema_bullae}
SUPPORTED = tuple(DRAWERS) + tuple(PRE_VESSEL) + ("Fracture",)


def adjust_patient(p: Patient, specs: list[FindingSpec]) -> Patient:
    """Apply the anatomy changes some findings imply (heart size, hyperinflation, volume loss)."""
    by = {s.label: s for s in specs}
    changes: dict = {}
    if "Cardiomegaly" in by:
        ctr = 0.515 + 0.17 * by["Cardiomegaly"].severity
        hw = ctr * p.half_width / (1.1 if p.projection == "AP" else 1.0)
        hh = p.heart_hh * (hw / p.heart_hw) ** 0.7
        changes.update(heart_hw=hw, heart_hh=hh, heart_cy=p.dome_y - 0.5 * hh)
    if "Emphysema" in by:
        sev = by["Emphysema"].severity
        changes.update(dome_y=p.dome_y + 12.0 + 25.0 * sev, dome_curve=p.dome_curve * (0.55 - 0.3 * sev),
                       lung_density=p.lung_density * (0.8 - 0.3 * sev), half_width=p.half_width * 1.04,
                       rib_spacing=p.rib_spacing * 1.06)
    if "Atelectasis" in by and by["Atelectasis"].severity > 0.5 and len(by["Atelectasis"].sides) == 1:
        lift = 8.0 + 12.0 * by["Atelectasis"].severity
        if by["Atelectasis"].sides[0] == "left":
            changes.update(dome_left_drop=p.dome_left_drop - lift)
        else:
            changes.update(dome_y=changes.get("dome_y", p.dome_y) - lift,
                           dome_left_drop=p.dome_left_drop + lift)
    return with_changes(p, **changes) if changes else p


def draw_frontal(p: Patient, specs: list[FindingSpec], rng: np.random.Generator,
                 rows: int = 512, cols: int = 512) -> tuple[SynthImage, list]:
    """Render a PA/AP radiograph of patient ``p`` showing exactly ``specs``.

    Returns the image and the placements (label, x, y, size in mm) of its lesions.

    Parameters
    ----------
    p
        The patient (before finding-driven changes).
    specs
        Findings to draw; labels must be in ``SUPPORTED``.
    rng
        Generator; the same state gives the same pixels.
    rows, cols
        Image size in pixels; the pixel spacing follows from the patient's field of view.
    """
    p = adjust_patient(p, specs)
    frame = Frame.from_geometry(rows, cols, p.fov, p.tilt_deg, p.shift_x, p.shift_y)
    scene = build_frontal(p, frame)
    scene.density = p.lung_density
    ctx = Context(scene, rng, np.zeros((rows, cols), np.float32))
    by = {s.label: s for s in specs}
    for label, pre in PRE_VESSEL.items():
        if label in by:
            pre(ctx, by[label])
    breaks = focal.plan_fracture(ctx, by["Fracture"]) if "Fracture" in by else []
    scene.bone = build_bones(frame, scene.geom, breaks)
    emph = by.get("Emphysema")
    vessels = build_vessels(scene, rng, calibre=(1.3 if "Edema" in by else 1.0) * (0.85 if emph else 1.0),
                            prune=0.4 if emph else 0.12)
    for label, draw in DRAWERS.items():
        if label in by:
            draw(ctx, by[label])
    a = attenuation(scene.soft, scene.lung, scene.density, scene.bone, scene.air, vessels, ctx.extra)
    rendered = expose(a, p, frame, rng)
    exposed = exposed_region(p, rows, cols)
    masks = {k: v & exposed for k, v in ctx.masks.items()}
    return SynthImage(rendered, masks, frame.spacing, p.projection), ctx.placements


def draw_study(p: Patient, specs: list[FindingSpec], rng: np.random.Generator, lateral: bool,
               rows: int = 512, cols: int = 512) -> list[SynthImage]:
    """Render a study: the frontal view, then (if ``lateral``) the lateral view of the same patient.

    The lateral view places lesions at the heights the frontal view used.
    """
    frontal, placements = draw_frontal(p, specs, rng, rows, cols)
    if not lateral:
        return [frontal]
    side = draw_lateral(adjust_patient(p, specs), specs, placements, rng, rows, cols)
    return [frontal, side]
