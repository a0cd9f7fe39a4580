"""Benchmark the batch scan against its own bounds: decode-only, model-only, local 1 and 2 workers, Ray.

Run ``python bench/scan.py`` (no arguments, a few minutes on 2 cores). On the same files — at least
``N_DICOM`` synthetic DICOMs of the paired set (``data/paired`` when it exists, else a small subset
built once into ``data/scan-bench/paired`` from the Open-i reports, ~1 min) and ``N_PNG`` PNG renders
of them — it measures, with the bundled pack, image only (no reports), torch on one thread:

* decode-only rate: header + pixel decode + display pipeline + the model's preprocessing, 1 process;
* model-only rate: the model's forward on preprocessed tensors, batches of ``MODEL_BATCH``, 1 thread
  (the bound), and for reference batch 1 (what the scans run: the gate decides per image);
* the local scan (``engine.scan.scan_folder``) with 1 and with 2 worker processes;
* the Ray scan (``engine.scan_ray.RayScan``, local runtime started by the scan) with 2 actors.

Each scan's rate is given two ways: over its whole wall time (pack load, worker / Ray start-up
included) and in steady state (first to last result), which is what a long archive scan sees.
Targets (steady state): local 1 worker >= 0.8 x min(decode-only, model-only); Ray with 2 actors
>= 0.7 x local with 2 workers (the same two cores). The load average before and after is recorded:
the cores are shared with other jobs.
"""
from __future__ import annotations

import csv
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import markdown_table, require_data, write_results  # noqa: E402

N_DICOM, N_PNG = 500, 100
MODEL_BATCH = 16
BENCH_DATA = ROOT / "data" / "scan-bench"
PAIRED = ROOT / "data" / "paired" / "manifest.csv"
SUBSET_REPORTS = 330  # reports rendered when the paired set is missing (frontal + most with a lateral)


def paired_dicoms() -> list[Path]:
    """The paired set's synthetic DICOMs (building the small subset when no paired set exists)."""
    manifest = PAIRED
    if not manifest.is_file():
        manifest = BENCH_DATA / "paired" / "manifest.csv"
    if not manifest.is_file():
        from training.openi import find_openi_dir
        from training.paired import build_paired
        from engine.errors import EngineError

        try:
            reports = find_openi_dir() / "NLMCXR_reports.tgz"
        except EngineError:
            reports = None
        require_data(reports, "the Open-i reports (to build the synthetic DICOMs)",
                     "fetch them with `python -m training fetch-openi`")
        start = time.perf_counter()
        for item in build_paired(reports, BENCH_DATA / "paired", limit=SUBSET_REPORTS, write_sr=False):
            manifest = item if isinstance(item, Path) else manifest
        print(f"built {manifest} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    with open(manifest, newline="", encoding="utf-8") as handle:
        paths = [manifest.parent / row["image_path"] for row in csv.DictReader(handle)
                 if row["source"] == "synthetic" and row["image_path"].endswith(".dcm")]
    return paths


def make_input(dicoms: list[Path], folder: Path) -> list[Path]:
    """A folder of ``N_DICOM`` DICOMs (symlinks) and ``N_PNG`` PNG renders; return the files."""
    from PIL import Image as PILImage

    from engine.images.display import render_uint8
    from engine.images.read import read_image

    if len(dicoms) < N_DICOM:
        raise SystemExit(f"only {len(dicoms)} synthetic DICOMs found; {N_DICOM} are needed")
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "dicom").mkdir(parents=True)
    (folder / "png").mkdir()
    files = []
    for number, source in enumerate(dicoms[:N_DICOM]):
        link = folder / "dicom" / f"{number:04d}.dcm"
        link.symlink_to(source)
        files.append(link)
    for number, source in enumerate(dicoms[:N_PNG]):
        png = folder / "png" / f"{number:04d}.png"
        PILImage.fromarray(render_uint8(read_image(source))).save(png)
        files.append(png)
    return files


def decode_rate(files: list[Path], predictor) -> dict:
    """Images/s of everything before the model, in this process."""
    from engine.images.display import display_float
    from engine.images.read import read_image

    start = time.perf_counter()
    for path in files:
        predictor.prepare(display_float(read_image(path)))
    seconds = time.perf_counter() - start
    return {"images": len(files), "seconds": seconds, "images_per_s": len(files) / seconds}


def model_rate(files: list[Path], predictor, batch: int) -> dict:
    """Images/s of the model's forward on preprocessed tensors in batches of ``batch``, one thread."""
    import torch

    from engine.images.display import display_float
    from engine.images.read import read_image

    tensors = [predictor.prepare(display_float(read_image(path)))[0] for path in files]
    predictor.forward(tensors[0])  # warm-up
    start = time.perf_counter()
    for first in range(0, len(tensors), batch):
        predictor.forward(torch.cat(tensors[first:first + batch]))
    seconds = time.perf_counter() - start
    return {"images": len(tensors), "batch": batch, "seconds": seconds, "images_per_s": len(tensors) / seconds}


