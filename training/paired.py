"""The paired data set: one synthetic study per real Open-i report (``python -m training synth``).

Each report is labelled by ``engine.reports.labeler``; its positive findings (and, half of the time, its
uncertain ones, drawn subtle) are rendered with the side, zone and size its sentences give, as a
frontal image and, when the report had two images, a lateral one. Real Open-i images, when the
user has them (``--images DIR``, PNG/JPEG/DICOM named by image id), replace the synthetic image of
that id. Layout under ``--out`` (default ``<repo>/data/paired``)::

    manifest.csv                       one row per image (columns documented in docs/SYNTH.md)
    studies/<report id>/<image id>.dcm
    studies/<report id>/<image id>.masks.npz   label -> bool mask (synthetic images only)
    studies/<report id>/report.txt             the report (sidecar), and report_sr.dcm (Basic Text SR)

Same ``--seed``, same files: every study's seed derives from (seed, report id), not from order.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import EngineError
from engine.reports.labels import FINDING_NAMES, LABEL_NAMES, NO_FINDING, labels_from_mesh
from engine.reports.openi import read_reports
from training.openi import add_reports_option, reports_path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "data" / "paired"
FRONTAL, LATERAL = ("PA", "AP"), ("LL", "LATERAL", "RL", "LAT", "LARGE LATERAL")
REAL_SUFFIXES = {".png", ".jpg", ".jpeg", ".dcm", ".dicom", ""}
SPLITS = (("train", 0.8), ("val", 0.1), ("test", 0.1))
_STATUS = {"positive": "1", "negative": "0", "uncertain": "-1"}


@dataclass(frozen=True)
class StudyTask:
    """Everything one worker needs to write one study (picklable)."""

    report_id: str
    sections: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]
    mentions: tuple
    images: tuple[tuple[str, str], ...]       # (image id, role "frontal" | "lateral")
    views: tuple[tuple[str, str], ...]        # (image id, metadata view)
    mesh_labels: str
    split: str
    seed: int


def study_seed(seed: int, report_id: str) -> int:
    """A 63-bit seed for one report, independent of the order reports are processed in."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{report_id}".encode()).digest()[:8], "little") >> 1


