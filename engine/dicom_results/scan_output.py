"""DICOM results for a scan: an SR per image (and heatmap Segmentations) under ``OUT/dicom/``.

:class:`ScanDicomWriter` is handed every scan record as it is written (``engine.scan.write_record``,
the one place records become output, for the local and the Ray engine alike). For a DICOM input it
writes ``OUT/dicom/<SOP Instance UID>.sr.dcm`` and, with heatmaps asked for, one
``<SOP Instance UID>.<method>.seg.dcm``; file names and UIDs depend only on the image, the pack and
the method, so a re-run replaces its files. PNG/JPEG inputs get no object (there is nothing to
reference). Every image gets a line in ``OUT/dicom/index.jsonl`` saying what was written, or why not.

The objects are written in the scan's own thread, as each record is written, from templates
(``engine.dicom_results.template``): a few ms per SR once the first image of its kind built one, so
writing them in the worker processes would save little and build every template once per worker.
Before templates, a background thread was tried and measured slower: highdicom is pure Python, and
the thread's hold on the GIL stalled the model's many short releases of it (bench/dicom_results.py).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from engine.dicom_results.seg import write_heatmap_seg
from engine.dicom_results.source import Algorithm, read_source
from engine.dicom_results.sr import write_sr
from engine.errors import EngineError
from engine.images.read import read_image, sniff_kind

log = logging.getLogger(__name__)

DICOM_DIR, INDEX = "dicom", "index.jsonl"
NOT_DICOM = "no DICOM result: the input is not DICOM (PNG/JPEG), so there is nothing to reference"


def heatmap_labels(spec: str | None, label_names: tuple[str, ...]) -> tuple[str, ...] | str | None:
    """Parse ``--heatmaps``: None, ``"positive"``, or comma-separated label names (checked).

    Raises
    ------
    KeyError
        A name is not a label of the pack (the message lists the valid ones).
    """
    if not spec:
        return None
    if spec.strip().lower() == "positive":
        return "positive"
    names = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        match = [n for n in label_names if n.lower().replace(" ", "") == part.lower().replace(" ", "")]
        if not match:
            raise KeyError(f"unknown label {part!r}; valid labels: {', '.join(label_names)}")
        names.append(match[0])
    return tuple(names)


class ScanDicomWriter:
    """Writes the DICOM results of scan records under ``out_dir / "dicom"``.

    Parameters
    ----------
    out_dir
        The scan's output folder.
    pack_dir
        The pack folder the scan runs (its identity goes into every object; it is loaded here only
        for heatmaps).
    heatmaps
        None (no heatmaps), ``"positive"`` (every positive finding) or label names.
    method
        Heatmap method (``engine.explain.heatmap.METHODS``), e.g. ``gradcam``.
    resume
        Keep the index of an earlier run (a resumed scan); otherwise it is started afresh.
    """

    def __init__(self, out_dir: str | Path, pack_dir: str | Path, heatmaps: tuple[str, ...] | str | None = None,
                 method: str = "gradcam", resume: bool = False):
        self.folder = Path(out_dir) / DICOM_DIR
        self.folder.mkdir(parents=True, exist_ok=True)
        if not resume:
            (self.folder / INDEX).unlink(missing_ok=True)
        self.pack_dir = Path(pack_dir)
        self.algorithm = Algorithm.from_pack_dir(pack_dir)
        self.heatmaps = heatmaps
        self.method = method
        self._predictor = None

    def write(self, record: dict) -> str:
        """Write the objects of one result record; return a note for the progress message ("" if all went well)."""
        entry = {"path": record["path"], "sr": None, "seg": None, "note": ""}
        try:
            if sniff_kind(Path(record["path"])) == "raster":
                entry["note"] = NOT_DICOM
            else:
                self._write_objects(record, entry)
        except (EngineError, ValueError, TypeError, OSError) as error:  # the scan goes on; the index says why
            entry["note"] = f"no DICOM result: {error}"
            log.warning("%s: %s", record["path"], entry["note"])
        with open(self.folder / INDEX, "a") as index:
            index.write(json.dumps(entry) + "\n")
        return f"; {entry['note']}" if entry["note"] else ""

    def _write_objects(self, record: dict, entry: dict) -> None:
        stem = record.get("sop_uid") or Path(record["path"]).stem
        source = read_source(record["path"])  # one header read for the SR and the SEG
        entry["sr"] = str(write_sr(source, record, self.algorithm, self.folder / f"{stem}.sr.dcm"))
        labels = self._labels_for(record)
        if labels:
            maps = self.heatmaps_for(record["path"], labels)
            entry["seg"] = str(write_heatmap_seg(source, maps, self.method, self.algorithm,
                                                 self.folder / f"{stem}.{self.method}.seg.dcm"))

    def _labels_for(self, record: dict) -> tuple[str, ...]:
        if self.heatmaps is None or record.get("mode") in ("none", "text"):
            return ()  # refused by the gate, or image findings withheld: no image to explain
        return tuple(record.get("positive", ())) if self.heatmaps == "positive" else tuple(self.heatmaps)

    def heatmaps_for(self, path: str, labels: tuple[str, ...]) -> dict:
        """Image-input heatmaps on the image's own pixel grid, one per label."""
        from engine.explain.heatmap import Heatmap, explain_steps
        from engine.images.display import display_float
        from engine.predict import Predictor

        if self._predictor is None:  # the scan's model may live in worker processes: load the pack here
            self._predictor = Predictor(self.pack_dir, threads=1)
        image01 = display_float(read_image(path))
        maps = {}
        for label in labels:
            for item in explain_steps(self._predictor, image01, label, self.method):
                if isinstance(item, Heatmap):
                    maps[label] = item.values
        return maps


def index_summary(out_dir: str | Path) -> dict:
    """Counts from ``OUT/dicom/index.jsonl``: ``sr``, ``seg`` written, ``not_dicom``, ``failed``."""
    path = Path(out_dir) / DICOM_DIR / INDEX
    counts = {"sr": 0, "seg": 0, "not_dicom": 0, "failed": 0}
    for line in path.read_text().splitlines() if path.exists() else []:
        entry = json.loads(line)
        counts["sr"] += entry["sr"] is not None
        counts["seg"] += entry["seg"] is not None
        counts["not_dicom"] += entry["note"] == NOT_DICOM
        counts["failed"] += bool(entry["note"]) and entry["note"] != NOT_DICOM
    return counts
