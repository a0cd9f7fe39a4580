"""Entry point of the ``cxr-lens`` console script (GUIDE §6 is the contract).

Exit codes: 0 success, 1 usage error, 2 input that could not be read (the message says which
file and why). Commands with ``--json`` print one JSON document on stdout; logs go to stderr.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from engine.errors import EngineError

EXIT_OK, EXIT_USAGE, EXIT_INPUT = 0, 1, 2

# Each module in cxr_lens.commands registers one sub-command. Listed explicitly so that a frozen
# build (PyInstaller) sees the imports.
COMMAND_MODULES = (
    "cxr_lens.commands.view",
    "cxr_lens.commands.info",
    "cxr_lens.commands.render",
    "cxr_lens.commands.predict",
    "cxr_lens.commands.pack",
    "cxr_lens.commands.scan",
    "cxr_lens.commands.explain",
    "cxr_lens.commands.similar",
    "cxr_lens.commands.index",
    "cxr_lens.commands.label",
    "cxr_lens.commands.pacs",
    "cxr_lens.commands.version",
)


class UsageParser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors exit with code 1, not argparse's 2 (2 means bad input)."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse API
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every sub-command registered."""
    parser = UsageParser(prog="cxr-lens", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    subparsers = parser.add_subparsers(dest="command", parser_class=UsageParser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known = set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001 - argparse internals
    if argv[:1] == ["--version"]:
        argv[0] = "version"  # `cxr-lens --version [--json] [--pack DIR]`
    if not argv or (argv[0] not in known and argv[0] not in ("-h", "--help", "-v", "--verbose")):
        argv.insert(0, "view")  # `cxr-lens [PATH]` opens the viewer
    args = parser.parse_args(argv)
    if args.command is None:
        argv.append("view")
        args = parser.parse_args(argv)
    return run_parsed(args, "cxr-lens")


def run_parsed(args, prog: str) -> int:
    """Set up logging to stderr, run ``args.func`` and map engine errors to exit code 2."""
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # highdicom narrates every attribute module it copies into a result at INFO: only with --verbose
    logging.getLogger("highdicom").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return int(args.func(args) or EXIT_OK)
    except EngineError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
