"""Read the Open-i (Indiana University) chest X-ray reports into typed records.

The collection ships as ``NLMCXR_reports.tgz`` (one XML file per report under
``ecgen-radiology/``) plus ``nlmcxr_dicom_metadata.csv.gz`` (DICOM header fields per image id).
:func:`read_reports` takes the archive, a folder of XML files or one XML file and returns the
records it could parse together with one :class:`~engine.errors.ReportError` per file it could
not, so a single damaged file never stops a batch. Locating or fetching the collection is the
training package's job (``training.openi``); this module only reads what it is given.

Report text is licensed CC BY-NC-ND 4.0: read it where it lies, never copy it into the repository.
"""
from __future__ import annotations

import csv
import gzip
import logging
import re
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import ReportError

logger = logging.getLogger(__name__)

REPORTS_ARCHIVE = "NLMCXR_reports.tgz"
METADATA_CSV = "nlmcxr_dicom_metadata.csv.gz"
_ARCHIVE_HINT = "the archive is damaged or not a tar file: fetch it again (python -m training fetch-openi)"

# A few parent image ids carry an extra series number (``CXR1_1_IM-0001-3001``); the metadata
# table keys the same image as ``CXR1_IM-0001-3001``.
_EXTRA_SERIES = re.compile(r"^(CXR\d+)_\d+_(IM-.+)$")


@dataclass(frozen=True)
class ReportRecord:
    """One Open-i report.

    Attributes
    ----------
    id
        Report id from ``<uId id=...>``, e.g. ``CXR207`` (the file name stem when absent).
    comparison, indication, findings, impression
        Section text, whitespace-normalised; ``""`` when the section is absent or empty.
    mesh_major
        Manually assigned MeSH terms (``<MeSH><major>``) as written, e.g.
        ``"Pleural Effusion/right/small"``; ``("normal",)`` for a normal study.
    mesh_automatic
        Automatically assigned MeSH terms (``<MeSH><automatic>``).
    image_ids
        Ids of the report's images, normalised to the metadata table's key
        (``CXR207_IM-0703-1001``).
    view_positions
        ``{image_id: view}`` from the metadata's ``View Position`` column (``PA``, ``AP``,
        ``LL``, …); images missing from the table or with an empty view are left out.
    source
        Where the record came from (archive member or file path), for messages.
    """

    id: str
    comparison: str = ""
    indication: str = ""
    findings: str = ""
    impression: str = ""
    mesh_major: tuple[str, ...] = ()
    mesh_automatic: tuple[str, ...] = ()
    image_ids: tuple[str, ...] = ()
    view_positions: dict[str, str] = field(default_factory=dict, compare=False)
    source: str = ""


def read_view_positions(path: str | Path) -> dict[str, str]:
    """Return ``{image_id: View Position}`` from the Open-i DICOM metadata table.

    Parameters
    ----------
    path
        ``nlmcxr_dicom_metadata.csv.gz`` (or an uncompressed ``.csv``) with columns ``imageid``
        and ``View Position``.

    Raises
    ------
    ReportError
        When the file cannot be read or lacks those columns.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"imageid", "View Position"} - set(reader.fieldnames or ())
            if missing:
                raise ReportError(f"metadata table lacks columns {sorted(missing)}", path=path,
                                  hint="use the nlmcxr_dicom_metadata.csv.gz shipped with Open-i")
            return {row["imageid"]: row["View Position"].strip() for row in reader
                    if row["imageid"] and (row["View Position"] or "").strip()}
    except (OSError, UnicodeDecodeError, csv.Error, EOFError) as error:
        raise ReportError(f"cannot read metadata table ({error})", path=path,
                          hint="re-fetch it with `python -m training fetch-openi`") from error


def normalise_image_id(image_id: str) -> str:
    """Return the metadata-table key of a ``<parentImage id>`` (drops an extra series number)."""
    return _EXTRA_SERIES.sub(r"\1_\2", image_id.strip())


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def parse_report_xml(data: bytes, source: str, views: dict[str, str] | None = None) -> ReportRecord:
    """Parse one Open-i report XML document.

    Parameters
    ----------
    data
        The file's bytes.
    source
        Its path or archive member name, used for the record id fallback and in messages.
    views
        Optional ``{image_id: view}`` table (see :func:`read_view_positions`).

    Raises
    ------
    ReportError
        When the bytes are not well-formed XML or not an Open-i report (no ``eCitation`` root).
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        raise ReportError(f"malformed XML ({error})", path=source,
                          hint="the file is damaged; re-fetch the archive or skip this report") from error
    if root.tag != "eCitation":
        raise ReportError(f"not an Open-i report (root element <{root.tag}>, expected <eCitation>)",
                          path=source, hint="pass NLMCXR_reports.tgz or its ecgen-radiology XML files")
    sections = {}
    for node in root.iter("AbstractText"):
        label = (node.get("Label") or "").strip().upper()
        if label:
            sections[label] = _clean("".join(node.itertext()))
    uid = root.find("uId")
    report_id = (uid.get("id") if uid is not None else None) or Path(source).stem
    image_ids = tuple(normalise_image_id(node.get("id")) for node in root.iter("parentImage") if node.get("id"))
    views = views or {}
    return ReportRecord(
        id=report_id.strip(),
        comparison=sections.get("COMPARISON", ""),
        indication=sections.get("INDICATION", ""),
        findings=sections.get("FINDINGS", ""),
        impression=sections.get("IMPRESSION", ""),
        mesh_major=tuple(_clean(n.text) for n in root.iterfind("MeSH/major") if _clean(n.text)),
        mesh_automatic=tuple(_clean(n.text) for n in root.iterfind("MeSH/automatic") if _clean(n.text)),
        image_ids=image_ids,
        view_positions={i: views[i] for i in image_ids if i in views},
        source=source,
    )


