"""NIH ChestX-ray14: ``Data_Entry_2017*.csv`` + the ``images_*`` folders (PNG, searched recursively).

Columns read: ``Image Index``, ``Finding Labels`` (``|``-separated, or ``No Finding``),
``Patient ID``, ``View Position`` (PA/AP). Every one of the 14 labels is stated for every image
(not listed = absent); the pack labels NIH has no label for (Granuloma, Fracture, Support Devices)
are missing. The official split is used when ``test_list.txt`` lies beside the label file
(``train_val_list.txt``'s images are split train/val by patient).
"""
from __future__ import annotations

import csv
import gzip
from pathlib import Path

from training.manifest.common import Collected, Mapping, Row, check_image, frontal_view, index_images, map_labels

DATASET = "NIH ChestX-ray14"
MAPPING = {
    "Atelectasis": Mapping(("Atelectasis",)),
    "Cardiomegaly": Mapping(("Cardiomegaly",)),
    "Effusion": Mapping(("Effusion",)),
    "Edema": Mapping(("Edema",)),
    "Pneumonia": Mapping(("Pneumonia",)),
    "Opacity": Mapping(("Infiltration", "Consolidation")),
    "Nodule": Mapping(("Nodule",)),
    "Mass": Mapping(("Mass",)),
    "Emphysema": Mapping(("Emphysema",)),
    "Pneumothorax": Mapping(("Pneumothorax",)),
    "Hernia": Mapping(("Hernia",)),
    "Pleural Thickening": Mapping(("Pleural_Thickening",)),
    "Fibrosis": Mapping(("Fibrosis",)),
    "No Finding": Mapping(("No Finding",)),
}
NIH_LABELS = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema", "Fibrosis",
              "Hernia", "Infiltration", "Mass", "No Finding", "Nodule", "Pleural_Thickening", "Pneumonia",
              "Pneumothorax")


def open_text(path: Path):
    """Open a CSV that may be gzip-compressed."""
    return gzip.open(path, "rt", encoding="utf-8", newline="") if path.suffix == ".gz" \
        else open(path, encoding="utf-8", newline="")


def _official(label_file: Path) -> dict[str, str] | None:
    test_list = label_file.parent / "test_list.txt"
    if not test_list.is_file():
        return None
    return {name.strip(): "test" for name in test_list.read_text().split() if name.strip()}


def collect(args) -> Collected:
    """Read the NIH label file(s) and match each row to its PNG under ``args.images``."""
    images = index_images(Path(args.images))
    result = Collected(DATASET, [], mapping=MAPPING)
    official: dict[str, str] = {}
    for label_file in map(Path, args.labels):
        tests = _official(label_file)
        with open_text(label_file) as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                name = (row.get("Image Index") or "").strip()
                ref = f"{label_file.name}:{number} {name}"
                view, reason = frontal_view(row.get("View Position", ""))
                path = images.get(name)
                reason = reason or ("missing file" if path is None else check_image(path))
                found = {n.strip() for n in (row.get("Finding Labels") or "").split("|") if n.strip()}
                unknown = found - set(NIH_LABELS)
                if not reason and (not found or unknown):
                    reason = f"unknown finding labels {sorted(unknown)}" if unknown else "no finding labels"
                if reason:
                    result.skipped.append((ref, reason))
                    continue
                values = {label: int(label in found) for label in NIH_LABELS}
                patient = (row.get("Patient ID") or name.split("_")[0]).strip()
                result.rows.append(Row(name, patient, name.rsplit(".", 1)[0], path, view, map_labels(values, MAPPING)))
                if tests is not None:
                    official[name] = tests.get(name, "trainval")
    result.official = official or None
    result.notes.append("NIH 'No Finding' means none of its 14 labels; a fracture or device alone is not ruled out")
    return result