def assign_splits(report_ids: list[str], seed: int) -> dict[str, str]:
    """Split report ids 80/10/10 (train/val/test) with a seeded shuffle; one split per report."""
    ids = sorted(report_ids)
    order = np.random.default_rng(seed).permutation(len(ids))
    n_train = int(round(0.8 * len(ids)))
    n_val = int(round(0.1 * len(ids)))
    out = {}
    for rank, i in enumerate(order):
        out[ids[i]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return out


def _pick_images(record) -> tuple[tuple[str, str], ...]:
    """(image id, role): the frontal view always, a lateral when the report has two images."""
    ids = list(record.image_ids)
    views = {i: (record.view_positions.get(i) or "").upper() for i in ids}
    frontal = next((i for i in ids if views[i] in FRONTAL), None) or \
        next((i for i in ids if views[i] not in LATERAL), None) or f"{record.id}_synthetic_frontal"
    chosen = [(frontal, "frontal")]
    if len(ids) >= 2:
        lateral = next((i for i in ids if views[i] in LATERAL and i != frontal), None) or \
            next(i for i in ids if i != frontal)
        chosen.append((lateral, "lateral"))
    return tuple(chosen)


def plan_tasks(records, seed: int) -> list[StudyTask]:
    """Label every report and turn it into a :class:`StudyTask` (labeler runs once, batched)."""
    from engine.reports.labeler import label_many
    from training.synth.spec import mentions_from_evidence

    labelled = label_many(records)
    splits = assign_splits([r.id for r in records], seed)
    tasks = []
    for record, result in zip(records, labelled):
        sections = (("INDICATION", record.indication), ("COMPARISON", record.comparison),
                    ("FINDINGS", record.findings), ("IMPRESSION", record.impression))
        mentions = tuple(mentions_from_evidence(result.evidence))
        tasks.append(StudyTask(record.id, sections, tuple(result.labels.items()), mentions,
                               _pick_images(record), tuple(record.view_positions.items()),
                               ";".join(n for n in LABEL_NAMES if n in labels_from_mesh(record.mesh_major)), splits[record.id],
                               study_seed(seed, record.id)))
    return tasks


def index_real_images(folder: Path | None) -> dict[str, Path]:
    """Map image id (file stem) -> path for PNG/JPEG/DICOM files under ``folder`` (recursive)."""
    if folder is None:
        return {}
    folder = Path(folder)
    if not folder.is_dir():
        raise EngineError("the real-image folder does not exist", path=folder,
                          hint="give --images the folder holding e.g. CXR207_IM-0703-1001.png")
    return {p.stem: p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix.lower() in REAL_SUFFIXES}


def build_study(task: StudyTask, out: Path, size: int, real: dict[str, Path], write_sr: bool,
                severity_floor: float = 0.0) -> list[dict]:
    """Render and write one study; return its manifest rows (one per image)."""
    from training.synth import dicom_out
    from training.synth.patient import sample_patient
    from training.synth.spec import specs_for_report
    from training.synth.study import draw_study

    rng = np.random.default_rng(task.seed)
    labels = dict(task.labels)
    views = dict(task.views)
    frontal_id = next(i for i, role in task.images if role == "frontal")
    patient = sample_patient(rng, projection=views.get(frontal_id))
    specs = specs_for_report(labels, list(task.mentions), rng, severity_floor=severity_floor)
    roles = dict((role, image_id) for image_id, role in task.images)
    synth_ids = [i for i, _ in task.images if i not in real]
    images = draw_study(patient, specs, rng, lateral="lateral" in roles, rows=size, cols=size) if synth_ids else []
    by_role = {"frontal": images[0] if images else None, "lateral": images[1] if len(images) > 1 else None}
    folder = out / "studies" / task.report_id
    folder.mkdir(parents=True, exist_ok=True)
    sections = {k: v for k, v in task.sections if v}
    (folder / "report.txt").write_text(dicom_out.report_text(sections), encoding="utf-8")
    info = dicom_out.StudyInfo(key=f"openi:{task.report_id}:{task.seed}", patient_id=f"SYN-{task.report_id}",
                               patient_sex=patient.sex, patient_age=patient.age, day=task.seed % 3650,
                               description="CHEST 2 VIEWS (synthetic)" if len(task.images) > 1 else "CHEST 1 VIEW (synthetic)",
                               modality=patient.modality)
    sr_path = ""
    if write_sr:
        dicom_out.save_dataset(dicom_out.report_sr_dataset(info, sections), folder / "report_sr.dcm")
        sr_path = f"studies/{task.report_id}/report_sr.dcm"
    rows = []
    drawn_text = ";".join(f"{s.label}:{'+'.join(s.sides) or '-'}:{s.zone or '-'}:{s.severity:.2f}" for s in specs)
    for number, (image_id, role) in enumerate(task.images, start=1):
        row = {"id": image_id, "study_id": task.report_id, "split": task.split, "seed": task.seed,
               "report_path": f"studies/{task.report_id}/report.txt", "sr_path": sr_path,
               "mesh_labels": task.mesh_labels}
        if image_id in real:
            row.update(image_path=str(real[image_id].resolve()), mask_path="", source="real",
                       view=views.get(image_id) or ("LL" if role == "lateral" else "PA"),
                       rows="", cols="", spacing_mm="", photometric="", modality="", drawn="")
            present = {k for k, v in labels.items() if v == "positive" and k in FINDING_NAMES}
        else:
            image = by_role[role]
            dcm = folder / f"{image_id}.dcm"
            dicom_out.save_dataset(dicom_out.image_dataset(info, image, image_id, number), dcm)
            masks = folder / f"{image_id}.masks.npz"
            dicom_out.save_masks(image.masks, masks)
            row.update(image_path=f"studies/{task.report_id}/{dcm.name}",
                       mask_path=f"studies/{task.report_id}/{masks.name}", source="synthetic",
                       view=image.view, rows=size, cols=size, spacing_mm=f"{image.spacing:.4f}",
                       photometric="MONOCHROME1" if image.rendered.monochrome1 else "MONOCHROME2",
                       modality=patient.modality, drawn=drawn_text)
            present = {s.label for s in specs}
        for name in FINDING_NAMES:
            row[name] = int(name in present)
        row[NO_FINDING] = int(not present)
        for name in LABEL_NAMES:
            row[f"report_{name}"] = _STATUS.get(labels.get(name, ""), "")
        rows.append(row)
    return rows


def manifest_columns() -> list[str]:
    """Column order of ``manifest.csv``."""
    return (["id", "study_id", "image_path", "mask_path", "report_path", "sr_path", "view", "split", "seed",
             "source", "rows", "cols", "spacing_mm", "photometric", "modality"] + list(LABEL_NAMES)
            + [f"report_{n}" for n in LABEL_NAMES] + ["mesh_labels", "drawn"])


def _work(job):
    return build_study(*job)


def build_paired(reports: Path, out: Path = DEFAULT_OUT, seed: int = 0, size: int = 512,
                 limit: int | None = None, images: Path | None = None, workers: int = 2,
                 write_sr: bool = True, severity_floor: float = 0.0):
    """Build the paired set; a generator yielding (studies done, total) and finally the manifest path.

    Parameters
    ----------
    reports
        ``NLMCXR_reports.tgz``, a folder of report XML files or one XML file.
    out
        Output folder (created).
    seed
        Master seed: splits and every study's pixels derive from it.
    size
        Image rows and columns, pixels.
    limit
        Only the first ``limit`` reports (in file order), for quick builds.
    images
        Folder of real Open-i images named by image id; they win over synthetic ones.
    workers
        Processes rendering studies in parallel.
    write_sr
        Also write each report as a DICOM Basic Text SR.
    severity_floor
        See :func:`training.synth.spec.specs_for_report` (0 = the report-driven severities).
    """
    records, errors = read_reports(reports)
    for error in errors:
        log.warning("skipped report: %s", error)
    if not records:
        raise EngineError("no readable reports", path=reports, hint="check the archive with `python -m training fetch-openi`")
    records = records[:limit] if limit else records
    real = index_real_images(images)
    tasks = plan_tasks(records, seed)
    log.info("%d reports planned (%d real images found)", len(tasks), len(real))
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(task, out, size, real, write_sr, severity_floor) for task in tasks]
    results: list[list[dict]] = []
    if workers > 1:
        with multiprocessing.get_context().Pool(workers) as pool:
            for rows in pool.imap(_work, jobs, chunksize=4):
                results.append(rows)
                yield len(results), len(jobs)
    else:
        for job in jobs:
            results.append(_work(job))
            yield len(results), len(jobs)
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=manifest_columns())
        writer.writeheader()
        for rows in results:
            writer.writerows(rows)
    summary = summarise([row for rows in results for row in rows], seed, size, severity_floor)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    yield manifest


