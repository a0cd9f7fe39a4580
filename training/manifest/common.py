"""What every dataset adapter shares: label mapping, the uncertainty policy, splits and the output files.

Label cells in the written manifest are ``1`` (present), ``0`` (absent) or empty (**missing**: the
dataset does not say; the training loss skips it). A dataset label maps onto a pack label through a
:class:`Mapping`: the pack label is 1 when any source is 1, missing when any source is missing, else
0. ``negative_only`` sources can only say "absent" (CheXpert's Lung Lesion = 0 means no nodule and
no mass; Lung Lesion = 1 says neither which).
"""
from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import EngineError
from engine.reports.labels import LABEL_NAMES

log = logging.getLogger(__name__)

UNCERTAIN_POLICIES = ("positive", "negative", "ignore")
DEFAULT_UNCERTAIN = "ignore"
FRONTAL = ("PA", "AP")
LATERAL = ("LATERAL", "LL", "RL", "LAT", "LLD", "RLD")
SPLITS = ("train", "val", "test")
COLUMNS = ["id", "patient_id", "study_id", "image_path", "view", "split", "report", "report_path", "source"]
SKIP_EXAMPLES = 20


@dataclass(frozen=True)
class Mapping:
    """Where one pack label comes from: dataset columns/labels that say present or absent, and ones that can only say absent."""

    sources: tuple[str, ...] = ()
    negative_only: tuple[str, ...] = ()


@dataclass
class Row:
    """One manifest row: an image, its patient and study, its report and its pack labels (1, 0 or None = missing)."""

    id: str
    patient_id: str
    study_id: str
    image_path: Path
    view: str
    labels: dict[str, int | None]
    report: str = ""
    report_path: str = ""
    split: str = ""


@dataclass
class Collected:
    """An adapter's result: rows, skipped rows with reasons, and the dataset's official split if it has one.

    ``official`` maps a row id to ``train`` / ``val`` / ``test``; rows it marks ``trainval`` (a
    dataset whose official split has no validation part) are split train/val by patient.
    """

    dataset: str
    rows: list[Row]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    official: dict[str, str] | None = None
    mapping: dict[str, Mapping] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def resolve(value, uncertain: str) -> int | None:
    """One dataset cell as 1, 0 or None (missing): ``1``/``1.0`` present, ``0`` absent, ``-1`` per ``uncertain``, blank missing."""
    text = "" if value is None else str(value).strip()
    if text in ("", "nan", "NaN"):
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    if number == -1:
        return {"positive": 1, "negative": 0, "ignore": None}[uncertain]
    return 1 if number >= 0.5 else 0


def map_labels(values: dict[str, int | None], mapping: dict[str, Mapping]) -> dict[str, int | None]:
    """Pack labels from resolved dataset values (``{dataset label: 1/0/None}``); unmapped pack labels are missing."""
    out = {}
    for name in LABEL_NAMES:
        rule = mapping.get(name)
        if rule is None:
            out[name] = None
            continue
        found = [values.get(source) for source in rule.sources]
        found += [None if values.get(source) == 1 else values.get(source) for source in rule.negative_only]
        if any(v == 1 for v in found):
            out[name] = 1
        elif not found or any(v is None for v in found):
            out[name] = None
        else:
            out[name] = 0
    return out


def frontal_view(raw: str) -> tuple[str | None, str | None]:
    """``(view, None)`` for PA/AP, ``(None, reason)`` for lateral or unknown views."""
    view = (raw or "").strip().upper()
    if view in FRONTAL:
        return view, None
    if view in LATERAL:
        return None, "lateral view (packs read frontal views)"
    return None, f"unknown view {view!r}" if view else "no view position"


