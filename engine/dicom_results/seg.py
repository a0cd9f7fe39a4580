"""Write heatmaps as a fractional Segmentation (PROBABILITY) on the source image's pixel grid.

Why a Segmentation and not a Parametric Map: the Parametric Map IOD makes the Frame of Reference
module mandatory, and projection radiographs (CR, DX) have no frame of reference; highdicom 0.28.2
also refuses such sources (a dimension index error). The Segmentation IOD references the source
image pixel for pixel without one. One segment (one frame) per finding; each segment is coded with
the finding's code and names the method. Values are stored as 8-bit fractions of 255 (the IOD allows
no more bits for FRACTIONAL), so a [0, 1] map comes back within half a step (1/510) of what was given.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engine.dicom_results import codes as c
from engine.dicom_results.source import Algorithm, read_source
from engine.errors import DicomError

log = logging.getLogger(__name__)

SEG_SERIES_NUMBER = 902
MAX_FRACTIONAL = 255


def _checked(source_path, maps: dict[str, np.ndarray]) -> tuple:
    """The source header, the label names and the maps as float32 (rows, cols) arrays (not copied when
    they are float32 already; values unchecked: the writers clip them to [0, 1])."""
    if not maps:
        raise ValueError("no heatmap to write")
    source = read_source(source_path)
    shape = (int(source.Rows), int(source.Columns))
    labels = list(maps)
    arrays = [np.asarray(maps[name], dtype=np.float32) for name in labels]
    if not all(a.shape == shape for a in arrays):
        raise DicomError(f"a heatmap is not on the image grid {shape} (rows, columns)", path=source.filename,
                         hint="map heatmaps back to the original pixel grid before writing them")
    return source, labels, arrays


def stacked(arrays: list[np.ndarray]) -> np.ndarray:
    """Maps as highdicom takes them: (rows, cols, labels) float32, clipped to [0, 1]."""
    return np.stack([np.clip(a, 0.0, 1.0) for a in arrays], axis=-1)


def build_heatmap_seg(source_path: str | Path, maps: dict[str, np.ndarray], method: str, algorithm: Algorithm):
    """Return the Segmentation dataset (highdicom) holding ``maps``: ``{label: (rows, cols) float in [0, 1]}``.

    Raises
    ------
    DicomError
        The source is not a DICOM image, or a map's shape is not the source's (rows, columns).
    """
    source, labels, arrays = _checked(source_path, maps)
    return build_seg_from(source, labels, stacked(arrays), method, algorithm, seg_uids(source, labels, method, algorithm))


def seg_uids(source, labels: list[str], method: str, algorithm: Algorithm) -> dict[str, str]:
    """The deterministic UIDs of a heatmap Segmentation: ``seg`` (SOP instance) and ``series``."""
    return {"seg": c.result_uid(str(source.SOPInstanceUID), algorithm.sha256, ",".join(labels), method),
            "series": c.result_uid(str(source.SeriesInstanceUID), algorithm.sha256, "series", "seg")}


def build_seg_from(source, labels: list[str], stack: np.ndarray, method: str, algorithm: Algorithm,
                   uids: dict[str, str]):
    """The Segmentation of ``stack`` ((rows, cols, labels) float32 in [0, 1]) on the ``source`` header
    with the given UIDs (``seg``, ``series``); :func:`build_heatmap_seg` with every per-image value explicit."""
    import highdicom as hd

    algorithm_id = hd.AlgorithmIdentificationSequence(
        name=algorithm.name, version=algorithm.version, family=c.codes.cid7162.ArtificialIntelligence,
        parameters={"method": method, "manifest_sha256": algorithm.sha256})
    segments = []
    for number, name in enumerate(labels, start=1):
        category = c.codes.SCT.PhysicalObject if name == "Support Devices" else c.codes.SCT.MorphologicallyAbnormalStructure
        segments.append(hd.seg.SegmentDescription(
            segment_number=number, segment_label=f"{name} ({method})"[:64],
            segmented_property_category=category, segmented_property_type=c.label_code(name),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm_id))
    seg = hd.seg.Segmentation(
        source_images=[source], pixel_array=stack[None], segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL,
        segment_descriptions=segments, series_instance_uid=uids["series"],
        series_number=SEG_SERIES_NUMBER, sop_instance_uid=uids["seg"],
        instance_number=1, manufacturer="CXR Lens", manufacturer_model_name=algorithm.name,
        software_versions=algorithm.version, device_serial_number=algorithm.sha256[:16],
        fractional_type=hd.seg.SegmentationFractionalTypeValues.PROBABILITY, max_fractional_value=MAX_FRACTIONAL,
        omit_empty_frames=False, content_label="HEATMAP", content_description=f"{method} heatmaps, {algorithm.name} {algorithm.version}"[:64])
    seg.PatientOrientation = source.get("PatientOrientation", "")  # General Image, Type 2C without a frame of reference
    seg.SeriesDescription = f"AI heatmaps ({method}), {algorithm.name}"[:64]
    seg.CodingSchemeIdentificationSequence = [c.coding_scheme_identification()]
    return seg


def write_heatmap_seg(source_path: str | Path, maps: dict[str, np.ndarray], method: str, algorithm: Algorithm,
                      out: str | Path) -> Path:
    """Write the Segmentation of :func:`build_heatmap_seg` to ``out``; return the path.

    ``source_path`` is the analysed DICOM file, or its header from
    :func:`engine.dicom_results.source.read_source` (read once for several objects).

    The bytes come from a template of the same pack, labels, method and kind of image when one is
    cached (:func:`engine.dicom_results.seg_template.seg_file_chunks`): the same object as
    :func:`build_heatmap_seg`'s except the creation date and time.
    """
    from engine.dicom_results.seg_template import seg_file_chunks

    source, labels, arrays = _checked(source_path, maps)
    chunks = seg_file_chunks(source, labels, arrays, method, algorithm)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as file:
        file.writelines(chunks)
    return out