def summarise(rows: list[dict], seed: int, size: int, severity_floor: float = 0.0) -> dict:
    """Counts per split, view and label (drawn on frontal images, and report statuses)."""
    frontal = [r for r in rows if r["view"] not in LATERAL]
    return {
        "seed": seed, "size": size, "severity_floor": severity_floor, "images": len(rows), "studies": len({r["study_id"] for r in rows}),
        "frontal_images": len(frontal), "real_images": sum(r["source"] == "real" for r in rows),
        "studies_per_split": {s: len({r["study_id"] for r in rows if r["split"] == s}) for s, _ in SPLITS},
        "views": {v: sum(r["view"] == v for r in rows) for v in sorted({r["view"] for r in rows})},
        "frontal_drawn": {n: sum(int(r[n]) for r in frontal) for n in LABEL_NAMES},
        "report_status": {n: {k: sum(r[f"report_{n}"] == v for r in frontal) for k, v in _STATUS.items()}
                          for n in LABEL_NAMES},
    }


def _ranged(kind, lo, hi):
    """An argparse type: ``kind(text)`` within [lo, hi], else a usage error (exit 1)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from error
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is not in {lo}..{hi}")
        return value
    return parse


def register(subparsers) -> None:
    """Add the ``synth`` step: ``python -m training synth [--out DIR] [--images DIR] …``."""
    parser = subparsers.add_parser("synth", help="build the paired set: Open-i reports + synthetic radiographs")
    add_reports_option(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default data/paired)")
    parser.add_argument("--images", type=Path, default=None,
                        help="folder of real Open-i images (PNG/JPEG/DICOM named by image id); they win")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=_ranged(int, 64, 4096), default=512,
                        help="image rows/cols of synthetic images, 64..4096 (default 512)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N reports")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-sr", action="store_true", help="do not write the DICOM Basic Text SR")
    parser.add_argument("--severity-floor", type=_ranged(float, 0.0, 0.99), default=0.0,
                        help="0..1: draw every finding at least this conspicuous (default 0: as the report says)")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the ``synth`` step."""
    reports = reports_path(args.reports)
    manifest = None
    for item in build_paired(reports, args.out, args.seed, args.size, args.limit, args.images,
                             max(args.workers, 1), not args.no_sr, args.severity_floor):
        if isinstance(item, Path):
            manifest = item
        elif item[0] % 200 == 0 or item[0] == item[1]:
            log.info("%d / %d studies", *item)
    log.info("wrote %s", manifest)
    return 0