def assign_patient_splits(patients: list[str], seed: int, fractions=(0.8, 0.1, 0.1)) -> dict[str, str]:
    """Seeded split of patient ids by ``fractions`` of (train, val, test); every image of a patient shares one."""
    ids = sorted(set(patients))
    order = np.random.default_rng(seed).permutation(len(ids))
    n_train = int(round(fractions[0] * len(ids)))
    n_val = int(round(fractions[1] * len(ids)))
    out = {}
    for rank, i in enumerate(order):
        out[ids[i]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return out


def apply_splits(collected: Collected, split_by: str | None, seed: int) -> str:
    """Set every row's split; return the policy used (``official`` when the dataset has one, else ``patient``)."""
    policy = split_by or ("official" if collected.official else "patient")
    if policy == "official":
        if not collected.official:
            raise EngineError(f"{collected.dataset} has no official split here",
                              hint="use --split-by patient, or give the dataset's split file")
        pool = [r.patient_id for r in collected.rows if collected.official.get(r.id) == "trainval"]
        carved = assign_patient_splits(pool, seed, (0.9, 0.1, 0.0))
        for row in collected.rows:
            split = collected.official.get(row.id, "train")
            row.split = carved[row.patient_id] if split == "trainval" else split
    else:
        by_patient = assign_patient_splits([r.patient_id for r in collected.rows], seed)
        for row in collected.rows:
            row.split = by_patient[row.patient_id]
    return policy


def summarise(collected: Collected, policy: str, uncertain: str) -> dict:
    """Counts the summary prints: images, patients, reports, splits, per-label positive/negative/missing, skips."""
    rows = collected.rows
    reasons = Counter(reason.split(":")[0] for _, reason in collected.skipped)
    return {
        "dataset": collected.dataset, "images": len(rows), "patients": len({r.patient_id for r in rows}),
        "studies": len({r.study_id for r in rows}),
        "with_report": sum(bool(r.report.strip() or r.report_path) for r in rows),
        "split_by": policy, "uncertain": uncertain,
        "splits": {s: {"images": sum(r.split == s for r in rows),
                       "patients": len({r.patient_id for r in rows if r.split == s})} for s in SPLITS},
        "labels": {name: {"positive": sum(r.labels[name] == 1 for r in rows),
                          "negative": sum(r.labels[name] == 0 for r in rows),
                          "missing": sum(r.labels[name] is None for r in rows)} for name in LABEL_NAMES},
        "label_mapping": {name: {"sources": list(m.sources), "negative_only": list(m.negative_only)}
                          for name, m in collected.mapping.items()},
        "skipped": len(collected.skipped), "skipped_by_reason": dict(reasons),
        "skipped_examples": [{"row": ref, "reason": reason} for ref, reason in collected.skipped[:SKIP_EXAMPLES]],
        "notes": collected.notes,
    }


def write_manifest(collected: Collected, out: Path, summary: dict) -> Path:
    """Write ``out`` (the manifest CSV) and ``<out stem>.summary.json`` beside it; return the CSV path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS + list(LABEL_NAMES))
        writer.writeheader()
        for row in collected.rows:
            writer.writerow({"id": row.id, "patient_id": row.patient_id, "study_id": row.study_id,
                             "image_path": str(row.image_path), "view": row.view, "split": row.split,
                             "report": row.report, "report_path": row.report_path, "source": collected.dataset,
                             **{name: "" if value is None else value for name, value in row.labels.items()}})
    tmp.replace(out)
    summary_path(out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return out


def summary_path(manifest: Path) -> Path:
    """The summary JSON written beside a manifest CSV (``manifest.csv`` → ``manifest.summary.json``)."""
    return manifest.with_name(manifest.stem + ".summary.json")


def summary_table(summary: dict) -> str:
    """The printed summary: totals, splits, per-label counts and skip reasons, as plain text."""
    lines = [f"{summary['dataset']}: {summary['images']} images, {summary['patients']} patients, "
             f"{summary['studies']} studies, {summary['with_report']} with a report; "
             f"split by {summary['split_by']}, uncertain labels -> {summary['uncertain']}"]
    lines.append("split   images  patients")
    for split, counts in summary["splits"].items():
        lines.append(f"{split:<6} {counts['images']:>7} {counts['patients']:>9}")
    lines.append(f"{'label':<20} {'positive':>8} {'negative':>8} {'missing':>8}")
    for name, counts in summary["labels"].items():
        lines.append(f"{name:<20} {counts['positive']:>8} {counts['negative']:>8} {counts['missing']:>8}")
    lines.append(f"skipped rows: {summary['skipped']}")
    lines += [f"  {count:>6}  {reason}" for reason, count in sorted(summary["skipped_by_reason"].items())]
    lines += [f"  e.g. {item['row']}: {item['reason']}" for item in summary["skipped_examples"][:5]]
    lines += [f"note: {note}" for note in summary["notes"]]
    return "\n".join(lines)


def check_image(path: Path) -> str | None:
    """None when ``path`` is an image the engine can read (header only), else the reason."""
    from engine.images.read import read_image

    if not path.is_file():
        return "missing file"
    try:
        read_image(path)
    except EngineError as error:
        return f"unreadable image: {error.reason}"
    return None


def index_images(root: Path, suffixes=(".png", ".jpg", ".jpeg")) -> dict[str, Path]:
    """``{file name: path}`` for every image under ``root`` (searched recursively)."""
    return {p.name: p for p in root.rglob("*") if p.suffix.lower() in suffixes and p.is_file()}
