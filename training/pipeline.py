"""``python -m training all``: one command from a manifest (or the paired set) to a model pack.

Runs synth (only when the demo's paired set is missing) → train → calibrate (temperatures,
thresholds and the OOD gate on the manifest's own validation split) → evaluate (test split,
once) → export → index. ``--manifest`` trains on any manifest (``python -m training manifest``). The bundled pack's index keeps labels but no report text, because the
pack is committed to the repository and Open-i report text must not be.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from engine.errors import EngineError

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
DEMO_VERSION = "0.4.0"   # the bundled pack's
DEMO_CHANGELOG = "demo pack trained from scratch on the synthetic paired set"


def build_pack(config_path: str | Path, out_dir: str | Path, name: str, version: str, changelog: str,
               resume: str | None = None, manifest: str | Path | None = None) -> Path:
    """Train, calibrate, evaluate and export; return the pack folder.

    ``manifest`` replaces the config's ``data.manifest`` (a CSV from ``python -m training manifest``
    or one of your own); the paired set is built only for a config's own missing manifest.
    """
    from engine.resources import bundled_pack_dir
    from training.calibrate import calibrate_run
    from training.evaluate import evaluate_run
    from training.export import export_run
    from training.train import cache_dir, load_config, manifest_path, train

    config = load_config(config_path)
    if manifest is not None:
        config["data"] = {**config["data"], "manifest": str(Path(manifest).resolve())}
    started = time.perf_counter()
    if manifest is None and not manifest_path(config).is_file():
        _build_paired_set(manifest_path(config).parent, float(config["data"].get("synth", {}).get("severity_floor", 0.0)))
    run = train(config, resume)
    calibrate_run(run)
    evaluate_run(run)
    pack = export_run(run, out_dir or bundled_pack_dir(), name, version, [f"{version}: {changelog}"])
    index = config.get("index") or {}
    if index.get("split"):
        from training.index import build_pack_index
        build_pack_index(pack, manifest_path(config), cache_dir(config), index["split"],
                         keep_text=bool(index.get("report_text", False)),
                         threads=int(config["train"].get("threads", 2)))
    log.info("pack %s built from run %s in %.1f min", pack, run, (time.perf_counter() - started) / 60)
    return pack


def _build_paired_set(out: Path, severity_floor: float) -> Path:
    """Run the synth step's builder into ``out`` (default size and seed); return the manifest path."""
    from training.openi import reports_path
    from training.paired import build_paired

    log.info("the paired set is missing; building it in %s", out)
    result = None
    for item in build_paired(reports_path(), out, severity_floor=severity_floor):
        if isinstance(item, Path):
            result = item
        elif item[0] % 500 == 0:
            log.info("paired set: %d / %d studies", *item)
    if result is None:
        raise EngineError("the paired-set builder wrote no manifest", path=out)
    return result


def register(subparsers) -> None:
    """Add the ``all`` step."""
    parser = subparsers.add_parser("all", help="train, calibrate, evaluate and export a pack in one go")
    parser.add_argument("--config", default=str(ROOT / "training" / "configs" / "demo.yaml"))
    parser.add_argument("--manifest", help="train on this manifest CSV instead of the config's data.manifest")
    parser.add_argument("--out", help="pack folder (required unless the config is the demo's, whose default "
                                      "is the bundled pack, resources/pack)")
    parser.add_argument("--name", help="pack name (default: cxr-lens-<config name>, cxr-lens-demo for the demo)")
    parser.add_argument("--version", help="pack version (default: the bundled pack's for the demo, else 0.1.0)")
    parser.add_argument("--changelog", help="one changelog line (default: what was trained on)")
    parser.add_argument("--resume", help="continue an interrupted run folder")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the whole pipeline; print the pack folder (exit 1 when a non-demo config has no --out)."""
    from cxr_lens.cli import EXIT_USAGE
    from training.train import load_config

    config = load_config(args.config)
    demo = config.get("name") == "demo" and args.manifest is None
    if args.out is None and not demo:
        log.error("give --out PACK_DIR: only the demo config may write the bundled pack")
        return EXIT_USAGE
    name = args.name or ("cxr-lens-demo" if demo else f"cxr-lens-{config['name']}")
    version = args.version or (DEMO_VERSION if demo else "0.1.0")
    changelog = args.changelog or (DEMO_CHANGELOG if demo else
                                   f"trained with {Path(args.config).name} on {args.manifest or config['data']['manifest']}")
    print(build_pack(args.config, args.out, name, version, changelog, args.resume, args.manifest))
    return 0
