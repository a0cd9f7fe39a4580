"""Draw docs/img/synth_montage.png: every finding, subtle and obvious, with its mask outlined.

Run: ``python -m training.synth.montage [--out PATH] [--seed N]``.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from engine.reports.labels import FINDING_NAMES, find_label
from training.synth.context import FindingSpec
from training.synth.patient import sample_patient
from training.synth.render import SynthImage
from training.synth.study import draw_frontal

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)
SIDED = {"Effusion": ("right",), "Pneumothorax": ("left",), "Pneumonia": ("right",), "Opacity": ("left",),
         "Atelectasis": ("left",), "Nodule": ("right",), "Mass": ("left",), "Granuloma": ("right",),
         "Pleural Thickening": ("right",), "Fracture": ("left",), "Fibrosis": ("right", "left")}


def to_display(image: SynthImage) -> np.ndarray:
    """Stored values -> [0, 1] through the image's window, MONOCHROME1 inverted (as a viewer shows it)."""
    centre, width = image.rendered.window
    shown = np.clip((image.rendered.pixels.astype(np.float32) - (centre - width / 2)) / width, 0.0, 1.0)
    return 1.0 - shown if image.rendered.monochrome1 else shown


ZOOMED = {"Nodule", "Granuloma", "Fracture", "Atelectasis", "Pneumothorax"}


def _inset(rgb: np.ndarray, mask: np.ndarray, size: int) -> Image.Image:
    """A x3 zoom of the area around the mask's centre, framed, for small findings."""
    rows, cols = np.nonzero(mask)
    half = max(rgb.shape[0] // 12, 16)
    r0 = int(np.clip(rows.mean() - half, 0, rgb.shape[0] - 2 * half))
    c0 = int(np.clip(cols.mean() - half, 0, rgb.shape[1] - 2 * half))
    pic = Image.fromarray(rgb[r0:r0 + 2 * half, c0:c0 + 2 * half]).resize((size, size), Image.LANCZOS)
    ImageDraw.Draw(pic).rectangle((0, 0, size - 1, size - 1), outline=(255, 255, 0))
    return pic


def tile(image: SynthImage, label: str, title: str, size: int) -> Image.Image:
    """One montage tile: the display image with ``label``'s mask outlined in the label's colour."""
    grey = (to_display(image) * 255).astype(np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    mask = image.masks.get(label)
    if mask is not None:
        edge = mask & ~ndimage.binary_erosion(mask, iterations=2)
        colour = find_label(label).colour
        rgb[edge] = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    pic = Image.fromarray(rgb).resize((size, size), Image.LANCZOS)
    if mask is not None and label in ZOOMED:
        pic.paste(_inset(rgb, mask, size // 3), (0, size - size // 3))
    ImageDraw.Draw(pic).rectangle((0, 0, size, 14), fill=(0, 0, 0))
    ImageDraw.Draw(pic).text((4, 2), title, fill=(255, 255, 0))
    return pic


def build_montage(seed: int = 7, severities: tuple[float, ...] = (0.25, 0.85), render: int = 512,
                  size: int = 256) -> Image.Image:
    """A grid: one column pair per finding (subtle, obvious), 8 tiles a row."""
    tiles = []
    for k, label in enumerate(FINDING_NAMES):
        for sev in severities:
            rng = np.random.default_rng(seed * 1000 + k)
            words = ("pacemaker" if sev > 0.5 else "right central venous catheter") if label == "Support Devices" else ""
            spec = FindingSpec(label, SIDED.get(label, ()), None, sev, words)
            image, _ = draw_frontal(sample_patient(rng), [spec], rng, render, render)
            tiles.append(tile(image, label, f"{label} {sev:.2f}", size))
    per_row = 8
    rows = -(-len(tiles) // per_row)
    sheet = Image.new("RGB", (per_row * size, rows * size))
    for i, pic in enumerate(tiles):
        sheet.paste(pic, ((i % per_row) * size, (i // per_row) * size))
    return sheet


def main(argv: list[str] | None = None) -> int:
    """Write the montage PNG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "synth_montage.png")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    build_montage(args.seed).save(args.out, optimize=True)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
