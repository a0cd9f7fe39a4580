"""``cxr-lens similar FILE [--report TEXT | --report-file F | --text "free text"] [--k 5] [--mode …] [--json]``."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from cxr_lens.report_input import add_report_options, read_report_option

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    """Add the ``similar`` sub-command."""
    parser = subparsers.add_parser("similar", help="the most similar cases from the pack's and your archive")
    parser.add_argument("file", nargs="?", help="DICOM, PNG or JPEG image (optional with --text or --report)")
    group = parser.add_mutually_exclusive_group()
    add_report_options(group, "the query study's report text", "file holding the query's report text (UTF-8)")
    group.add_argument("--text", help='free-text query through the text encoder, e.g. "left basilar consolidation"')
    parser.add_argument("--k", type=int, default=5, help="number of cases (default 5)")
    parser.add_argument("--mode", choices=("image", "text", "joint"),
                        help="embedding to search (default: joint with image and text, else the one given)")
    parser.add_argument("--pack", help="model pack folder (default: the bundled pack)")
    parser.add_argument("--index-dir",
                        help="user index folder, as for `index add` (default: $CXR_LENS_USER_INDEX or the data dir)")
    parser.add_argument("--no-user-index", action="store_true", help="search the pack's archive only")
    parser.add_argument("--thumbnails", metavar="DIR", help="write each result's thumbnail as DIR/<rank>_<id>.png")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the model (default 2)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.set_defaults(func=run)


def _write_thumbnails(folder: Path, cases) -> list[str]:
    from PIL import Image as PILImage

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for rank, case in enumerate(cases, start=1):
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in case.case_id)[:80]
        path = folder / f"{rank:02d}_{safe}.png"
        PILImage.fromarray(case.thumbnail).save(path)
        paths.append(str(path))
    return paths


def run(args) -> int:
    """Embed the query, search, print the cases."""
    from engine.images.read import read_image
    from engine.predict import Predictor
    from engine.resources import bundled_pack_dir
    from engine.similar.search import SimilarSearch

    if args.k < 1:
        log.error("--k must be at least 1")
        return 1
    report = read_report_option(args)
    if args.file is None and not (report or args.text):
        log.error("give an image FILE, a report (--report/--report-file) or a free-text query (--text)")
        return 1
    image = read_image(args.file) if args.file else None
    start = time.perf_counter()
    predictor = Predictor(args.pack or bundled_pack_dir(), threads=args.threads)
    search = SimilarSearch.open(predictor, args.index_dir, use_user_index=not args.no_user_index)
    load_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    result = search.query(image=image, report=report, text=args.text, k=args.k, mode=args.mode)
    query_ms = (time.perf_counter() - start) * 1000
    data = {"file": args.file, "pack": predictor.pack.manifest["name"],
            "pack_version": predictor.pack.manifest["version"],
            "archives": {name: archive.count for name, archive in search.archives.items()}, **result.to_dict(),
            "timing_ms": {"load": round(load_ms, 1), "query": round(query_ms, 1)}}
    if args.thumbnails:
        for case, path in zip(data["cases"], _write_thumbnails(Path(args.thumbnails), result.cases)):
            case["thumbnail"] = path
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    if result.gate is not None and result.gate.status != "pass":
        print(f"gate: {result.gate.status} — " + "; ".join(i.message for i in result.gate.issues))
    print(f"{result.mode} search over " + ", ".join(f"{n} archive ({c} cases)" for n, c in data["archives"].items())
          + f"; query labels ({result.query_label_source}): {', '.join(result.query_labels) or 'none'}")
    for rank, case in enumerate(result.cases, start=1):
        shared = ", ".join(case.shared_labels) or "-"
        print(f"{rank:2d}. {case.case_id} [{case.archive}] similarity {case.similarity:.3f}  "
              f"labels: {', '.join(case.labels) or '-'}  shared: {shared}")
        if case.snippet:
            print(f"    {case.snippet}")
    print(f"timing (ms): load {load_ms:.0f}, query {query_ms:.0f}")
    return 0
