"""``cxr-lens scan DIR --out OUTDIR [--resume] [--workers N] [--pack DIR] [--no-reports]``.

Writes OUTDIR/results.jsonl, errors.jsonl and summary.csv; progress goes to stderr. Exit code 0
when every file was scanned, 3 when some could not be read (each listed in errors.jsonl).
"""
from __future__ import annotations

import sys

from engine.resources import bundled_pack_dir
from engine.scan import scan_folder

EXIT_SOME_FAILED = 3


def register(subparsers) -> None:
    parser = subparsers.add_parser("scan", help="predict findings for every image under DIR")
    parser.add_argument("folder", help="folder to scan (recursively)")
    parser.add_argument("--out", required=True, help="folder for results.jsonl, errors.jsonl, summary.csv")
    parser.add_argument("--resume", action="store_true", help="skip images already in results.jsonl")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (each loads the pack)")
    parser.add_argument("--pack", default=None, help="model pack folder (default: the bundled pack)")
    parser.add_argument("--no-reports", action="store_true",
                        help="ignore report text kept beside images (image-only findings)")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.workers < 1:
        print("cxr-lens scan: --workers must be at least 1", file=sys.stderr)
        return 1
    last = None
    for last in scan_folder(args.folder, args.out, args.pack or bundled_pack_dir(), resume=args.resume,
                            workers=args.workers, use_reports=not args.no_reports):
        where = "" if last.message.startswith(last.path) else f"{last.path}: "
        print(f"[{last.done}/{last.total}] {where}{last.message}", file=sys.stderr)
    if last is None:
        print(f"cxr-lens scan: no images found under {args.folder}", file=sys.stderr)
        return 2
    print(f"scanned {last.total} file(s): {last.failed} failed, {last.skipped} already done; "
          f"results in {args.out}", file=sys.stderr)
    return EXIT_SOME_FAILED if last.failed else 0
