"""Paired image + report records for training, and their preprocessed uint8 cache.

The manifest is the paired set's CSV (one row per image): an id, the image path (relative to the
CSV's folder or absolute), the split, the view, the report text (a column, or a sidecar text file),
and one 0/1 column per label (or a ``labels`` column of ``;``-separated names). An empty label cell
is **missing** (NaN: the dataset does not say; losses and metrics skip it); a label without a
column is 0, as before (``python -m training manifest`` writes every column). Images are put
through the same pure functions as inference (``engine.images.display.display_float`` →
``engine.model.preprocess.resize_letterbox``) once, and kept as a uint8 ``.npy`` memmap.
"""
from __future__ import annotations

import contextlib
import csv
import functools
import json
import logging
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import EngineError
from engine.reports.labels import LABEL_NAMES
from engine.model.preprocess import PreprocessParams, canvas_to_uint8, resize_letterbox

log = logging.getLogger(__name__)

FRONTAL_VIEWS = {"PA", "AP", "FRONTAL", ""}
_PATH_COLUMNS = ("image_path", "path", "image", "file", "dicom")
_TEXT_COLUMNS = ("report", "text", "report_text")
_TEXT_PATH_COLUMNS = ("report_path", "text_path", "report_file")


@dataclass(frozen=True)
class Record:
    """One training image with its study's report and labels (``labels``: float32 (L,), 1 = present, NaN = missing)."""

    id: str
    study_id: str
    image_path: Path
    text: str
    labels: np.ndarray
    split: str
    view: str
    mask_path: Path | None = None


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _first(row: dict, names: tuple[str, ...]) -> str | None:
    for name in names:
        if row.get(name):
            return row[name]
    return None


def _labels_from_row(row: dict, columns: dict[str, str], label_names: tuple[str, ...]) -> np.ndarray:
    vector = np.zeros(len(label_names), dtype=np.float32)
    if columns:
        for i, name in enumerate(label_names):
            value = (row.get(columns[name], "") or "").strip().lower() if name in columns else "0"
            vector[i] = np.nan if not value else 1.0 if value in ("1", "1.0", "true", "positive", "yes") else 0.0
    else:
        raw = row.get("labels", "") or ""
        names = json.loads(raw) if raw.startswith(("[", "{")) else [n for n in raw.split(";") if n.strip()]
        if isinstance(names, dict):
            names = [n for n, v in names.items() if v in (1, "positive", True)]
        wanted = {_key(n) for n in names}
        vector[:] = [1.0 if _key(name) in wanted else 0.0 for name in label_names]
    return vector


def read_records(manifest_csv: str | Path, label_names: tuple[str, ...] = LABEL_NAMES,
                 frontal_only: bool = True) -> list[Record]:
    """Read the paired set's manifest CSV into :class:`Record` objects (frontal views by default)."""
    path = Path(manifest_csv)
    if not path.is_file():
        raise EngineError("paired-set manifest not found", path=path,
                          hint="build the paired set first (python -m training synth …) or give --manifest")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise EngineError("the manifest has no rows", path=path)
    header = {_key(c): c for c in rows[0]}
    columns = {name: header[_key(name)] for name in label_names if _key(name) in header}
    records = []
    for row in rows:
        view = (row.get("view") or row.get("view_position") or "").strip().upper()
        if frontal_only and view not in FRONTAL_VIEWS:
            continue
        image = _first(row, _PATH_COLUMNS)
        if image is None:
            raise EngineError(f"row {row} has no image path column ({', '.join(_PATH_COLUMNS)})", path=path)
        image_path = Path(image) if Path(image).is_absolute() else path.parent / image
        text = _first(row, _TEXT_COLUMNS)
        if text is None and (text_path := _first(row, _TEXT_PATH_COLUMNS)):
            full = Path(text_path) if Path(text_path).is_absolute() else path.parent / text_path
            text = full.read_text(encoding="utf-8")
        study = row.get("study_id") or row.get("report_id") or row.get("id") or image_path.stem
        mask = row.get("mask_path") or ""
        mask_path = (Path(mask) if Path(mask).is_absolute() else path.parent / mask) if mask else None
        records.append(Record(row.get("id") or image_path.stem, study, image_path, text or "",
                              _labels_from_row(row, columns, label_names),
                              (row.get("split") or "train").strip().lower(), view, mask_path))
    log.info("%d records from %s (%d label columns found)", len(records), path, len(columns))
    return records


