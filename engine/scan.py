"""Headless batch scan of a folder: gate + findings for every image, resumable, failures recorded.

``scan_folder`` is a generator that yields :class:`ScanProgress` after each image, so front ends
can show progress and stop early. Results are appended to ``OUT/results.jsonl`` (one line per
image, flushed as it goes, so a killed scan loses nothing) and failures to ``OUT/errors.jsonl``;
``OUT/summary.csv`` is rewritten at the end from all results. With ``resume=True`` images already in
``results.jsonl`` are skipped and failed ones tried again. The Ray engine (:mod:`engine.scan_ray`)
writes through the same :func:`prepare_out_dir`, :func:`write_record` and :func:`write_summary`.
"""
from __future__ import annotations

import csv
import json
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from engine.images.read import read_path
from engine.errors import EngineError
from engine.triage import write_worklist

log = logging.getLogger(__name__)

RESULTS, ERRORS, SUMMARY = "results.jsonl", "errors.jsonl", "summary.csv"
REPORT_NAMES = ("report.txt",)


@dataclass(frozen=True)
class ScanProgress:
    """Where a scan stands: images done (including skipped and failed) out of ``total``."""

    done: int
    total: int
    failed: int
    skipped: int
    path: str
    message: str


def sidecar_report(image_path: Path) -> str | None:
    """Return the report text kept beside an image (``<stem>.txt`` or ``report.txt``), if any."""
    for candidate in (image_path.with_suffix(".txt"), *(image_path.parent / n for n in REPORT_NAMES)):
        if candidate.is_file() and candidate != image_path:
            return candidate.read_text(encoding="utf-8", errors="replace")
    return None


def _done_paths(out_dir: Path) -> set[str]:
    """Paths already in ``results.jsonl``; a last line cut short by a kill is dropped from the file."""
    path = out_dir / RESULTS
    if not path.exists():
        return set()
    kept, done = [], set()
    for line in path.read_text().splitlines():
        try:
            done.add(json.loads(line)["path"])
            kept.append(line)
        except (json.JSONDecodeError, KeyError):
            log.warning("%s: dropping an incomplete result line; that image is scanned again", path)
    path.write_text("".join(line + "\n" for line in kept))
    return done


_WORKER_PREDICTOR = None


def _init_worker(pack, threads: int) -> None:
    """Build this process's predictor from a loaded pack or a pack folder (worker processes)."""
    global _WORKER_PREDICTOR  # one predictor per worker process, built once
    from engine.predict import Predictor

    _WORKER_PREDICTOR = Predictor(pack, threads=threads)


def _predict_one(path: str, use_reports: bool) -> dict:
    """Predict one image file in a worker; returns a result or an error record (never raises)."""
    from engine.images.read import read_image

    start = time.perf_counter()
    try:
        image = read_image(path)
    except EngineError as error:
        return {"path": path, "error": str(error)}
    return predict_record(_WORKER_PREDICTOR, image, sidecar_report(Path(path)) if use_reports else None, start)


def predict_record(predictor, image, report: str | None, start: float) -> dict:
    """The scan record of one read image: its prediction, or an ``error`` record (never raises).

    ``start`` is the :func:`time.perf_counter` value when work on the file began (for
    ``timing_ms.file_total``). Used by the local workers and the Ray actors alike.
    """
    path = str(image.path)
    try:
        prediction = predictor.predict(image, report=report)
    except EngineError as error:
        return {"path": path, "error": str(error)}
    record = {"path": path, "sop_uid": image.sop_uid, "study_uid": image.study_uid,
              "with_report": report is not None, **prediction.to_dict()}
    record["timing_ms"]["file_total"] = round((time.perf_counter() - start) * 1000, 2)
    return record


def write_summary(out_dir: Path, label_names: tuple[str, ...]) -> Path:
    """Rewrite ``summary.csv`` from ``results.jsonl``: one row per image (sorted by path), probabilities per label.

    Sorted, so the file is the same whatever order workers or actors finished in. Only each line's
    path and byte offset are held in memory (about 100 bytes per image), not the records.
    """
    source = out_dir / RESULTS
    index = []
    if source.exists():
        with open(source, "rb") as handle:
            for offset, line in _lines_with_offsets(handle):
                try:
                    index.append((json.loads(line)["path"], offset))
                except (json.JSONDecodeError, KeyError):
                    continue
    index.sort()
    target = out_dir / SUMMARY
    with open(target, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "mode", "gate_status", "gate_issues", "positive", *label_names])
        if not index:
            return target
        with open(source, "rb") as results:
            for _, offset in index:
                results.seek(offset)
                row = json.loads(results.readline())
                probs = {f["name"]: f["probability"] for f in row.get("findings", [])}
                gate = row.get("gate") or {}
                writer.writerow([row["path"], row.get("mode"), gate.get("status", ""),
                                 "; ".join(i.get("code", "") for i in gate.get("issues", [])),
                                 "; ".join(row.get("positive", [])), *(probs.get(n, "") for n in label_names)])
    return target