def timed_scan(progresses, images: int) -> dict:
    """Run a scan's progress generator; images/s over the whole run and from first to last result."""
    start = time.perf_counter()
    first = last = None
    count = 0
    for progress in progresses:
        if progress.done > progress.skipped + count:  # a new record (not a closing total update)
            count += 1
            first = first or time.perf_counter()
            last = time.perf_counter()
    wall = time.perf_counter() - start
    if count != images:
        raise SystemExit(f"the scan wrote {count} records for {images} images")
    steady = (count - 1) / (last - first) if last > first else float("nan")
    return {"images": count, "wall_s": wall, "startup_s": first - start, "images_per_s_wall": count / wall,
            "images_per_s_steady": steady}


def main() -> int:
    import torch

    from engine.predict import Predictor
    from engine.resources import bundled_pack_dir
    from engine.scan import scan_folder
    from engine.scan_ray import RayScan

    require_data(bundled_pack_dir() / "manifest.json", "the bundled pack", "run `make setup`")
    load_before = os.getloadavg()[0]
    folder = BENCH_DATA / "input"
    files = make_input(paired_dicoms(), folder)
    torch.set_num_threads(1)
    predictor = Predictor(bundled_pack_dir(), threads=1)
    results = {"files": {"dicom": N_DICOM, "png": N_PNG}, "decode_only": decode_rate(files, predictor),
               "model_only": model_rate(files, predictor, MODEL_BATCH),
               "model_only_batch_1": model_rate(files, predictor, 1)}
    out = BENCH_DATA / "out"
    for workers in (1, 2):
        shutil.rmtree(out, ignore_errors=True)
        results[f"local_{workers}_workers"] = timed_scan(
            scan_folder(folder, out, bundled_pack_dir(), workers=workers, use_reports=False), len(files))
    shutil.rmtree(out, ignore_errors=True)
    ray_scan = RayScan(folder, out, bundled_pack_dir(), use_reports=False, actors=2, batch=8)
    results["ray_2_actors"] = timed_scan(ray_scan.run(), len(files))
    results["ray_2_actors"]["images_per_node"] = dict(ray_scan.images_per_node)
    results["load_average_1min_before_after"] = [load_before, os.getloadavg()[0]]

    bound = min(results["decode_only"]["images_per_s"], results["model_only"]["images_per_s"])
    local1 = results["local_1_workers"]["images_per_s_steady"]
    local2 = results["local_2_workers"]["images_per_s_steady"]
    ray2 = results["ray_2_actors"]["images_per_s_steady"]
    bound_batch_1 = min(results["decode_only"]["images_per_s"], results["model_only_batch_1"]["images_per_s"])
    results["ratios"] = {"local_1_worker_to_min_decode_model": local1 / bound,
                         "local_1_worker_to_min_decode_model_batch_1": local1 / bound_batch_1,
                         "local_2_workers_to_min_decode_model": local2 / bound,
                         "ray_2_actors_to_local_2_workers": ray2 / local2,
                         "ray_2_actors_to_local_1_worker": ray2 / local1}
    results["targets_met"] = {"local_ge_0.8_bound": local1 >= 0.8 * bound, "ray_ge_0.7_local": ray2 >= 0.7 * local2}
    results["per_image_ms"] = {"decode": 1000 / results["decode_only"]["images_per_s"],
                               "model_batched": 1000 / results["model_only"]["images_per_s"],
                               "local_1_worker": 1000 / local1}
    rows = [["decode-only (1 process)", results["decode_only"]["images_per_s"], "", ""],
            [f"model-only (batch {MODEL_BATCH}, 1 thread)", results["model_only"]["images_per_s"], "", ""],
            ["model-only (batch 1, 1 thread; not the bound)", results["model_only_batch_1"]["images_per_s"], "", ""]]
    for key, label in (("local_1_workers", "local scan, 1 worker"), ("local_2_workers", "local scan, 2 workers"),
                       ("ray_2_actors", "Ray scan, 2 actors (local runtime)")):
        figures = results[key]
        rows.append([label, figures["images_per_s_steady"], figures["images_per_s_wall"], figures["startup_s"]])
    ratios = results["ratios"]
    section = (
        "## Batch scan: local and Ray against their bounds (`bench/scan.py`)\n\n"
        f"{N_DICOM} synthetic 512x512 DICOMs of the paired set and {N_PNG} PNG renders of them, bundled pack, "
        "image only (no reports), torch on one thread per process. Steady = first to last result; "
        "wall includes pack load and worker / Ray start-up.\n\n"
        + markdown_table(["measure", "images/s steady", "images/s wall", "start-up (s)"], rows)
        + "\n\n" + markdown_table(["ratio", "value", "target"], [
            ["local 1 worker / min(decode, model)", ratios["local_1_worker_to_min_decode_model"], ">= 0.8"],
            ["local 1 worker / min(decode, model at batch 1)",
             ratios["local_1_worker_to_min_decode_model_batch_1"], "(>= 0.8)"],
            ["local 2 workers / min(decode, model)", ratios["local_2_workers_to_min_decode_model"], ""],
            ["Ray 2 actors / local 2 workers", ratios["ray_2_actors_to_local_2_workers"], ">= 0.7"],
            ["Ray 2 actors / local 1 worker", ratios["ray_2_actors_to_local_1_worker"], ""]])
        + f"\n\nLoad average (1 min) before → after: {load_before:.1f} → {os.getloadavg()[0]:.1f} "
        "(2 cores shared with other jobs). The 2-node loopback cluster run (work on both nodes) is "
        "tests/engine/test_scan_ray.py.")
    write_results("scan", results, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
