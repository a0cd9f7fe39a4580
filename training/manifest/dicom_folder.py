"""A folder of DICOM studies (an archive export): images read by the engine, labels from each study's report.

A study's report is, in this order: a ``.txt`` beside its images (``<image file stem>.txt``, else
``report.txt``, else the only ``.txt`` in the folder), or the text of a DICOM Structured Report of
the same study (any SR in the tree whose StudyInstanceUID matches: its TEXT content items, in
order), or none. Labels come from the engine's labeler (``engine.reports.labeler``): positive 1,
negative 0, uncertain per ``--uncertain``, not mentioned 0; a study without a report has every label
missing (image-only rows). Views come from ViewPosition (0018,5101); patients from PatientID
(0010,0020). No official split.
"""
from __future__ import annotations

import logging
from pathlib import Path

from engine.images.read import read_path
from engine.reports.labels import LABEL_NAMES
from engine.scan import sidecar_report
from training.manifest.common import Collected, Mapping, Row, frontal_view

log = logging.getLogger(__name__)

DATASET = "DICOM archive"
MAPPING = {name: Mapping((f"labeler ({name})",)) for name in LABEL_NAMES}
_STATUS = {"positive": 1, "negative": 0}


def sr_text(path: Path) -> tuple[str, str] | None:
    """``(StudyInstanceUID, text)`` of a DICOM SR's TEXT content items, or None when ``path`` is not an SR with text.

    The engine's reader skips documents without pixels; training reads their text here with pydicom.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError):
        return None
    if "ContentSequence" not in dataset:
        return None
    parts = []
    stack = list(reversed(dataset.ContentSequence))
    while stack:
        item = stack.pop()
        if getattr(item, "ValueType", "") == "TEXT" and getattr(item, "TextValue", ""):
            name = item.ConceptNameCodeSequence[0].CodeMeaning if "ConceptNameCodeSequence" in item else ""
            parts.append(f"{name.upper()}: {item.TextValue}" if name else str(item.TextValue))
        stack += list(reversed(item.get("ContentSequence", [])))
    return (str(dataset.get("StudyInstanceUID", "")), "\n".join(parts)) if parts else None


def _text_beside(image_path: Path) -> str:
    """The report the scan reads beside an image (``<stem>.txt``, ``report.txt``), else the folder's only .txt."""
    text = sidecar_report(image_path)
    if text is not None:
        return text
    texts = sorted(image_path.parent.glob("*.txt"))
    return texts[0].read_text(encoding="utf-8", errors="replace") if len(texts) == 1 else ""


def labels_from_report(text: str, uncertain: str) -> dict[str, int | None]:
    """Pack labels from a report through the labeler; every label missing when there is no text."""
    from engine.reports.labeler import label_text

    if not text.strip():
        return {name: None for name in LABEL_NAMES}
    statuses = label_text(text).labels
    policy = {"positive": 1, "negative": 0, "ignore": None}[uncertain]
    return {name: _STATUS.get(statuses.get(name, "negative"), policy) for name in LABEL_NAMES}


def collect(args) -> Collected:
    """Walk ``args.images`` with the engine's reader; attach each study's report and its labels."""
    read = read_path(Path(args.images))
    result = Collected(DATASET, [], mapping=MAPPING)
    result.skipped += [(str(error.path), f"unreadable image: {error.reason}") for error in read.errors]
    sr_reports, labelled = {}, {}
    for path in read.skipped:
        found = sr_text(path) if path.suffix.lower() in (".dcm", ".dicom", "") else None
        if found and found[0]:
            sr_reports[found[0]] = found[1]
    for study in read.studies:
        for image in study.images:
            view, reason = frontal_view(image.view_position)
            if image.modality and image.modality not in ("CR", "DX"):
                reason = f"modality {image.modality} is not a radiograph"
            if reason:
                result.skipped.append((str(image.path), reason))
                continue
            text = _text_beside(image.path) or sr_reports.get(study.study_uid, "")
            if text not in labelled:
                labelled[text] = labels_from_report(text, args.uncertain)
            result.rows.append(Row(image.sop_uid or image.path.stem, study.patient_id or study.study_uid,
                                   study.study_uid, image.path, view, dict(labelled[text]), report=text))
    return result
