"""Similar-case archives on disk: hnswlib graphs, a case table and thumbnails, written atomically.

An *archive folder* holds one complete snapshot::

    index.json          format, dim, space, M, ef_construction, ef, counts, model identity, files
    image.hnsw, text.hnsw, joint.hnsw   hnswlib graphs (cosine); hnswlib label = case table row
    cases.json.gz       the case table (one JSON object per case, row order)
    thumbnails.npz      JPEG thumbnails: ``jpeg`` (all bytes, uint8) + ``offsets`` (count + 1), no pickle

The pack's ``index/`` is one archive folder (its files are also listed in the pack manifest).
A *user index* is a root folder whose ``CURRENT`` file names the live snapshot, ``gen-NNNNNN/``.
:func:`commit_generation` writes a new snapshot into a temporary folder, fsyncs every file, renames
the folder into place and only then replaces ``CURRENT`` with :func:`os.replace`; a crash at any
point leaves ``CURRENT`` naming a complete, loadable snapshot. Snapshots not named by ``CURRENT``
are removed by the next writer. Writers serialise their read-modify-write of a snapshot with
:func:`writer_lock` (an OS file lock on ``writer.lock``, released by the OS when a writer dies);
readers need no lock.
"""
from __future__ import annotations

import gzip
import io
import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from engine.checksums import sha256_file
from engine.errors import SimilarIndexError

log = logging.getLogger(__name__)

FORMAT = "cxr-lens-similar"
FORMAT_VERSION = 1
MODES = ("image", "text", "joint")
META = "index.json"
CASES = "cases.json.gz"
THUMBNAILS = "thumbnails.npz"
CURRENT = "CURRENT"
LOCK = "writer.lock"
GENERATION_PREFIX = "gen-"
# Test hook: when set to a file path, a writer creates that file after writing the first file of a
# new snapshot and then sleeps, so a test can kill it mid-write (tests/cli/test_similar.py).
PAUSE_ENV = "CXR_LENS_TEST_PAUSE_MID_WRITE"


def graph_file(mode: str) -> str:
    """File name of the hnswlib graph for ``mode``."""
    return f"{mode}.hnsw"


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)


def _pause_for_test(marker_dir: Path) -> None:
    marker = os.environ.get(PAUSE_ENV)
    if marker:
        Path(marker).write_text(str(marker_dir), encoding="utf-8")
        log.warning("%s is set: pausing mid-write for a test", PAUSE_ENV)
        time.sleep(3600)