def load_canvas(image_path: Path, params: PreprocessParams) -> np.ndarray:
    """Read one image file through the display pipeline and letterbox it; uint8 ``(size, size)``."""
    from engine.images.read import read_image
    from engine.images.display import display_float

    canvas, _ = resize_letterbox(display_float(read_image(image_path)), params.size, params.pad_value)
    return canvas_to_uint8(canvas)


def build_cache(records: list[Record], params: PreprocessParams, cache_file: str | Path,
                progress=None, workers: int = 1) -> np.ndarray:
    """Return a uint8 ``(n, size, size)`` memmap of the records' canvases, building it if absent.

    The cache file name should encode the size (e.g. ``train_224.npy``); a cache with another
    shape is rebuilt. ``workers`` > 1 decodes images in that many processes (spawned, so they
    inherit no torch/OpenMP state); a 1024-px PNG takes tens of milliseconds to decode, so a
    100,000-image set wants them.
    """
    from numpy.lib.format import open_memmap

    path = Path(cache_file)
    shape = (len(records), params.size, params.size)
    if path.is_file():
        cached = np.load(path, mmap_mode="r")
        if cached.shape == shape:
            return cached
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.npy")
    array = open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
    paths = [r.image_path for r in records]
    with contextlib.ExitStack() as stack:
        if workers > 1:
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers))
            canvases = pool.imap(functools.partial(load_canvas, params=params), paths, chunksize=8)
        else:
            canvases = (load_canvas(p, params) for p in paths)
        iterator = canvases if progress is None else progress(canvases, f"cache {path.name}", len(paths))
        for i, canvas in enumerate(iterator):
            array[i] = canvas
    array.flush()
    del array
    tmp.replace(path)
    return np.load(path, mmap_mode="r")


MASK_UNKNOWN = 255


def load_mask_grid(record: Record, params: PreprocessParams, grid: int, label_names: tuple[str, ...]) -> np.ndarray:
    """Return uint8 ``(labels, grid, grid)`` lesion targets on the model's token grid.

    1 where a cell of the letterboxed canvas touches the label's mask, 0 elsewhere; every cell is
    :data:`MASK_UNKNOWN` for a positive label without a mask (unmasked findings), and for every
    label of an image without a mask file (real images): the mask loss skips them.
    """
    target = np.zeros((len(label_names), grid, grid), dtype=np.uint8)
    if record.mask_path is None or not record.mask_path.is_file():
        target[:] = MASK_UNKNOWN   # no mask file: nothing is known about where lesions are (not "no lesion")
        return target
    with np.load(record.mask_path, allow_pickle=False) as data:
        masks = {name: data[name] for name in data.files}
    cell = params.size // grid
    for j, name in enumerate(label_names):
        if name in masks and masks[name].any():
            canvas, _ = resize_letterbox(masks[name].astype(np.float32), params.size, 0.0)
            blocks = canvas[:grid * cell, :grid * cell].reshape(grid, cell, grid, cell).max(axis=(1, 3))
            target[j] = blocks > 0.05
        elif record.labels[j] > 0.5:
            target[j] = MASK_UNKNOWN
    return target


def build_mask_cache(records: list[Record], params: PreprocessParams, grid: int, label_names: tuple[str, ...],
                     cache_file: str | Path) -> np.ndarray:
    """Return (building if absent) the uint8 ``(n, labels, grid, grid)`` lesion-target cache."""
    path = Path(cache_file)
    shape = (len(records), len(label_names), grid, grid)
    if path.is_file():
        cached = np.load(path)
        if cached.shape == shape:
            return cached
    array = np.stack([load_mask_grid(r, params, grid, label_names) for r in records]) if records \
        else np.zeros(shape, np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array)
    return array
