"""Save one analysis (a prediction and optionally a heatmap) as DICOM results beside each other."""
from __future__ import annotations

from pathlib import Path

from engine.dicom_results.seg import write_heatmap_seg
from engine.dicom_results.source import Algorithm
from engine.dicom_results.sr import write_sr


def save_analysis(image_path: str | Path, prediction, pack, folder: str | Path, heatmap=None) -> list[Path]:
    """Write ``<folder>/<SOP Instance UID>.sr.dcm`` (and ``.<method>.seg.dcm`` for ``heatmap``).

    Parameters
    ----------
    image_path
        The analysed DICOM image.
    prediction
        Its :class:`engine.predict.Prediction`.
    pack
        The loaded :class:`engine.model.pack.Pack` that made it.
    heatmap
        An :class:`engine.explain.heatmap.Heatmap` on the image's pixel grid, or None.

    Raises
    ------
    DicomError
        The image is not DICOM (nothing to reference) or its header lacks the UIDs.
    """
    from engine.dicom_results.source import read_source

    folder = Path(folder)
    stem = str(read_source(image_path).SOPInstanceUID)
    algorithm = Algorithm.from_pack(pack)
    written = [write_sr(image_path, prediction, algorithm, folder / f"{stem}.sr.dcm")]
    if heatmap is not None:
        written.append(write_heatmap_seg(image_path, {heatmap.label: heatmap.values}, heatmap.method, algorithm,
                                         folder / f"{stem}.{heatmap.method}.seg.dcm"))
    return written
