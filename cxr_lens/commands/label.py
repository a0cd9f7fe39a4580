"""``cxr-lens label INPUT --out OUT.jsonl`` and ``cxr-lens label --text "…"``: label reports.

INPUT is an Open-i archive (``.tgz``/``.tar.gz``/``.tar``), one report ``.xml``, a folder of
``.xml`` files, or a ``.jsonl`` file of ``{"id": …, "text": …}`` objects (free text; headings
such as ``FINDINGS:`` select what counts). Each output line is
``{"id", "labels": {name: "positive"|"negative"|"uncertain"}, "evidence": [...]}``; labels the
report does not mention are omitted. A file or line that cannot be read is logged and counted,
and the rest are labelled. Exit code 0 when everything was labelled, 3 when some inputs failed
but others were labelled (as ``cxr-lens info``), 2 when nothing could be read, 1 on usage errors.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from engine.errors import ReportError

logger = logging.getLogger(__name__)
EXIT_USAGE, EXIT_SOME_FAILED = 1, 3


def register(subparsers) -> None:
    """Add the ``label`` sub-command."""
    parser = subparsers.add_parser("label", help="label reports (negation- and uncertainty-aware)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", type=Path, help=".tgz, .xml, folder of XML, or .jsonl of {id,text}")
    parser.add_argument("--out", type=Path, help="output .jsonl (one line per report)")
    parser.add_argument("--text", help="label this text and print one JSON document")
    parser.add_argument("--batch-size", type=int, default=256, help="reports per spaCy batch (default 256)")
    parser.set_defaults(func=run)


def read_jsonl(path: Path) -> tuple[list[tuple[str, str]], list[ReportError]]:
    """Return ``[(id, text)]`` from a ``.jsonl`` file and one error per unreadable line."""
    items, errors = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"cannot read file ({error})", path=path) from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            errors.append(ReportError(f"line {number}: not JSON ({error.msg})", path=path))
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            errors.append(ReportError(f"line {number}: expected an object with a string 'text'", path=path,
                                      hint='write lines like {"id": "r1", "text": "FINDINGS: …"}'))
            continue
        items.append((str(obj.get("id", number)), obj["text"]))
    return items, errors


def _read_input(path: Path) -> tuple[list[str], list, list[ReportError]]:
    """Return ids, the items to label (texts or report records) and per-item errors."""
    if not path.exists():
        raise ReportError("no such file or folder", path=path,
                          hint="pass a .tgz, .xml, folder of XML files or .jsonl of {id, text}")
    if path.is_file() and path.suffix == ".jsonl":
        pairs, errors = read_jsonl(path)
        return [i for i, _ in pairs], [t for _, t in pairs], errors
    from engine.reports.openi import read_reports

    records, errors = read_reports(path)
    return [r.id for r in records], records, errors


def run(args: argparse.Namespace) -> int:
    """Label ``args.text`` or ``args.input``; return the exit code."""
    from engine.reports.labeler import label_many, label_text

    if args.text is not None:
        if args.input is not None:
            print("cxr-lens label: give INPUT or --text, not both", file=sys.stderr)
            return EXIT_USAGE
        print(json.dumps(label_text(args.text).to_dict(None)))
        return 0
    if args.input is None or args.out is None:
        print("cxr-lens label: INPUT and --out OUT.jsonl are required (or --text)", file=sys.stderr)
        return EXIT_USAGE
    ids, items, errors = _read_input(args.input)
    for error in errors:
        logger.warning("skipped: %s", error)
    if not items:
        raise ReportError(f"no report could be read ({len(errors)} errors)", path=args.input,
                          hint="check the file format; see `cxr-lens label --help`")
    results = label_many(items, batch_size=args.batch_size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as out:
        for report_id, result in zip(ids, results):
            out.write(json.dumps(result.to_dict(report_id)) + "\n")
    logger.info("labelled %d reports into %s; %d inputs failed", len(results), args.out, len(errors))
    return EXIT_SOME_FAILED if errors else 0
