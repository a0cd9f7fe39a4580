"""``cxr-lens --version`` (or ``cxr-lens version [--json] [--pack DIR]``): app, engine and pack versions."""
from __future__ import annotations

import json


def register(subparsers) -> None:
    """Add the ``version`` sub-command (``--version`` is its alias, see cxr_lens.cli)."""
    parser = subparsers.add_parser("version", help="app, engine and model pack versions (also --version)")
    parser.add_argument("--pack", metavar="DIR", help="model pack folder (default: the bundled pack)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.set_defaults(func=run)


def describe_versions(pack_dir: str | None = None) -> dict:
    """Return ``{"app": version, **engine.version_info(pack_dir)}``."""
    from cxr_lens import __version__
    from engine.about import version_info

    return {"app": __version__, **version_info(pack_dir)}


def format_versions(info: dict) -> str:
    """The human-readable lines of ``describe_versions``; the About dialog shows the same lines."""
    pack = info["pack"]
    pack_line = (f"pack {pack['name']} {pack['version']} (sha256 {pack['sha256']})" if "sha256" in pack
                 else f"pack: {pack['error']}")
    build = "offline executable" if info["frozen"] else "from source"
    return "\n".join([f"cxr-lens {info['app']}",
                      f"engine {info['engine']} (pack schema {info['pack_schema']}, Python {info['python']}, {build})",
                      pack_line, f"pack folder {pack['path']}"])


def run(args) -> int:
    """Print the versions; exit code 2 when the pack cannot be read (the message says why)."""
    info = describe_versions(args.pack)
    print(json.dumps(info, indent=2) if args.json else format_versions(info))
    return 0 if "sha256" in info["pack"] else 2