def _lines_with_offsets(handle) -> Iterator[tuple[int, bytes]]:
    """``(byte offset, line)`` for each line of a file opened in binary mode."""
    offset = handle.tell()
    for line in handle:
        yield offset, line
        offset += len(line)


def prepare_out_dir(out_dir: Path, resume: bool) -> set[str]:
    """Create ``out_dir`` and return the paths already done there (none unless ``resume``).

    Without ``resume`` earlier results are removed; ``errors.jsonl`` is always started afresh,
    because files that failed are tried again on resume.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    done_paths = _done_paths(out_dir) if resume else set()
    for name in ((ERRORS,) if resume else (RESULTS, ERRORS)):
        (out_dir / name).unlink(missing_ok=True)
    return done_paths


def write_record(record: dict, results, errors, dicom=None) -> str:
    """Write one image's record (a result, or an ``error`` record) to the open output files.

    This is the one place a prediction record becomes scan output, for the local and the Ray engine.
    ``dicom`` (an :class:`engine.dicom_results.scan_output.ScanDicomWriter`, or None) also writes the
    result's DICOM SR/SEG. Returns the progress message for it.
    """
    if "error" in record:
        errors.write(json.dumps(record) + "\n")
        errors.flush()
        return record["error"]
    results.write(json.dumps(record) + "\n")
    results.flush()
    note = dicom.write(record) if dicom is not None else ""
    return (", ".join(record["positive"]) or ("refused by the gate" if record["mode"] == "none"
                                              else "no finding above threshold")) + note


def scan_folder(folder: str | Path, out_dir: str | Path, pack_dir: str | Path, resume: bool = False,
                workers: int = 1, use_reports: bool = True, dicom=None) -> Iterator[ScanProgress]:
    """Scan every image under ``folder`` with the pack in ``pack_dir``; yield progress per image.

    Files that cannot be read are recorded in ``errors.jsonl`` with their reason and the scan goes
    on. ``workers`` processes each load the pack once and run torch on one thread (measured: two
    intra-op threads ran 10–15× slower than one when other processes shared the cores); use
    ``workers=2`` on two cores for throughput. On resume, a first progress says how many images
    were already done. ``dicom`` is passed to :func:`write_record` (DICOM SR/SEG per result).
    """
    from engine.model.pack import load_pack

    folder, out_dir = Path(folder), Path(out_dir)
    pack = load_pack(pack_dir)  # verify before any work: a refused pack stops the scan here
    found = read_path(folder)
    done_paths = prepare_out_dir(out_dir, resume)
    todo = [str(image.path) for image in found.images if str(image.path) not in done_paths]
    total = len(found.images) + len(found.errors)
    skipped, failed, done = len(found.images) - len(todo), 0, 0
    if skipped:
        yield ScanProgress(skipped, total, 0, skipped, str(folder), f"{skipped} of {total} already done")
    with open(out_dir / ERRORS, "a") as errors:
        for error in found.errors:
            errors.write(json.dumps({"path": str(error.path), "error": error.reason}) + "\n")
            failed += 1
            done += 1
            yield ScanProgress(done + skipped, total, failed, skipped, str(error.path), error.reason)
    threads = 1
    if workers <= 1:
        _init_worker(pack, threads)  # in this process: the pack loaded (and self-tested) above
        records = (_predict_one(path, use_reports) for path in todo)
        yield from _write_records(records, out_dir, done, skipped, failed, total, dicom)
    else:
        # spawn, not fork: this process already ran torch (the pack's selftest), and a forked child
        # inherits OpenMP's thread pool in a state it cannot use (the workers slept forever).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                 initargs=(str(pack.path), threads)) as pool:
            records = pool.map(_predict_one, todo, [use_reports] * len(todo), chunksize=4)
            yield from _write_records(records, out_dir, done, skipped, failed, total, dicom)
    write_summary(out_dir, pack.label_names)
    write_worklist(out_dir)  # worklist.csv: studies by urgency (engine.triage)


def _write_records(records, out_dir: Path, done: int, skipped: int, failed: int,
                   total: int, dicom=None) -> Iterator[ScanProgress]:
    with open(out_dir / RESULTS, "a") as results, open(out_dir / ERRORS, "a") as errors:
        for record in records:
            done += 1
            failed += "error" in record
            message = write_record(record, results, errors, dicom)
            yield ScanProgress(done + skipped, total, failed, skipped, record["path"], message)
