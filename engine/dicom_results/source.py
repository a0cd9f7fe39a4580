"""The source image's header, the algorithm's identity, and the analysis in a plain form for the writers."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from engine.checksums import sha256_file
from engine.errors import DicomError

log = logging.getLogger(__name__)

# Type 2 attributes of the Patient and General Study modules that results copy from the source: a
# source that lacks one (many anonymised files do) gets it empty, which is what Type 2 allows.
TYPE2_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                "ReferringPhysicianName", "StudyID", "AccessionNumber")


@dataclass(frozen=True)
class Algorithm:
    """Who made the results: the pack's name and version and its manifest's sha256 (hex)."""

    name: str
    version: str
    sha256: str

    @classmethod
    def from_pack(cls, pack) -> "Algorithm":
        """The identity of a loaded :class:`engine.model.pack.Pack`."""
        return cls(str(pack.manifest["name"]), str(pack.manifest["version"]),
                   sha256_file(Path(pack.path) / "manifest.json"))

    @classmethod
    def from_pack_dir(cls, pack_dir: str | Path) -> "Algorithm":
        """The identity of the pack in ``pack_dir`` (its manifest only; the pack is not loaded)."""
        from engine.model.pack import read_manifest

        manifest = read_manifest(pack_dir)
        return cls(str(manifest["name"]), str(manifest["version"]), sha256_file(Path(pack_dir) / "manifest.json"))


@dataclass(frozen=True)
class Analysis:
    """One image's analysis as the SR records it.

    Attributes
    ----------
    mode
        ``image``, ``text``, ``joint`` or ``none`` (refused by the gate, no report).
    findings
        ``(name, probability in [0, 1], threshold, positive)`` per label, pack order.
    gate
        The gate verdict as :meth:`engine.gate.GateVerdict.to_dict` gives it (None: no gate ran).
    """

    mode: str
    findings: tuple[tuple[str, float, float, bool], ...]
    gate: dict | None

    @classmethod
    def from_prediction(cls, prediction) -> "Analysis":
        """From an :class:`engine.predict.Prediction` (full precision) or its ``to_dict()``/scan record."""
        if isinstance(prediction, dict):
            findings = tuple((f["name"], float(f["probability"]), float(f["threshold"]), bool(f["positive"]))
                             for f in prediction.get("findings", []))
            return cls(str(prediction.get("mode", "none")), findings, prediction.get("gate"))
        findings = tuple((f.name, float(f.probability), float(f.threshold), bool(f.positive))
                         for f in prediction.findings)
        gate = None if prediction.gate is None else prediction.gate.to_dict()
        return cls(prediction.mode, findings, gate)

    @property
    def refused(self) -> bool:
        """True when the gate refused the image (its findings were withheld)."""
        return (self.gate or {}).get("status") == "refuse"


def read_source(path):
    """Read the header of the analysed DICOM image (no pixels) for referencing and copying.

    ``path`` may also be a header this function returned before; it is returned as it is, so a
    writer of several objects for one image (the scan's SR and SEG) reads the file once.

    Raises
    ------
    DicomError
        The file is not a DICOM image (a PNG/JPEG has nothing to reference), or it lacks the UIDs a
        reference needs.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    if isinstance(path, pydicom.Dataset):
        return path
    path = Path(path)
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError) as error:
        raise DicomError(f"not a DICOM image, so there is nothing a DICOM result could reference ({error})",
                         path=path, hint="DICOM SR/SEG results are written for DICOM inputs only") from error
    missing = [k for k in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Rows")
               if not dataset.get(k)]
    if missing:
        raise DicomError(f"the DICOM header lacks {', '.join(missing)}, which a result must reference",
                         path=path, hint="give the original image as it came from the modality or PACS")
    for keyword in TYPE2_COPIED:
        if keyword not in dataset:
            setattr(dataset, keyword, "")
    return dataset
