"""``python -m training all``: one command from the paired set to a model pack.

Runs train → calibrate → evaluate (test split, once) → export. The paired set itself is made by
the ``synth`` step (see its help); this step says so when it is missing.
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
    if not manifest.is_file():
        raise EngineError("the paired data set is missing", path=manifest,
                          hint="build it first with `python -m training synth` (see its --help)")
    started = time.perf_counter()
    run = train(config, resume)
    calibrate_run(run)
    evaluate_run(run)
    pack = export_run(run, out_dir or bundled_pack_dir(), name, version, [f"{version}: {changelog}"])
    log.info("pack %s built from run %s in %.1f min", pack, run, (time.perf_counter() - started) / 60)
    return pack


def register(subparsers) -> None:
    """Add the ``all`` step."""
    parser = subparsers.add_parser("all", help="train, calibrate, evaluate and export a pack in one go")
    parser.add_argument("--config", default=str(ROOT / "training" / "configs" / "demo.yaml"))
    parser.add_argument("--out", help="pack folder (default: the bundled pack, resources/pack)")
    parser.add_argument("--name", default="cxr-lens-demo")
    parser.add_argument("--version", default="0.1.0")
    parser.add_argument("--changelog", default="demo pack trained from scratch on the synthetic paired set")
    parser.add_argument("--resume", help="continue an interrupted run folder")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Run the whole pipeline; print the pack folder."""
    print(build_pack(args.config, args.out, args.name, args.version, args.changelog, args.resume))
    return 0
