"""Read DICOM files, folders and DICOMDIRs (and PNG/JPEG images) into typed, Qt-free objects.

This module is the engine's only pydicom user. Headers are read eagerly (cheap), pixels lazily
through :meth:`Image.pixels`. A folder read never stops on a bad file: each failure becomes a
:class:`FileError` in :attr:`ReadResult.errors` and the rest load.
"""
from __future__ import annotations

import logging
import os
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import DicomError
from engine.images.raster import raster_header_facts, read_raster_pixels
from engine.images.header import (
    ModalityLut, VoiLut, Window, header_facts, modality_lut_from, voi_from,
)

log = logging.getLogger(__name__)

# Extensions that are tried as DICOM even without the "DICM" preamble; files with any other
# extension are skipped quietly when they are neither DICOM nor PNG/JPEG (reports, masks, notes).
DICOM_LIKE_SUFFIXES = {"", ".dcm", ".dicom", ".dic", ".ima"}
RASTER_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
BIG_ENDIAN_SYNTAX = "1.2.840.10008.1.2.2"

# Which pylibjpeg plugin decodes which compressed transfer syntax (for "install X" hints).
PLUGIN_FOR_SYNTAX = {
    "1.2.840.10008.1.2.4.50": "pylibjpeg-libjpeg",   # JPEG baseline
    "1.2.840.10008.1.2.4.51": "pylibjpeg-libjpeg",   # JPEG extended
    "1.2.840.10008.1.2.4.57": "pylibjpeg-libjpeg",   # JPEG lossless
    "1.2.840.10008.1.2.4.70": "pylibjpeg-libjpeg",   # JPEG lossless SV1
    "1.2.840.10008.1.2.4.80": "pylibjpeg-libjpeg",   # JPEG-LS lossless
    "1.2.840.10008.1.2.4.81": "pylibjpeg-libjpeg",   # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.90": "pylibjpeg-openjpeg",  # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91": "pylibjpeg-openjpeg",  # JPEG 2000
    "1.2.840.10008.1.2.4.201": "pylibjpeg-openjpeg",  # HTJ2K lossless
    "1.2.840.10008.1.2.4.202": "pylibjpeg-openjpeg",  # HTJ2K lossless RPCL
    "1.2.840.10008.1.2.4.203": "pylibjpeg-openjpeg",  # HTJ2K
    "1.2.840.10008.1.2.5": "pylibjpeg-rle",          # RLE lossless
}
SUPPORTED_PHOTOMETRIC = {
    "MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT",
    "PALETTE COLOR",
}


class NotAnImage(DicomError):
    """A valid DICOM document without pixels (a structured report, presentation state, PDF …)."""


@dataclass(frozen=True)
class FileError:
    """A file that could not be read, and why (the message says what to do)."""

    path: Path
    reason: str


@dataclass(frozen=True, eq=False)
class Image:
    """One image (possibly multi-frame) with its header facts; pixels load on demand.

    Attributes use DICOM units: ``pixel_spacing_mm`` is (row spacing, column spacing) in mm from
    PixelSpacing (0028,0030) or, failing that, ImagerPixelSpacing (0018,1164).
    ``kind`` is ``"dicom"`` or ``"raster"`` (PNG/JPEG without DICOM metadata).
    """

    path: Path
    kind: str
    rows: int
    columns: int
    photometric: str
    number_of_frames: int = 1
    samples_per_pixel: int = 1
    bits_stored: int = 8
    study_uid: str = ""
    series_uid: str = ""
    sop_uid: str = ""
    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    study_description: str = ""
    series_description: str = ""
    series_number: int | None = None
    instance_number: int | None = None
    modality: str = ""
    body_part: str = ""
    view_position: str = ""
    laterality: str = ""
    pixel_spacing_mm: tuple[float, float] | None = None
    pixel_spacing_source: str = ""
    transfer_syntax: str = ""
    transfer_syntax_name: str = ""
    modality_lut: ModalityLut = field(default_factory=ModalityLut)
    voi: VoiLut = field(default_factory=VoiLut)

    @property
    def is_colour(self) -> bool:
        """True for RGB, YBR and PALETTE COLOR images (shown as RGB)."""
        return self.samples_per_pixel == 3 or self.photometric == "PALETTE COLOR"

    def pixels(self, frame: int = 0) -> np.ndarray:
        """Return the stored values of one frame in native byte order.

        Grey images give ``(rows, columns)``; colour images ``(rows, columns, 3)`` RGB (YBR
        converted, PALETTE COLOR looked up). Raises :class:`DicomError` when the pixel data
        cannot be decoded, naming the plugin to install where one would help.
        """
        if not 0 <= frame < self.number_of_frames:
            raise DicomError(f"frame {frame} does not exist (the image has {self.number_of_frames})",
                             path=self.path, hint="choose a frame between 0 and number_of_frames-1")
        if self.kind == "raster":
            return read_raster_pixels(self.path)
        return _decode_dicom_frame(self, frame)


