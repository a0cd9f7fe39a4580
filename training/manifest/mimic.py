"""MIMIC-CXR-JPG: ``metadata.csv`` + ``chexpert.csv`` (or ``negbio.csv``) + ``files/pXX/pNNNNNNNN/sNNNNNNNN/*.jpg``.

``--labels`` is the CheXpert- or NegBio-labelled study table (``subject_id``, ``study_id`` and the
14 CheXpert label columns; same value conventions and mapping as :mod:`training.manifest.chexpert`);
``--metadata`` the image table (``dicom_id``, ``subject_id``, ``study_id``, ``ViewPosition``),
by default the ``*metadata.csv*`` beside the label file; ``--images`` the folder holding ``files/``;
``--reports`` the folder holding the free-text reports (``files/pXX/pNNNNNNNN/sNNNNNNNN.txt``), whose
text goes into the manifest (by path). The official split is the ``*split.csv*`` beside the label
file (``train`` / ``validate`` / ``test``).
"""
from __future__ import annotations

import csv
from pathlib import Path

from engine.errors import EngineError
from training.manifest.chexpert import MAPPING, chexpert_values, pack_labels
from training.manifest.common import Collected, Row, check_image, frontal_view
from training.manifest.nih14 import open_text

DATASET = "MIMIC-CXR-JPG"


def _sibling(label_file: Path, pattern: str) -> Path | None:
    found = sorted(label_file.parent.glob(pattern))
    return found[0] if found else None


def _study_folder(root: Path, subject: str, study: str) -> Path:
    relative = Path(f"p{subject[:2]}") / f"p{subject}" / f"s{study}"
    return root / "files" / relative if (root / "files").is_dir() else root / relative


def collect(args) -> Collected:
    """Join the image table with the study labels; resolve images and reports."""
    label_file = Path(args.labels[0])
    metadata = Path(args.metadata) if args.metadata else _sibling(label_file, "*metadata.csv*")
    if metadata is None or not metadata.is_file():
        raise EngineError("the MIMIC-CXR-JPG image table (metadata.csv) was not found", path=label_file.parent,
                          hint="give it with --metadata")
    labels: dict[tuple[str, str], dict] = {}
    for path in map(Path, args.labels):
        with open_text(path) as handle:
            for row in csv.DictReader(handle):
                labels[(row["subject_id"].strip(), row["study_id"].strip())] = row
    split_file = _sibling(label_file, "*split.csv*")
    official = {}
    if split_file is not None:
        with open_text(split_file) as handle:
            official = {row["dicom_id"].strip(): {"validate": "val"}.get(row["split"].strip(), row["split"].strip())
                        for row in csv.DictReader(handle)}
    images, reports = Path(args.images), Path(args.reports) if args.reports else None
    result = Collected(DATASET, [], official=official or None, mapping=MAPPING)
    with open_text(metadata) as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            dicom_id, subject, study = (row.get(k, "").strip() for k in ("dicom_id", "subject_id", "study_id"))
            ref = f"{metadata.name}:{number} {dicom_id}"
            view, reason = frontal_view(row.get("ViewPosition", ""))
            study_labels = labels.get((subject, study))
            path = _study_folder(images, subject, study) / f"{dicom_id}.jpg"
            if not reason and study_labels is None:
                reason = "study has no labels"
            reason = reason or check_image(path)
            if reason:
                result.skipped.append((ref, reason))
                continue
            report = _study_folder(reports, subject, study).with_suffix(".txt") if reports else None
            result.rows.append(Row(dicom_id, subject, study, path, view,
                                   pack_labels(chexpert_values(study_labels, args.uncertain)),
                                   report_path=str(report) if report and report.is_file() else ""))
    if reports:
        missing = sum(not r.report_path for r in result.rows)
        if missing:
            result.notes.append(f"{missing} images have no report file under {reports}")
    return result
