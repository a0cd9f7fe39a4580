"""``cxr-lens scan DIR --out OUTDIR [--resume] [--workers N] [--pack DIR] [--no-reports]
[--engine local|ray [--address A] [--actors N] [--batch B]] [--dicom-sr [--heatmaps LABELS|positive] [--method M]]``.

With ``--dicom-sr`` every DICOM input also gets a DICOM SR (TID 1500) under OUTDIR/dicom/, and with
``--heatmaps`` a heatmap Segmentation (:mod:`engine.dicom_results.scan_output`).

With ``--engine ray`` the same scan runs on Ray (:mod:`engine.scan_ray`): DIR may also be a
manifest CSV of paths; without ``--address`` a local Ray runtime starts and stops with the command.

Writes OUTDIR/results.jsonl, errors.jsonl and summary.csv. Progress goes to stderr: a live count,
rate and ETA rewritten in place on a terminal, a plain line every ``PLAIN_EVERY_S`` seconds when
stderr is a file or pipe, each failed file on its own line, and a final summary line. Exit code 0
when every file was scanned, 3 when some could not be read (each listed in errors.jsonl).
"""
from __future__ import annotations

import sys
import time

from engine.resources import bundled_pack_dir
from engine.scan import scan_folder

EXIT_SOME_FAILED = 3
PLAIN_EVERY_S = 10.0


def register(subparsers) -> None:
    parser = subparsers.add_parser("scan", help="predict findings for every image under DIR")
    parser.add_argument("folder", help="folder to scan (recursively)")
    parser.add_argument("--out", required=True, help="folder for results.jsonl, errors.jsonl, summary.csv")
    parser.add_argument("--resume", action="store_true", help="skip images already in results.jsonl")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (each loads the pack)")
    parser.add_argument("--pack", default=None, help="model pack folder (default: the bundled pack)")
    parser.add_argument("--no-reports", action="store_true",
                        help="ignore report text kept beside images (image-only findings)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local worker processes (default) or Ray (needs: pip install '.[cluster]')")
    parser.add_argument("--address", help="Ray: join this cluster (host:port of `ray start --head`)")
    parser.add_argument("--actors", type=int, help="Ray: model actors, each loads the pack (default 2)")
    parser.add_argument("--batch", type=int, help="Ray: files per actor call (default 8)")
    from engine.explain.heatmap import METHODS

    parser.add_argument("--dicom-sr", action="store_true",
                        help="also write a DICOM SR (TID 1500) per DICOM image under OUTDIR/dicom/")
    parser.add_argument("--heatmaps", metavar="LABELS|positive",
                        help="with --dicom-sr: heatmaps of these labels (comma-separated) or of every positive "
                             "finding, as a DICOM Segmentation per image")
    parser.add_argument("--method", choices=METHODS, default="gradcam", help="heatmap method (default gradcam)")
    parser.set_defaults(func=run)


def dicom_writer(args, pack_dir):
    """The ScanDicomWriter that ``--dicom-sr`` asks for (None without it); raises KeyError for an unknown label."""
    if not args.dicom_sr:
        return None
    from engine.dicom_results.scan_output import ScanDicomWriter, heatmap_labels
    from engine.model.pack import read_manifest

    labels = tuple(entry["name"] for entry in read_manifest(pack_dir)["labels"])
    return ScanDicomWriter(args.out, pack_dir, heatmap_labels(args.heatmaps, labels), args.method, args.resume)