@dataclass(frozen=True)
class Series:
    """Images sharing a SeriesInstanceUID (0020,000E), sorted by instance number."""

    series_uid: str
    modality: str
    description: str
    number: int | None
    images: tuple[Image, ...]


@dataclass(frozen=True)
class Study:
    """Series sharing a StudyInstanceUID (0020,000D)."""

    study_uid: str
    patient_name: str
    patient_id: str
    study_date: str
    description: str
    series: tuple[Series, ...]

    @property
    def images(self) -> tuple[Image, ...]:
        """All images of the study, series by series."""
        return tuple(image for series in self.series for image in series.images)


@dataclass(frozen=True)
class ReadResult:
    """What a read found: studies, one error per unreadable file, and skipped files (DICOM
    documents such as structured reports, and non-image files met while walking a folder)."""

    studies: tuple[Study, ...]
    errors: tuple[FileError, ...]
    skipped: tuple[Path, ...] = ()

    @property
    def images(self) -> tuple[Image, ...]:
        """All images of all studies."""
        return tuple(image for study in self.studies for image in study.images)


def read_image(path: str | Path) -> Image:
    """Read the header of one DICOM, PNG or JPEG file; pixels stay on disk until asked for.

    Raises
    ------
    DicomError
        Not DICOM (nor PNG/JPEG), empty, no pixel data, truncated pixel data, or an unsupported
        photometric interpretation; the message names the file and says what to do.
    """
    path = Path(path)
    kind = sniff_kind(path)
    if kind == "raster":
        return Image(**raster_header_facts(path))
    return _read_dicom_header(path, force=(kind == "maybe-dicom"))


