"""``cxr-lens render FILE --out PNG [--window C,W] [--frame N]``: the display pipeline to 8-bit PNG."""
from __future__ import annotations

import logging

from engine.images.read import read_image
from engine.images.display import render_uint8
from engine.images.header import Window

log = logging.getLogger(__name__)


def parse_window(text: str) -> Window:
    """Parse ``"C,W"`` (centre, width in modality units) into a Window."""
    import argparse

    try:
        center, width = (float(part) for part in text.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected CENTRE,WIDTH such as 2000,4000, got {text!r}") from error
    if width <= 0:
        raise argparse.ArgumentTypeError("the window width must be positive")
    return Window(center, width, "command line")


def register(subparsers) -> None:
    parser = subparsers.add_parser("render", help="render FILE through the display pipeline to a PNG")
    parser.add_argument("file", help="a DICOM, PNG or JPEG image")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--window", type=parse_window, help="CENTRE,WIDTH in modality units")
    parser.add_argument("--frame", type=int, default=0, help="frame of a multi-frame image (from 0)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from PIL import Image as PILImage

    image = read_image(args.file)
    pixels = render_uint8(image, args.frame, args.window)
    PILImage.fromarray(pixels).save(args.out)
    log.info("wrote %s (%dx%d, %s)", args.out, pixels.shape[1], pixels.shape[0], image.photometric)
    return 0
