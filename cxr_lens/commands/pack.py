"""``cxr-lens pack info|verify DIR [--json]``: describe a model pack or check it completely."""
from __future__ import annotations

import json
import time


def register(subparsers) -> None:
    """Add the ``pack`` sub-command with ``info`` and ``verify``."""
    parser = subparsers.add_parser("pack", help="describe or verify a model pack")
    parser.add_argument("action", choices=("info", "verify"),
                        help="info: the manifest in brief; verify: checksums, model build and selftest")
    parser.add_argument("dir", help="pack folder")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Print the pack summary, or verify it (a failure raises PackError: exit code 2)."""
    from engine.model.pack import describe_pack, load_pack, selftest

    if args.action == "info":
        info = describe_pack(args.dir)
        if args.json:
            print(json.dumps(info, indent=2))
            return 0
        print(f"{info['name']} {info['version']} (schema {info['schema_version']}), {info['files']} files, "
              f"{info['bytes'] / 1e6:.1f} MB")
        print(f"image encoder: {info['image_encoder']}, input {info['preprocessing']['size']} px")
        print(f"intended use: {info['intended_use']}")
        for label in info["labels"]:
            print(f"  {label['name']:<20} threshold {label['threshold']:.3f}  prevalence {label['prevalence']:.3f}")
        summary = info["metrics"].get("modes", {})
        for mode, values in summary.items():
            s = values["summary"]
            print(f"test {mode:<5}: macro AUROC {s['macro_auroc']:.3f}, macro F1 {s['macro_f1']:.3f}, ECE {s['ece']:.3f}")
        print(f"similar-case index: {'yes' if info['index'] else 'none'}")
        return 0
    start = time.perf_counter()
    pack = load_pack(args.dir, run_selftest=False)
    error = selftest(pack)
    result = {"ok": True, "path": str(pack.path), "files_checked": len(pack.manifest["files"]),
              "selftest_max_error": error, "seconds": round(time.perf_counter() - start, 3)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{pack.path}: OK ({result['files_checked']} files match their sha256, selftest passed, "
              f"max logit difference {error:.1e}, {result['seconds']:.2f} s)")
    return 0
