"""``cxr-lens index add FOLDER`` and ``cxr-lens index info``: the user's own similar-case index."""
from __future__ import annotations

import json
import logging
import sys

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the ``index`` sub-command with its ``add`` and ``info`` actions."""
    parser = subparsers.add_parser("index", help="add your own studies to the similar-case search")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="embed the new images under FOLDER into your index (incremental)")
    add.add_argument("folder", help="file, folder (recursive) or DICOMDIR; reports are read from .txt files beside images")
    info = actions.add_parser("info", help="size and location of the pack's and your index")
    for action in (add, info):
        action.add_argument("--pack", help="model pack folder (default: the bundled pack)")
        action.add_argument("--index-dir", help="user index folder (default: $CXR_LENS_USER_INDEX or the data dir)")
        action.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    add.add_argument("--threads", type=int, default=2, help="CPU threads for the model (default 2)")
    parser.set_defaults(func=run, action=None)


def run(args) -> int:
    """Dispatch to ``add`` or ``info``."""
    if args.action is None:
        log.error("say what to do: `cxr-lens index add FOLDER` or `cxr-lens index info`")
        return 1
    return _add(args) if args.action == "add" else _info(args)


def _add(args) -> int:
    from pathlib import Path

    from engine.errors import EngineError
    from engine.predict import Predictor
    from engine.resources import bundled_pack_dir
    from engine.similar.search import default_user_index_dir
    from engine.similar.build import add_to_user_index

    if not Path(args.folder).exists():
        raise EngineError("no such file or folder", path=args.folder)
    predictor = Predictor(args.pack or bundled_pack_dir(), threads=args.threads)
    root = Path(args.index_dir) if args.index_dir else default_user_index_dir(predictor.pack.manifest)

    def progress(done: int, total: int) -> None:
        print(f"\rindexing {done}/{total}", end="", file=sys.stderr, flush=True)

    summary = add_to_user_index(args.folder, predictor, root, progress=None if args.json else progress)
    data = summary.to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(file=sys.stderr)
        print(f"added {len(summary.added)}, already indexed {len(summary.already_indexed)}, "
              f"refused {len(summary.refused)}, unreadable {len(summary.errors)}; "
              f"the index at {root} now holds {summary.count} cases")
        for path, reason in summary.refused + summary.errors:
            print(f"  skipped {path}: {reason}")
    return 0 if summary.added or summary.already_indexed or not (summary.refused or summary.errors) else 2


def _info(args) -> int:
    from pathlib import Path

    from engine.model.pack import read_manifest
    from engine.resources import bundled_pack_dir
    from engine.similar.search import default_user_index_dir
    from engine.similar.archive import CaseArchive
    from engine.similar.store import current_generation

    pack_dir = Path(args.pack or bundled_pack_dir())
    manifest = read_manifest(pack_dir)
    data = {"pack": {"path": str(pack_dir), "index": manifest.get("index")}}
    root = Path(args.index_dir) if args.index_dir else default_user_index_dir(manifest)
    live = current_generation(root) if root.is_dir() else None
    user = CaseArchive.load(live) if live is not None else None
    data["user"] = {"path": str(root), "snapshot": live.name if live else None,
                    "count": user.count if user else 0, "modes": user.mode_counts() if user else {}}
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    index = data["pack"]["index"] or {}
    print(f"pack index: {index.get('count', 0)} cases, modes {index.get('modes', {})} ({pack_dir / 'index'})")
    print(f"user index: {data['user']['count']} cases, modes {data['user']['modes']} ({root})")
    return 0
