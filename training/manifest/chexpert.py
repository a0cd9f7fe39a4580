"""CheXpert (and CheXpert-Plus-style) ``train.csv`` / ``valid.csv``: ``Path``, ``Frontal/Lateral``, ``AP/PA`` and 14 labels.

Label cells are 1 (positive), 0 (negative), -1 (uncertain: ``--uncertain``) or blank (not
mentioned in the report, read as **negative**, as CheXpert's own evaluation does). ``Lung
Lesion`` = 0 says no Nodule and no Mass; = 1 says neither which (both missing). ``Pleural Other``
does the same for Pleural Thickening. CheXpert has no Granuloma, Emphysema, Hernia or Fibrosis
label: missing. Its ``No Finding`` ignores support devices; ours does not, so a film with a device
is No Finding 0. ``Path`` is resolved under ``--images`` with or without its first component
(``CheXpert-v1.0-small/…``). Official split: rows under ``/valid/`` are the test split, rows
under ``/train/`` are split train/val by patient; it applies when the label files hold both.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from training.manifest.common import Collected, Mapping, Row, check_image, frontal_view, map_labels, resolve
from training.manifest.nih14 import open_text

DATASET = "CheXpert"
CHEXPERT_LABELS = ("No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion",
                   "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
                   "Pleural Other", "Fracture", "Support Devices")
MAPPING = {
    "Atelectasis": Mapping(("Atelectasis",)),
    "Cardiomegaly": Mapping(("Cardiomegaly",)),
    "Effusion": Mapping(("Pleural Effusion",)),
    "Edema": Mapping(("Edema",)),
    "Pneumonia": Mapping(("Pneumonia",)),
    "Opacity": Mapping(("Lung Opacity", "Consolidation")),
    "Nodule": Mapping(negative_only=("Lung Lesion",)),
    "Mass": Mapping(negative_only=("Lung Lesion",)),
    "Pneumothorax": Mapping(("Pneumothorax",)),
    "Fracture": Mapping(("Fracture",)),
    "Pleural Thickening": Mapping(negative_only=("Pleural Other",)),
    "Support Devices": Mapping(("Support Devices",)),
    "No Finding": Mapping(("No Finding",)),
}
_PATIENT = re.compile(r"(patient\d+)")


def chexpert_values(row: dict, uncertain: str, blank_negative: bool = True) -> dict[str, int | None]:
    """The 14 CheXpert-style label cells as 1/0/None (blank is 0 when ``blank_negative``)."""
    values = {}
    for label in CHEXPERT_LABELS:
        cell = (row.get(label) or "").strip()
        values[label] = 0 if (not cell and blank_negative) else resolve(cell, uncertain)
    return values


def pack_labels(values: dict[str, int | None]) -> dict[str, int | None]:
    """Map CheXpert-style values onto the pack's labels (a device makes No Finding 0)."""
    labels = map_labels(values, MAPPING)
    if values.get("Support Devices") == 1:
        labels["No Finding"] = 0
    return labels


def _find(images: Path, relative: str) -> Path | None:
    parts = Path(relative).parts
    for candidate in (images / relative, images.joinpath(*parts[1:]) if len(parts) > 1 else None):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def collect(args) -> Collected:
    """Read CheXpert label CSV(s) and resolve each ``Path`` under ``args.images``."""
    images = Path(args.images)
    result = Collected(DATASET, [], mapping=MAPPING)
    official: dict[str, str] = {}
    for label_file in map(Path, args.labels):
        with open_text(label_file) as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                relative = (row.get("Path") or "").strip()
                ref = f"{label_file.name}:{number} {relative}"
                if (row.get("Frontal/Lateral") or "").strip().lower() == "lateral":
                    result.skipped.append((ref, "lateral view (packs read frontal views)"))
                    continue
                view, reason = frontal_view(row.get("AP/PA", ""))
                path = _find(images, relative) if relative else None
                reason = reason or ("missing file" if path is None else check_image(path))
                if reason:
                    result.skipped.append((ref, reason))
                    continue
                match = _PATIENT.search(relative)
                patient = match.group(1) if match else Path(relative).parent.parent.name
                study = str(Path(relative).parent)
                result.rows.append(Row(relative, patient, study, path, view,
                                       pack_labels(chexpert_values(row, args.uncertain))))
                official[relative] = "test" if "/valid/" in f"/{relative}" else "trainval"
    if "test" in official.values() and "trainval" in official.values():
        result.official = official
    return result
