"""``cxr-lens predict FILE [--report TEXT | --report-file F] [--json] [--pack DIR] [--sr OUT.dcm]``."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from cxr_lens.report_input import add_report_options, read_report_option

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the ``predict`` sub-command."""
    parser = subparsers.add_parser("predict", help="findings for one image (and optionally its report)")
    parser.add_argument("file", help="DICOM, PNG or JPEG image")
    group = parser.add_mutually_exclusive_group()
    add_report_options(group, "report text to fuse with the image")
    parser.add_argument("--pack", help="model pack folder (default: the bundled pack)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for the model (default 1: the model is small, and a second thread "
                             "slowed it 15x when other jobs shared the cores)")
    parser.add_argument("--sr", metavar="OUT.dcm",
                        help="also write the findings as a DICOM SR (TID 1500) referencing FILE (DICOM inputs only)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Load the pack, read the image, predict, print."""
    from engine.images.read import read_image
    from engine.predict import Predictor
    from engine.resources import bundled_pack_dir

    report = read_report_option(args)
    image = read_image(args.file)
    if args.sr and image.kind != "dicom":
        from engine.errors import DicomError
        raise DicomError("is not DICOM, so no SR can reference it", path=args.file,
                         hint="--sr needs a DICOM image; drop --sr for PNG/JPEG inputs")
    start = time.perf_counter()
    predictor = Predictor(args.pack or bundled_pack_dir(), threads=args.threads)
    load_ms = (time.perf_counter() - start) * 1000
    result = predictor.predict(image, report)
    data = {"file": str(Path(args.file)), "pack": predictor.pack.manifest["name"],
            "pack_version": predictor.pack.manifest["version"], **result.to_dict()}
    data["timing_ms"]["pack_load"] = round(load_ms, 1)
    if args.sr:
        from engine.dicom_results.source import Algorithm
        from engine.dicom_results.sr import write_sr

        data["sr"] = str(write_sr(args.file, result, Algorithm.from_pack(predictor.pack), args.sr))
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    gate = data["gate"]
    print(f"{data['file']}  ({data['mode']} mode, pack {data['pack']} {data['pack_version']})")
    print(f"gate: {gate['status']}" + "".join(f"\n  - {i['severity']}: {i['message']}" for i in gate["issues"]))
    if result.findings:
        width = max(len(f.name) for f in result.findings)
        for finding in sorted(result.findings, key=lambda f: -f.probability):
            mark = "POSITIVE" if finding.positive else ""
            print(f"  {finding.name:<{width}}  p={finding.probability:.3f}  threshold={finding.threshold:.3f}  {mark}")
    print("timing (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in data["timing_ms"].items()))
    if args.sr:
        print(f"DICOM SR written: {data['sr']}")
    return 0