def sniff_kind(path: Path) -> str:
    """Classify a file by content: ``dicom``, ``raster``, ``maybe-dicom`` or ``other``.

    Raises DicomError for files that cannot be opened or are empty.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError as error:
        raise DicomError(f"cannot open the file ({error.strerror})", path=path,
                         hint="check that it exists and that you may read it") from error
    if not head:
        raise DicomError("the file is empty (0 bytes)", path=path,
                         hint="copy it again from the source; the transfer was incomplete")
    if head[128:132] == b"DICM":
        return "dicom"
    if any(head.startswith(magic) for magic in RASTER_MAGIC):
        return "raster"
    return "maybe-dicom" if path.suffix.lower() in DICOM_LIKE_SUFFIXES else "other"


def read_path(path: str | Path) -> ReadResult:
    """Read a file, a folder (recursively, DICOM recognised by content) or a DICOMDIR.

    Unreadable files are reported in ``errors`` with their reason; the rest are grouped into
    Study → Series → Image by UIDs and sorted by InstanceNumber (0020,0013).
    """
    path = Path(path)
    if not path.exists():
        raise DicomError("no such file or folder", path=path, hint="check the path")
    if path.is_dir():
        candidates = sorted(_walk_files(path))
    elif _is_dicomdir(path):
        candidates = _dicomdir_files(path)
    else:
        candidates = [path]
    images, errors, skipped = [], [], []
    for candidate in candidates:
        try:
            kind = sniff_kind(candidate)
            if kind == "other" and path.is_dir():
                skipped.append(candidate)
                continue
            if candidate.name.upper() == "DICOMDIR" and path.is_dir():
                continue  # its files are found by the walk itself
            images.append(read_image(candidate))
        except NotAnImage as document:
            log.debug("%s", document)
            skipped.append(candidate)
        except DicomError as error:
            errors.append(FileError(candidate, str(error)))
    return ReadResult(group_studies(images), tuple(errors), tuple(skipped))


def group_studies(images: list[Image]) -> tuple[Study, ...]:
    """Group images into studies and series by UID; sort series and images by their numbers."""
    by_study: dict[str, dict[str, list[Image]]] = defaultdict(lambda: defaultdict(list))
    for image in images:
        by_study[image.study_uid][image.series_uid].append(image)
    studies = []
    for study_uid, by_series in by_study.items():
        series = []
        for series_uid, members in by_series.items():
            members.sort(key=lambda im: (im.instance_number is None, im.instance_number or 0, str(im.path)))
            first = members[0]
            series.append(Series(series_uid, first.modality, first.series_description,
                                 first.series_number, tuple(members)))
        series.sort(key=lambda s: (s.number is None, s.number or 0, s.series_uid))
        first = series[0].images[0]
        studies.append(Study(study_uid, first.patient_name, first.patient_id, first.study_date,
                             first.study_description, tuple(series)))
    studies.sort(key=lambda s: (s.study_date, s.patient_name, s.study_uid))
    return tuple(studies)


def read_tags(path: str | Path) -> list[tuple[str, str, str, str, int]]:
    """Return the header as rows ``(tag "(gggg,eeee)", keyword, VR, value text, depth)``.

    Sequences are flattened with increasing depth; pixel data and long binary values are
    summarised by their length.
    """
    import pydicom

    path = Path(path)
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception as error:  # noqa: BLE001 - pydicom raises many types for bad files
        raise DicomError(f"cannot read the DICOM header ({error})", path=path,
                         hint="the file is not DICOM or is damaged") from error
    rows: list[tuple[str, str, str, str, int]] = []

    def visit(ds, depth: int) -> None:
        for element in ds:
            tag = f"({element.tag.group:04X},{element.tag.element:04X})"
            if element.VR == "SQ":
                rows.append((tag, element.keyword, "SQ", f"{len(element.value)} item(s)", depth))
                for item in element.value:
                    visit(item, depth + 1)
            elif element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
                rows.append((tag, element.keyword, element.VR, f"<{len(element.value or b'')} bytes>", depth))
            else:
                rows.append((tag, element.keyword, element.VR, str(element.value)[:200], depth))

    if getattr(dataset, "file_meta", None):
        visit(dataset.file_meta, 0)
    visit(dataset, 0)
    return rows


# ---------------------------------------------------------------------------------- internals

def _walk_files(folder: Path):
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith("."):
                yield Path(root) / name


def _is_dicomdir(path: Path) -> bool:
    return path.name.upper() == "DICOMDIR"


def _dicomdir_files(path: Path) -> list[Path]:
    import pydicom
    from pydicom.fileset import FileSet

    try:
        fileset = FileSet(pydicom.dcmread(path))
    except Exception as error:  # noqa: BLE001
        raise DicomError(f"cannot read the DICOMDIR ({error})", path=path,
                         hint="open the folder that contains it instead") from error
    return [Path(instance.path) for instance in fileset]


def _read_dicom_header(path: Path, force: bool) -> Image:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dataset = pydicom.dcmread(path, defer_size=1024, force=force)
        for warning in caught:
            log.debug("%s: %s", path, warning.message)
    except InvalidDicomError as error:
        raise DicomError("not a DICOM file", path=path,
                         hint="open a DICOM (.dcm), PNG or JPEG image") from error
    except Exception as error:  # noqa: BLE001 - damaged headers raise many types
        raise DicomError(f"the DICOM header is damaged ({type(error).__name__}: {error})", path=path,
                         hint="copy the file again from the source") from error
    if force and "SOPClassUID" not in dataset and "PixelData" not in dataset:
        raise DicomError("not a DICOM file (no DICOM header found)", path=path,
                         hint="open a DICOM (.dcm), PNG or JPEG image")
    if getattr(dataset, "file_meta", None) is not None and \
            dataset.file_meta.get("MediaStorageSOPClassUID") == DICOMDIR_SOP_CLASS:
        raise DicomError("this is a DICOMDIR (an index), not an image", path=path,
                         hint="open it as a study: cxr-lens info DICOMDIR")
    if str(dataset.get("SOPClassUID", "")) in RESULT_CLASSES:  # results (SEG, PM) carry pixels but are not images
        raise NotAnImage(f"a DICOM result object, not an image ({dataset.SOPClassUID.name})", path=path,
                         hint="it is listed with the results of the folder (cxr-lens info)")
    if not any(k in dataset for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        if _has_pixel_data_tag(path):
            raise DicomError("the pixel data is truncated or damaged (the file ends inside it)",
                             path=path, hint="the file was cut short; copy it again from the source")
        if _is_document_class(dataset):
            raise NotAnImage(f"a DICOM document, not an image ({dataset.SOPClassUID.name})", path=path,
                             hint="open an image file of the study")
        raise DicomError("the file has no pixel data", path=path,
                         hint="it may be damaged or incomplete; open another image of the study")
    _check_pixel_length(dataset, path)
    facts = header_facts(dataset, path)
    if facts["photometric"] not in SUPPORTED_PHOTOMETRIC:
        raise DicomError(f"photometric interpretation {facts['photometric']!r} is not supported",
                         path=path, hint=f"supported: {', '.join(sorted(SUPPORTED_PHOTOMETRIC))}")
    return Image(path=path, kind="dicom", modality_lut=modality_lut_from(dataset),
                 voi=voi_from(dataset), **facts)


#: Segmentation and Parametric Map: they hold pixels, but they are results about an image
RESULT_CLASSES = ("1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.30")


def _is_document_class(dataset) -> bool:
    """True for SOP classes that never hold pixels: SR, key objects, presentation states, PDFs."""
    uid = str(dataset.get("SOPClassUID", ""))
    return uid.startswith(("1.2.840.10008.5.1.4.1.1.88.", "1.2.840.10008.5.1.4.1.1.11.",
                           "1.2.840.10008.5.1.4.1.1.104."))


def _check_pixel_length(dataset, path: Path) -> None:
    """Raise DicomError when native (uncompressed) pixel data is shorter than its header says."""
    element = dataset.get_item("PixelData", keep_deferred=True)
    if element is None or getattr(element, "length", 0xFFFFFFFF) in (0xFFFFFFFF, None):
        return  # encapsulated (compressed): checked when decoded
    rows, cols = int(dataset.get("Rows", 0)), int(dataset.get("Columns", 0))
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    samples = int(dataset.get("SamplesPerPixel", 1))
    bits = int(dataset.get("BitsAllocated", 16))
    expected = rows * cols * frames * samples * bits // 8
    if str(dataset.get("PhotometricInterpretation", "")).startswith("YBR_FULL_422"):
        expected = expected * 2 // 3
    available = os.path.getsize(path) - element.value_tell
    if min(element.length, available) < expected:
        raise DicomError(f"the pixel data is truncated ({min(element.length, available)} of "
                         f"{expected} bytes present)", path=path,
                         hint="the file was cut short; copy it again from the source")


def _has_pixel_data_tag(path: Path) -> bool:
    """True when the bytes of the Pixel Data tag (7FE0,0010) occur in the file (either byte order)."""
    content = path.read_bytes()
    return b"\xe0\x7f\x10\x00" in content or b"\x7f\xe0\x00\x10" in content


def _decode_dicom_frame(image: Image, frame: int) -> np.ndarray:
    import pydicom
    from pydicom.pixels import apply_color_lut, pixel_array

    index = frame if image.number_of_frames > 1 else None
    try:
        if image.transfer_syntax:
            array = pixel_array(str(image.path), index=index)
        else:  # no file meta: pydicom guesses the encoding while reading the dataset
            dataset = pydicom.dcmread(image.path, force=True)
            dataset.file_meta.TransferSyntaxUID = (pydicom.uid.ImplicitVRLittleEndian
                                                   if dataset.original_encoding[0]
                                                   else pydicom.uid.ExplicitVRLittleEndian)
            array = pixel_array(dataset, index=index)
    except Exception as error:  # noqa: BLE001 - decoders raise many types
        plugin = PLUGIN_FOR_SYNTAX.get(image.transfer_syntax)
        hint = (f"install the decoder plugin: pip install {plugin}" if plugin and _missing(plugin)
                else "the pixel data is damaged or uses a compression no installed plugin decodes")
        raise DicomError(f"cannot decode the pixel data ({image.transfer_syntax_name or image.transfer_syntax}:"
                         f" {error})", path=image.path, hint=hint) from error
    if image.photometric == "PALETTE COLOR":
        array = apply_color_lut(array, pydicom.dcmread(image.path, stop_before_pixels=True, force=True))
        if image.transfer_syntax == BIG_ENDIAN_SYNTAX:
            array = array.byteswap()  # pydicom 3.0 leaves big-endian palette LUT data unswapped
    if array.dtype.byteorder not in ("=", "|"):
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def _missing(plugin: str) -> bool:
    import importlib.util

    module = {"pylibjpeg-libjpeg": "libjpeg", "pylibjpeg-openjpeg": "openjpeg",
              "pylibjpeg-rle": "rle"}[plugin]
    return importlib.util.find_spec(module) is None


__all__ = [
    "FileError", "Image", "NotAnImage", "ModalityLut", "ReadResult", "Series", "Study", "VoiLut", "Window",
    "group_studies", "read_image", "read_path", "read_tags", "sniff_kind",
]
