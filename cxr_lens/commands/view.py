"""``cxr-lens [view] [PATH] [--screenshot OUT.png] [--fresh] [--pack DIR]``: open the viewer."""
from __future__ import annotations


def register(subparsers) -> None:
    """Add the ``view`` sub-command."""
    from desktop.app import add_arguments

    parser = subparsers.add_parser("view", help="open the viewer (a file, folder or DICOMDIR)")
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the viewer; returns its exit code (2 when PATH could not be shown with --screenshot)."""
    from desktop.app import run as run_viewer

    return run_viewer(args.path, args.screenshot, args.fresh, args.pack)