def _iter_xml_sources(path: Path) -> Iterator[tuple[str, bytes | ReportError]]:
    """Yield ``(source name, bytes or the error reading them)`` for each XML document under ``path``."""
    if not path.exists():
        raise ReportError("no such file or folder", path=path,
                          hint="pass NLMCXR_reports.tgz, a folder of report XML files or one XML file")
    if path.is_dir():
        for file in sorted(path.rglob("*.xml"), key=_natural_key):
            try:
                yield str(file), file.read_bytes()
            except OSError as error:
                yield str(file), ReportError(f"cannot read file ({error})", path=file)
    elif path.name.endswith((".tgz", ".tar.gz", ".tar")):
        try:
            with tarfile.open(path) as archive:
                members = sorted((m for m in archive.getmembers() if m.isfile() and m.name.endswith(".xml")),
                                 key=lambda m: _natural_key(Path(m.name)))
                for member in members:
                    handle = archive.extractfile(member)
                    yield f"{path}:{member.name}", handle.read() if handle else ReportError(
                        "archive member has no data", path=f"{path}:{member.name}")
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ReportError(f"cannot read archive ({error})", path=path, hint=_ARCHIVE_HINT) from error
    else:
        try:
            yield str(path), path.read_bytes()
        except OSError as error:
            yield str(path), ReportError(f"cannot read file ({error})", path=path)


def _natural_key(path: Path) -> tuple:
    """Sort ``2.xml`` before ``10.xml``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path)))


def _default_metadata(path: Path) -> Path | None:
    folder = path if path.is_dir() else path.parent
    for candidate in (folder / METADATA_CSV, folder.parent / METADATA_CSV):
        if candidate.is_file():
            return candidate
    return None


def read_reports(path: str | Path, metadata: str | Path | None = None
                 ) -> tuple[list[ReportRecord], list[ReportError]]:
    """Read every report in an archive, a folder of XML files or one XML file.

    Parameters
    ----------
    path
        ``NLMCXR_reports.tgz`` (or any ``.tgz``/``.tar.gz``/``.tar`` of XML files), a folder
        searched recursively for ``*.xml``, or one ``.xml`` file.
    metadata
        ``nlmcxr_dicom_metadata.csv.gz`` for the view positions; by default the file of that name
        beside ``path`` (or one folder up) is used when present, otherwise views are left empty.

    Returns
    -------
    records, errors
        Records in natural file order, and one :class:`ReportError` per file that could not be
        parsed (each names the file).

    Raises
    ------
    ReportError
        When ``path`` itself does not exist or the archive cannot be opened.
    """
    path = Path(path)
    metadata_path = Path(metadata) if metadata is not None else _default_metadata(path)
    views = read_view_positions(metadata_path) if metadata_path is not None else {}
    records: list[ReportRecord] = []
    errors: list[ReportError] = []
    for source, data in _iter_xml_sources(path):
        if isinstance(data, ReportError):
            errors.append(data)
            continue
        try:
            records.append(parse_report_xml(data, source, views))
        except ReportError as error:
            errors.append(error)
    for error in errors:
        logger.warning("skipped report: %s", error)
    return records, errors