class ProgressLine:
    """Count, rate (images/s of this run, resumed images left out) and ETA of a scan on a text stream.

    On a terminal one line is rewritten in place after every image; otherwise a plain line is
    written at most every ``every_s`` seconds and at the end, so logs stay short.
    """

    def __init__(self, stream=None, every_s: float = PLAIN_EVERY_S):
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s
        self.start = self.last_plain = time.monotonic()
        self.open_line = False

    def text(self, progress) -> str:
        """``[done/total percent] rate, ETA, failed`` for one progress record."""
        elapsed = time.monotonic() - self.start
        rate = (progress.done - progress.skipped) / elapsed if elapsed > 0 else 0.0
        eta = f"{(progress.total - progress.done) / rate:.0f} s" if rate > 0 else "?"
        percent = 100.0 * progress.done / progress.total if progress.total else 100.0
        return (f"[{progress.done}/{progress.total} {percent:.0f}%] {rate:.2f} images/s, ETA {eta}, "
                f"{progress.failed} failed")

    def update(self, progress) -> None:
        """Show one progress record."""
        if self.live:
            self.stream.write(f"\r\x1b[2K{self.text(progress)}")
            self.stream.flush()
            self.open_line = True
        elif time.monotonic() - self.last_plain >= self.every_s or progress.done == progress.total:
            self.note(self.text(progress))
            self.last_plain = time.monotonic()

    def note(self, message: str) -> None:
        """Write a message on a line of its own (ending a live line first)."""
        if self.open_line:
            self.stream.write("\n")
            self.open_line = False
        self.stream.write(message + "\n")
        self.stream.flush()


def report_progress(progresses, show: ProgressLine):
    """Show every progress record of a scan, each failure on its own line; return the last record."""
    last = None
    for progress in progresses:
        if progress.failed > (last.failed if last else 0):
            where = "" if progress.message.startswith(progress.path) else f"{progress.path}: "
            show.note(f"failed: {where}{progress.message}")
        elif progress.skipped and progress.done == progress.skipped:
            show.note(progress.message)  # on resume: "N of M already done"
        show.update(progress)
        last = progress
    return last


def run(args) -> int:
    ray_options = [f"--{name}" for name in ("address", "actors", "batch") if getattr(args, name) is not None]
    if args.engine == "local" and ray_options:
        print(f"cxr-lens scan: {', '.join(ray_options)} need --engine ray", file=sys.stderr)
        return 1
    if min([args.workers, *(n for n in (args.actors, args.batch) if n is not None)]) < 1:
        print("cxr-lens scan: --workers, --actors and --batch must be at least 1", file=sys.stderr)
        return 1
    pack_dir = args.pack or bundled_pack_dir()
    if args.heatmaps and not args.dicom_sr:
        print("cxr-lens scan: --heatmaps needs --dicom-sr", file=sys.stderr)
        return 1
    try:
        dicom = dicom_writer(args, pack_dir)
    except KeyError as error:
        print(f"cxr-lens scan: --heatmaps: {error.args[0]}", file=sys.stderr)
        return 1
    show = ProgressLine()
    if args.engine == "ray":
        from engine.scan_ray import RayScan

        scan = RayScan(args.folder, args.out, pack_dir, resume=args.resume, use_reports=not args.no_reports,
                       address=args.address, actors=args.actors or 2, batch=args.batch or 8, dicom=dicom)
        last = report_progress(scan.run(), show)
        if scan.images_per_node:
            show.note("images per Ray node: " + ", ".join(f"{node[:12]} {count}"
                                                          for node, count in scan.images_per_node.most_common()))
    else:
        last = report_progress(scan_folder(args.folder, args.out, pack_dir, resume=args.resume,
                                           workers=args.workers, use_reports=not args.no_reports, dicom=dicom), show)
    if last is None:
        print(f"cxr-lens scan: no images found under {args.folder}", file=sys.stderr)
        return 2
    show.note(f"scanned {last.total} file(s): {last.failed} failed, {last.skipped} already done; "
              f"results in {args.out}")
    if dicom is not None:
        from engine.dicom_results.scan_output import index_summary

        counts = index_summary(args.out)
        show.note(f"DICOM results in {dicom.folder}: {counts['sr']} SR, {counts['seg']} Segmentation(s); "
                  f"{counts['not_dicom']} PNG/JPEG input(s) got none (nothing to reference), "
                  f"{counts['failed']} failed (see {dicom.folder / 'index.jsonl'})")
    return EXIT_SOME_FAILED if last.failed else 0
