"""``python -m training manifest --format F --labels FILE --images DIR --out DIR/manifest.csv``: a dataset → a manifest.

Writes the manifest CSV (the columns :func:`training.dataset.read_records` reads; label cells 1, 0
or empty for missing) and ``<name>.summary.json`` beside it, and prints the summary (images,
patients, splits, per-label counts, skipped rows with reasons; ``--json``: the summary as JSON).
Rows that cannot be used (missing file, lateral or unknown view, unreadable image) are skipped and
counted, never fatal. docs/TRAINING.md walks through each format; docs/LABELS.md has the mappings.
"""
from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path

from cxr_lens.cli import EXIT_USAGE
from engine.errors import EngineError
from training.manifest.common import DEFAULT_UNCERTAIN, UNCERTAIN_POLICIES, apply_splits, summarise, \
    summary_table, write_manifest

log = logging.getLogger(__name__)

FORMATS = {"nih14": "training.manifest.nih14", "chexpert": "training.manifest.chexpert",
           "mimic-cxr-jpg": "training.manifest.mimic", "openi": "training.manifest.openi",
           "dicom": "training.manifest.dicom_folder"}
LABELS_OPTIONAL = ("openi", "dicom")


def build_manifest(args) -> dict:
    """Collect, split and write; return the summary."""
    for given in [args.images] + list(args.labels or []) + [p for p in (args.metadata, args.reports) if p]:
        if not Path(given).exists():
            raise EngineError("no such file or folder", path=given, hint="check the path given to the manifest step")
    collected = importlib.import_module(FORMATS[args.format]).collect(args)
    if not collected.rows:
        reasons = sorted({reason.split(":")[0] for _, reason in collected.skipped}) or ["no rows at all"]
        raise EngineError(f"no usable {args.format} images ({len(collected.skipped)} rows skipped: "
                          f"{'; '.join(reasons)})", path=args.images,
                          hint="check --format, --labels (the dataset's own file) and --images (its image root)")
    policy = apply_splits(collected, args.split_by, args.seed)
    summary = summarise(collected, policy, args.uncertain)
    write_manifest(collected, Path(args.out), summary)
    log.info("manifest %s: %d images, %d skipped", args.out, summary["images"], summary["skipped"])
    return summary


def register(subparsers) -> None:
    """Add the ``manifest`` step."""
    parser = subparsers.add_parser("manifest", help="write a training manifest from NIH, CheXpert, MIMIC-CXR-JPG, "
                                                    "Open-i or a DICOM folder")
    parser.add_argument("--format", required=True, choices=tuple(FORMATS))
    parser.add_argument("--labels", nargs="+", help="the dataset's label file(s) (nih14: Data_Entry_2017*.csv; "
                        "chexpert: train.csv [valid.csv]; mimic-cxr-jpg: chexpert.csv or negbio.csv; "
                        "openi: NLMCXR_reports.tgz, default the located copy; dicom: not used)")
    parser.add_argument("--images", required=True, help="the dataset's image root (searched as the format needs)")
    parser.add_argument("--out", required=True, help="manifest CSV to write (e.g. DIR/manifest.csv)")
    parser.add_argument("--reports", help="mimic-cxr-jpg: folder holding files/pXX/pNNNNNNNN/sNNNNNNNN.txt")
    parser.add_argument("--metadata", help="mimic-cxr-jpg: the image table (default: *metadata.csv* beside --labels)")
    parser.add_argument("--uncertain", choices=UNCERTAIN_POLICIES, default=DEFAULT_UNCERTAIN,
                        help=f"what an uncertain (-1) label becomes (default {DEFAULT_UNCERTAIN}: missing, "
                             "the loss skips it)")
    parser.add_argument("--split-by", choices=("patient", "official"),
                        help="seeded 80/10/10 by patient, or the dataset's official split "
                             "(default: official when the dataset has one here, else patient)")
    parser.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON document")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the manifest step; exit 1 when a format that needs --labels has none."""
    if not args.labels and args.format not in LABELS_OPTIONAL:
        log.error("--format %s needs --labels (the dataset's label file)", args.format)
        return EXIT_USAGE
    summary = build_manifest(args)
    print(json.dumps(summary, indent=2) if args.json else summary_table(summary))
    return 0
