"""``python -m training prepare``: parse, label and split the reports (no images).

Writes ``<out>/reports.jsonl``: one line per report with its id, split (80/10/10 by report, the
same seeded assignment the ``synth`` step uses), image ids and view positions, the labeler's
statuses with evidence offsets, and the labels mapped from the manual MeSH terms. It is the input
a user inspects before building a paired set or a manifest of their own images; ``synth`` runs
the same parse/label/split itself, so ``all`` does not need this step.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

from engine.errors import EngineError
from engine.reports.labels import labels_from_mesh
from engine.reports.openi import read_reports
from training.openi import add_reports_option, reports_path

log = logging.getLogger(__name__)

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "prepared"


def prepare_reports(reports: Path, out: Path = DEFAULT_OUT, seed: int = 0) -> dict:
    """Parse ``reports`` (.tgz, folder of XML or XML), label and split them; return counts."""
    from engine.reports.labeler import label_many
    from training.paired import assign_splits

    records, errors = read_reports(reports)
    if not records:
        raise EngineError("no readable reports", path=reports,
                          hint="check the archive with `python -m training fetch-openi`")
    splits = assign_splits([record.id for record in records], seed)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "reports.jsonl", "w", encoding="utf-8") as handle:
        for record, labelled in zip(records, label_many(records)):
            handle.write(json.dumps({
                "id": record.id, "split": splits[record.id], "image_ids": list(record.image_ids),
                "view_positions": dict(record.view_positions),
                "findings": record.findings, "impression": record.impression,
                "labels": labelled.labels, "evidence": [asdict(e) for e in labelled.evidence],
                "mesh_labels": sorted(labels_from_mesh(record.mesh_major)),
            }) + "\n")
    counts = {"reports": len(records), "parse_errors": [str(e) for e in errors],
              "splits": {s: sum(v == s for v in splits.values()) for s in ("train", "val", "test")}}
    (out / "summary.json").write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")
    return counts


def register(subparsers) -> None:
    """Add the ``prepare`` step."""
    parser = subparsers.add_parser("prepare", help="parse, label and split the reports into reports.jsonl")
    add_reports_option(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default data/prepared)")
    parser.add_argument("--seed", type=int, default=0, help="split seed (the synth step's default is 0)")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the ``prepare`` step."""
    reports = reports_path(args.reports)
    counts = prepare_reports(reports, args.out, args.seed)
    log.info("%d reports -> %s (%s)", counts["reports"], args.out / "reports.jsonl", counts["splits"])
    return 0
