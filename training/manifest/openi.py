"""Open-i (Indiana University): the report collection (``NLMCXR_reports.tgz``) + the user's Open-i images.

``--labels`` is the report archive (default: the located copy, as ``synth`` finds it); ``--images``
the folder of the PNG/JPEG/DICOM images named by image id (``CXR1_1_IM-0001-3001.png``), searched
recursively. Labels come from the manually assigned MeSH-major terms (docs/LABELS.md), so every
label is stated for every report; the report text (FINDINGS and IMPRESSION) goes into the manifest.
Views come from ``nlmcxr_dicom_metadata.csv.gz`` beside the archive; images without one are skipped.
Open-i has no patient id: one report is one patient. No official split.
"""
from __future__ import annotations

from pathlib import Path

from engine.reports.labels import FINDING_NAMES, NO_FINDING, labels_from_mesh
from engine.reports.openi import read_reports
from training.manifest.common import Collected, Mapping, Row, check_image, frontal_view
from training.openi import reports_path
from training.paired import index_real_images

DATASET = "Open-i"
MAPPING = {name: Mapping((f"MeSH ({name})",)) for name in FINDING_NAMES + (NO_FINDING,)}


def collect(args) -> Collected:
    """Pair every report's images with the files under ``args.images``."""
    archive = reports_path(args.labels[0] if args.labels else None)
    records, errors = read_reports(archive)
    images = index_real_images(Path(args.images))
    result = Collected(DATASET, [], mapping=MAPPING)
    result.skipped += [(str(error.path or archive), f"unreadable report: {error.reason}") for error in errors]
    for record in records:
        present = labels_from_mesh(record.mesh_major)
        labels = {name: int(name in present) for name in MAPPING}
        text = "\n".join(f"{title}: {body}" for title, body in (("FINDINGS", record.findings),
                                                                  ("IMPRESSION", record.impression)) if body)
        for image_id in record.image_ids:
            view, reason = frontal_view(record.view_positions.get(image_id, ""))
            path = images.get(image_id)
            reason = reason or ("missing file" if path is None else check_image(path))
            if reason:
                result.skipped.append((f"{record.id} {image_id}", reason))
                continue
            result.rows.append(Row(image_id, record.id, record.id, path, view, dict(labels), report=text))
    return result
