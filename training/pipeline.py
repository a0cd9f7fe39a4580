"""``python -m training all``: one command from the paired set to a model pack.

Runs synth (only when the paired set is missing) → train → calibrate → evaluate (test split,
once) → export → index. The bundled pack's index keeps labels but no report text, because the
pack is committed to the repository and Open-i report text must not be.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from engine.errors import EngineError

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent


def build_pack(config_path: str | Path, out_dir: str | Path, name: str, version: str, changelog: str,
               resume: str | None = None) -> Path:
    """Train, calibrate, evaluate and export; return the pack folder."""
    from engine.resources import bundled_pack_dir
    from training.calibrate import calibrate_run
    from training.evaluate import evaluate_run
    from training.export import export_run
    from training.train import load_config, train

    config = load_config(config_path)
    manifest = ROOT / config["data"]["manifest"]
    started = time.perf_counter()
    if not manifest.is_file():
        _build_paired_set(manifest.parent, float(config["data"].get("synth", {}).get("severity_floor", 0.0)))
    run = train(config, resume)
    calibrate_run(run)
    evaluate_run(run)
    pack = export_run(run, out_dir or bundled_pack_dir(), name, version, [f"{version}: {changelog}"])
    index = config.get("index") or {}
    if index.get("split"):
        from training.index import build_pack_index
        build_pack_index(pack, manifest, ROOT / config["data"].get("cache_dir", "data/cache"), index["split"],
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
    parser.add_argument("--out", help="pack folder (default: the bundled pack, resources/pack)")
    parser.add_argument("--name", default="cxr-lens-demo")
    parser.add_argument("--version", default="0.4.0", help="pack version (default: the bundled pack's)")
    parser.add_argument("--changelog", default="demo pack trained from scratch on the synthetic paired set")
    parser.add_argument("--resume", help="continue an interrupted run folder")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the whole pipeline; print the pack folder."""
    print(build_pack(args.config, args.out, args.name, args.version, args.changelog, args.resume))
    return 0
