"""``python -m training <step> …``: run one step of the training pipeline.

Each step is a module with ``register(subparsers)`` that adds its parser and sets ``func=run``,
where ``run(args) -> int``; the same contract as the ``cxr-lens`` sub-commands (GUIDE §6).
Exit codes: 0 success, 1 usage error, 2 input that could not be read.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from cxr_lens.cli import EXIT_USAGE, UsageParser, run_parsed


# step name -> module defining it; ONE LINE PER STEP (listed explicitly for frozen builds).
STEP_MODULES: dict[str, str] = {
    "fetch-openi": "training.fetch_openi",
    "manifest": "training.manifest.step",
    "prepare": "training.prepare",
    "synth": "training.paired",
    "train": "training.train",
    "calibrate": "training.calibrate",
    "evaluate": "training.evaluate",
    "export": "training.export",
    "index": "training.index",
    "all": "training.pipeline",
}


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every step in :data:`STEP_MODULES` registered."""
    parser = UsageParser(prog="python -m training", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    subparsers = parser.add_subparsers(dest="step", parser_class=UsageParser, metavar="STEP")
    for module in STEP_MODULES.values():
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one step; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.step is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return run_parsed(args, "training")


if __name__ == "__main__":
    sys.exit(main())
