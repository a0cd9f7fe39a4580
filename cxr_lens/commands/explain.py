"""``cxr-lens explain FILE --label NAME --method gradcam|attention|ig|igcam --out PNG``: a heatmap for one
finding.

Writes the image with the heatmap blended over it (opacity rising with the value) as a PNG on the
image's own pixel grid; ``--npy`` also saves the float map in [0, 1]; ``--dicom`` writes it as a
fractional DICOM Segmentation referencing the (DICOM) input. With ``--report`` or
``--report-file`` the model reads the report too and the words that drove the finding are listed.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from cxr_lens.report_input import add_report_options, read_report_option

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    from engine.explain.heatmap import BASELINES, METHODS
    from engine.explain.overlay import COLORMAPS

    parser = subparsers.add_parser("explain", help="heatmap of the evidence for one finding, as a PNG overlay")
    parser.add_argument("file", help="a DICOM, PNG or JPEG chest radiograph")
    parser.add_argument("--label", required=True, help="the finding to explain, e.g. Effusion")
    parser.add_argument("--method", choices=METHODS, default="gradcam", help="explanation method")
    parser.add_argument("--out", required=True, help="the overlay PNG to write")
    parser.add_argument("--npy", help="also save the float heatmap (rows, cols) in [0, 1] here")
    parser.add_argument("--dicom", metavar="OUT.dcm",
                        help="also write the heatmap as a DICOM Segmentation (fractional) referencing FILE")
    text = parser.add_mutually_exclusive_group()
    add_report_options(text, "report text read together with the image")
    parser.add_argument("--steps", type=int, default=32, help="Integrated Gradients path steps (default 32)")
    parser.add_argument("--baseline", choices=BASELINES, default="black",
                        help="Integrated Gradients baseline image (default black)")
    parser.add_argument("--colormap", choices=COLORMAPS, default="turbo")
    parser.add_argument("--opacity", type=float, default=0.6, help="overlay opacity at the map's maximum")
    parser.add_argument("--pack", help="model pack folder (default: the bundled pack)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the model (default 2)")
    parser.add_argument("--no-gate", action="store_true",
                        help="explain even when the input gate refuses the image (not a frontal chest film)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.set_defaults(func=run)


def run(args) -> int:
    import numpy as np
    from PIL import Image as PILImage

    from engine.images.read import read_image
    from engine.images.display import display_float
    from engine.explain.heatmap import Heatmap, Progress, explain_steps, label_index
    from engine.explain.overlay import render_overlay
    from engine.reports.labels import find_label
    from engine.predict import Predictor
    from engine.errors import GateError, ModelError
    from engine.gate import run_gate
    from engine.resources import bundled_pack_dir

    try:
        label = find_label(args.label).name
    except KeyError as error:
        print(f"cxr-lens explain: {error.args[0]}", file=sys.stderr)
        return 1
    if args.steps < 1 or not 0.0 < args.opacity <= 1.0:
        print("cxr-lens explain: --steps must be ≥ 1 and --opacity in (0, 1]", file=sys.stderr)
        return 1
    report = read_report_option(args)
    image = read_image(args.file)
    if args.dicom and image.kind != "dicom":
        from engine.errors import DicomError
        raise DicomError("is not DICOM, so no Segmentation can reference it", path=args.file,
                         hint="--dicom needs a DICOM image; use --npy for PNG/JPEG inputs")
    image01 = display_float(image)
    verdict = run_gate(image01, image.modality, image.body_part, image.view_position)
    for issue in verdict.issues:
        log.warning("gate %s: %s", issue.severity, issue.message)
    if not verdict.accepted and not args.no_gate:
        raise GateError("the input gate refused the image, so a heatmap would mislead: "
                        + "; ".join(i.message for i in verdict.issues if i.severity == "refuse"),
                        path=args.file, hint="use --no-gate to explain it anyway")
    predictor = Predictor(args.pack or bundled_pack_dir(), threads=args.threads)
    try:
        label_index(predictor.labels, label)
    except ModelError as error:
        print(f"cxr-lens explain: {error}", file=sys.stderr)
        return 1
    heatmap = None
    reported = -1.0
    for item in explain_steps(predictor, image01, label, args.method, report, steps=args.steps,
                              baseline=args.baseline):
        if isinstance(item, Progress) and item.fraction - reported >= 0.25:
            log.info("%3.0f%% %s", 100 * item.fraction, item.message)
            reported = item.fraction
        elif isinstance(item, Heatmap):
            heatmap = item
    out = Path(args.out)
    PILImage.fromarray(render_overlay(image01, heatmap.values, args.colormap, args.opacity)).save(out)
    if args.npy:
        np.save(args.npy, heatmap.values)
    if args.dicom:
        from engine.dicom_results.seg import write_heatmap_seg
        from engine.dicom_results.source import Algorithm

        write_heatmap_seg(args.file, {heatmap.label: heatmap.values}, heatmap.method,
                          Algorithm.from_pack(predictor.pack), args.dicom)
    if args.json:
        document = {"file": str(args.file), "pack": predictor.pack.manifest["name"],
                    "pack_version": predictor.pack.manifest["version"], "out": str(out), "npy": args.npy,
                    "dicom": args.dicom,
                    "gate": verdict.to_dict(), **heatmap.to_dict()}
        print(json.dumps(document))
    else:
        print(f"{heatmap.label} ({heatmap.mode} input): probability {heatmap.probability:.3f}; "
              f"{heatmap.method} heatmap in {heatmap.timing_ms['explain']:.0f} ms → {out}")
        words = sorted(heatmap.tokens, key=lambda t: -t.score)[:5]
        if words:
            print("words supporting the finding: " + ", ".join(f"{t.text} ({t.score:+.2f})" for t in words))
    return 0