def write_archive_folder(folder: Path, meta: dict, graphs: dict, cases: list[dict],
                         thumbnails: list[bytes]) -> dict:
    """Write one complete archive into ``folder`` (which must be new or empty); fsync every file.

    Parameters
    ----------
    folder
        Destination; created.
    meta
        Everything for index.json except ``files`` (filled in here).
    graphs
        ``{mode: hnswlib.Index}``; modes with no cases may be absent.
    cases
        The case table, one dict per row.
    thumbnails
        One encoded (JPEG) thumbnail per case.

    Returns
    -------
    dict
        The metadata written to index.json.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for mode, graph in graphs.items():
        path = folder / graph_file(mode)
        graph.save_index(str(path))
        written.append(path)
        if len(written) == 1:
            _fsync_file(path)
            _pause_for_test(folder)
    payload = json.dumps(cases, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    (folder / CASES).write_bytes(gzip.compress(payload, compresslevel=6, mtime=0))
    buffer = io.BytesIO()
    offsets = np.concatenate([[0], np.cumsum([len(blob) for blob in thumbnails])]).astype(np.int64)
    np.savez(buffer, jpeg=np.frombuffer(b"".join(thumbnails), dtype=np.uint8), offsets=offsets)
    (folder / THUMBNAILS).write_bytes(buffer.getvalue())
    written += [folder / CASES, folder / THUMBNAILS]
    files = {}
    for path in written:
        _fsync_file(path)
        files[path.name] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION, files=files)
    meta_path = folder / META
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    _fsync_file(meta_path)
    _fsync_dir(folder)
    return meta


def read_archive_folder(folder: Path, verify: bool = True) -> tuple[dict, list[dict], list[bytes]]:
    """Read index.json, the case table and the thumbnails of an archive folder.

    With ``verify`` every file's size and sha256 are checked against index.json before anything is
    parsed (a truncated hnswlib file must never reach hnswlib). Graph files are loaded by the caller.

    Raises
    ------
    SimilarIndexError
        When a file is missing, damaged, or of an unknown format.
    """
    meta_path = folder / META
    if not meta_path.is_file():
        raise SimilarIndexError("index.json is missing; this is not a similar-case index", path=folder,
                                hint="rebuild it (`python -m training index` for a pack, "
                                     "`cxr-lens index add` for your own studies)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SimilarIndexError(f"index.json is not valid JSON ({error})", path=meta_path,
                                hint="the index is damaged; rebuild it") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SimilarIndexError("index.json does not describe a CXR Lens similar-case index", path=meta_path)
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise SimilarIndexError(f"index format {meta.get('format_version')} is newer than this program reads "
                                f"({FORMAT_VERSION})", path=meta_path, hint="update CXR Lens")
    for name, entry in meta.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            raise SimilarIndexError(f"{name} is missing", path=folder, hint="the index is incomplete; rebuild it")
        if verify and (path.stat().st_size != entry.get("bytes") or sha256_file(path) != entry.get("sha256")):
            raise SimilarIndexError(f"{name} does not match its size or sha256 in index.json (damaged)",
                                    path=path, hint="rebuild the index")
    try:
        cases = json.loads(gzip.decompress((folder / CASES).read_bytes()).decode("utf-8"))
        with np.load(folder / THUMBNAILS, allow_pickle=False) as data:
            blob, offsets = data["jpeg"].tobytes(), data["offsets"]
        thumbnails = [blob[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    except (OSError, EOFError, KeyError, ValueError) as error:
        raise SimilarIndexError(f"cannot read the case table or thumbnails ({error})", path=folder,
                                hint="the index is damaged; rebuild it") from error
    if len(cases) != meta.get("count") or len(thumbnails) != len(cases):
        raise SimilarIndexError(f"the case table has {len(cases)} rows and {len(thumbnails)} thumbnails, "
                                f"index.json says {meta.get('count')}", path=folder, hint="rebuild the index")
    return meta, cases, thumbnails


def current_generation(root: Path) -> Path | None:
    """Return the live snapshot folder of a user index root, or None when the root has none yet.

    Raises
    ------
    SimilarIndexError
        When ``CURRENT`` names a folder that does not exist.
    """
    pointer = root / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    folder = root / name
    if not name.startswith(GENERATION_PREFIX) or not folder.is_dir():
        raise SimilarIndexError(f"CURRENT names {name!r}, which is not a snapshot folder here", path=root,
                                hint="delete this user index folder and run `cxr-lens index add` again")
    return folder


@contextmanager
def writer_lock(root: Path, timeout_s: float = 900.0):
    """Hold the user index's writer lock for a read-modify-write of its snapshot.

    Two writers (two ``cxr-lens index add`` runs, the viewer and a scan) that each read the live
    snapshot, add cases and commit would otherwise keep only the last one's cases.

    Parameters
    ----------
    root
        The user index root (created when missing).
    timeout_s
        Seconds to wait for another writer before giving up.

    Raises
    ------
    SimilarIndexError
        When another writer holds the lock for longer than ``timeout_s``.
    """
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(root / LOCK))
    try:
        lock.acquire(timeout=timeout_s)
    except Timeout as error:
        raise SimilarIndexError(f"another writer has held the index's {LOCK} for {timeout_s:.0f} s", path=root,
                                hint="wait until the other `cxr-lens index add` (or the viewer's add) "
                                     "finishes, then run it again") from error
    try:
        yield
    finally:
        lock.release()


def commit_generation(root: Path, write) -> Path:
    """Write a new snapshot of a user index with ``write(folder)`` and make it the live one atomically.

    Parameters
    ----------
    root
        The user index root (created when missing).
    write
        A callable that writes a complete archive into the folder it is given.

    Returns
    -------
    Path
        The new live snapshot folder.

    Call it while holding :func:`writer_lock`, with ``write`` built from the snapshot read under
    the same lock.
    """
    root.mkdir(parents=True, exist_ok=True)
    live = current_generation(root)
    number = int(live.name[len(GENERATION_PREFIX):]) + 1 if live is not None else 1
    name = f"{GENERATION_PREFIX}{number:06d}"
    staging = root / f".{name}.tmp-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    write(staging)
    final = root / name
    if final.exists():  # left by a writer killed after its rename, before CURRENT moved
        shutil.rmtree(final)
    os.replace(staging, final)
    _fsync_dir(root)
    pointer_tmp = root / f".{CURRENT}.tmp-{os.getpid()}"
    with open(pointer_tmp, "w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer_tmp, root / CURRENT)
    _fsync_dir(root)
    remove_stale(root)
    return final


def remove_stale(root: Path) -> list[str]:
    """Delete snapshot folders and temporary files that ``CURRENT`` does not name; return their names."""
    live = current_generation(root)
    removed = []
    for entry in root.iterdir():
        stale_snapshot = entry.name.startswith(GENERATION_PREFIX) and (live is None or entry != live)
        leftover = entry.name.startswith(".") and ".tmp-" in entry.name
        if stale_snapshot or leftover:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.name)
    if removed:
        log.info("removed stale index files in %s: %s", root, ", ".join(sorted(removed)))
    return removed
