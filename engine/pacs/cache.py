"""Local cache of retrieved studies: atomic per instance, resumable, bounded with LRU eviction.

Layout: ``ROOT/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``. Every instance is
written to a hidden ``.part`` file in its series folder and renamed into place only once complete
and checked, so a killed or failed transfer never leaves a half-written ``.dcm`` (left-over
``.part`` files are removed at the next retrieval). Files are not fsync'ed: the rename makes a
crash of the program safe, and a cache lost to a power cut is fetched again (fsync per instance
cost a third of the pull throughput, bench/pacs.py). A study folder's ``.last_used`` file's
modification time orders eviction: when the cache exceeds its size limit, the least recently used
studies are deleted first (never the one being retrieved).
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from io import BytesIO
from pathlib import Path

from engine.errors import PacsError

log = logging.getLogger(__name__)

STAMP = ".last_used"
PART_SUFFIX = ".part"


def default_cache_dir() -> Path:
    """``$CXR_LENS_PACS_CACHE``, else ``~/.cache/cxr-lens/pacs`` (``$XDG_CACHE_HOME`` respected)."""
    if os.environ.get("CXR_LENS_PACS_CACHE"):
        return Path(os.environ["CXR_LENS_PACS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cxr-lens" / "pacs"


def check_instance(dataset, source: str) -> None:
    """Raise PacsError when an instance lacks its UIDs or its native pixel data is shorter than its header says.

    Parameters
    ----------
    dataset
        A pydicom Dataset as received.
    source
        The server, for the message.
    """
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        if not dataset.get(keyword):
            raise PacsError(f"{source} sent an instance without {keyword}",
                            hint="the object is damaged on the server; ask its administrator to check it")
    if "PixelData" not in dataset or getattr(dataset.file_meta, "TransferSyntaxUID", None) is None or \
            dataset.file_meta.TransferSyntaxUID.is_compressed:
        return
    rows, cols = int(dataset.get("Rows", 0)), int(dataset.get("Columns", 0))
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    expected = rows * cols * frames * int(dataset.get("SamplesPerPixel", 1)) * int(dataset.get("BitsAllocated", 16)) // 8
    if len(dataset.PixelData) < expected:
        raise PacsError(f"{source} sent a corrupt instance {dataset.SOPInstanceUID}: pixel data "
                        f"{len(dataset.PixelData)} of {expected} bytes",
                        hint="the object is damaged on the server; it was not cached — ask its administrator to check it")


class StudyCache:
    """A folder of retrieved studies with a size limit.

    Parameters
    ----------
    root
        The cache folder (created when missing).
    max_bytes
        Size limit in bytes (None: unbounded); enforced by :meth:`evict` after each retrieval.
    """

    def __init__(self, root: str | Path, max_bytes: int | None = None):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def study_dir(self, study_uid: str) -> Path:
        """Folder of one study (it may not exist yet)."""
        return self.root / _safe(study_uid)

    def instance_path(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        """Where one instance is (or will be) cached."""
        return self.study_dir(study_uid) / _safe(series_uid) / f"{_safe(sop_uid)}.dcm"

    def has(self, study_uid: str, series_uid: str, sop_uid: str) -> bool:
        """True when the instance is already complete in the cache."""
        return self.instance_path(study_uid, series_uid, sop_uid).is_file()

    def begin(self, study_uid: str) -> Path:
        """Prepare a retrieval: remove left-over ``.part`` files, mark the study used; return its folder."""
        folder = self.study_dir(study_uid)
        folder.mkdir(parents=True, exist_ok=True)
        for part in folder.rglob(f"*{PART_SUFFIX}"):
            part.unlink(missing_ok=True)
        self.touch(study_uid)
        return folder

    def touch(self, study_uid: str) -> None:
        """Mark a study as just used (LRU order)."""
        stamp = self.study_dir(study_uid) / STAMP
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()
        os.utime(stamp, (time.time(), time.time()))

    def store_dataset(self, dataset, source: str) -> Path:
        """Check a received dataset and write it atomically; return its cached path."""
        check_instance(dataset, source)
        buffer = BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        return self.store_bytes(str(dataset.StudyInstanceUID), str(dataset.SeriesInstanceUID),
                                str(dataset.SOPInstanceUID), buffer.getvalue())

    def store_bytes(self, study_uid: str, series_uid: str, sop_uid: str, data: bytes) -> Path:
        """Write one instance's file bytes atomically (temporary ``.part`` file, then rename)."""
        target = self.instance_path(study_uid, series_uid, sop_uid)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.{os.getpid()}{PART_SUFFIX}")
        try:
            with open(part, "wb") as handle:
                handle.write(data)
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
        return target

    def size_bytes(self) -> int:
        """Total size of the cached files in bytes."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def evict(self, keep: str | None = None) -> list[str]:
        """Delete least recently used studies until the cache fits ``max_bytes``; return their UIDs.

        ``keep`` (a Study Instance UID) is never evicted, even if it alone exceeds the limit.
        """
        if self.max_bytes is None:
            return []
        studies = []
        for folder in (p for p in self.root.iterdir() if p.is_dir()):
            stamp = folder / STAMP
            used = stamp.stat().st_mtime if stamp.exists() else folder.stat().st_mtime
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            studies.append((used, folder, size))
        total = sum(size for _, _, size in studies)
        evicted = []
        for _, folder, size in sorted(studies, key=lambda item: item[0]):
            if total <= self.max_bytes:
                break
            if keep is not None and folder.name == _safe(keep):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            total -= size
            evicted.append(folder.name)
            log.info("PACS cache: evicted study %s (%d bytes) to stay under %d bytes", folder.name, size,
                     self.max_bytes)
        return evicted


def _safe(uid: str) -> str:
    """A UID as a folder name; anything but digits and dots is refused (UIDs come from the network)."""
    uid = str(uid).strip()
    if not uid or any(c not in "0123456789." for c in uid):
        raise PacsError(f"refusing to cache an object with the malformed UID {uid!r}",
                        hint="a DICOM UID has only digits and dots; check the server's data")
    return uid


class PullProgress:
    """Where a retrieval stands (yielded after each instance).

    Attributes
    ----------
    study_uid
        The study being retrieved.
    done, total
        Instances handled (received or already cached) out of the study's total (0 when unknown).
    skipped
        Instances that were already in the cache (resumed transfers skip them).
    received_bytes
        Bytes written to the cache so far in this retrieval.
    path
        The instance just handled.
    """

    __slots__ = ("study_uid", "done", "total", "skipped", "received_bytes", "path")

    def __init__(self, study_uid: str, done: int, total: int, skipped: int, received_bytes: int, path: str):
        self.study_uid, self.done, self.total = study_uid, done, total
        self.skipped, self.received_bytes, self.path = skipped, received_bytes, path

    @property
    def message(self) -> str:
        """One line for a progress bar."""
        return f"{self.done}/{self.total} instance(s), {self.received_bytes / 1e6:.1f} MB received"

    def __repr__(self) -> str:
        return (f"PullProgress({self.study_uid}, {self.done}/{self.total}, skipped={self.skipped}, "
                f"bytes={self.received_bytes})")
