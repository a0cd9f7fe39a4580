"""Small helpers the PACS tests share: new studies made from the demo images, cache checks."""
from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid


def demo_copy(patient_id: str, count: int = 1, truncate: bool = False, tmp: Path | None = None) -> list[Path]:
    """``count`` instances of a new study (new UIDs) made from a demo frontal image; return their files.

    With ``truncate`` the pixel data is cut to half its length (a corrupt instance the server stores).
    """
    from engine.resources import demo_studies_dir

    source = sorted(Path(demo_studies_dir()).rglob("*_frontal.dcm"))[0]
    study, series = generate_uid(), generate_uid()
    files = []
    for number in range(1, count + 1):
        dataset = pydicom.dcmread(source)
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study, series
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.PatientID, dataset.InstanceNumber, dataset.AccessionNumber = patient_id, number, patient_id[:16]
        if truncate:
            dataset.PixelData = dataset.PixelData[: len(dataset.PixelData) // 2]
        path = tmp / f"{patient_id}_{number}.dcm"
        dataset.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


def cached_files(root: Path) -> dict[str, Path]:
    """SOP Instance UID -> cached file under ``root`` (only complete ``.dcm`` files)."""
    return {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p for p in Path(root).rglob("*.dcm")}


def same_instance(path: Path, uploaded: bytes) -> bool:
    """True when a cached file holds the uploaded instance: same SOP UIDs, same pixel data, same elements."""
    got, sent = pydicom.dcmread(path), pydicom.dcmread(BytesIO(uploaded))
    return (got.SOPInstanceUID == sent.SOPInstanceUID and got.SOPClassUID == sent.SOPClassUID
            and got.PixelData == sent.PixelData and got == sent)


def leftovers(root: Path) -> list[Path]:
    """Temporary ``.part`` files left in a cache (there must be none)."""
    return list(Path(root).rglob("*.part"))


def dataset_bytes(data: bytes) -> bytes:
    """The encoded data set of a DICOM file: its bytes after the preamble and the file meta group."""
    from pydicom.filereader import _read_file_meta_info, read_preamble

    handle = BytesIO(data)
    read_preamble(handle, False)
    _read_file_meta_info(handle)
    return data[handle.tell():]
