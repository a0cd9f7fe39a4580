"""Offline executable benchmark: bundle size, build time, frozen against source start-up (issue 19).

Builds ``dist/`` with ``build_spec/make_dist.py`` in the CPU-only build environment (``.venv-dist``,
created through the Makefile when missing) and times it, then measures in the same run, for the
frozen build and for the source install (``.venv``, the development environment) as the baseline:

* cold ``predict``: from process start to exit of ``cxr-lens predict DEMO --json``;
* viewer first image: from process start to the viewer's "first image on screen" log line
  (``cxr-lens view DEMO --screenshot``, offscreen; the process is stopped there).

"Cold" means the kernel's page cache was dropped (``/proc/sys/vm/drop_caches``, needs root) before
every run; where that is refused the runs are page-cache-warm and the JSON says so. Targets: frozen
cold predict <= 5 s, viewer first image <= 3 s; bundle <= 1.2 GB.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import markdown_table, write_results  # noqa: E402

DIST_PYTHON = ROOT / ".venv-dist" / "bin" / "python"
SOURCE_PYTHON = ROOT / ".venv" / "bin" / "python"
BUNDLE = ROOT / "dist" / "cxr-lens"
DEMO = ROOT / "resources" / "demo" / "demo02_effusion"
REPEATS = 3
LIMITS = {"bundle_gb": 1.2, "frozen_cold_predict_s": 5.0, "frozen_viewer_first_image_s": 3.0}


def drop_page_cache() -> bool:
    """Drop the kernel's page cache (root only); return whether it was dropped."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def parts(bundle: Path, count: int = 10) -> list[tuple[str, int]]:
    """The ``count`` largest top-level entries of the bundle's ``_internal/`` with their bytes."""
    from build_spec.make_dist import folder_bytes

    sizes = [(entry.name, folder_bytes(entry) if entry.is_dir() else entry.lstat().st_size)
             for entry in (bundle / "_internal").iterdir()]
    return sorted(sizes, key=lambda item: -item[1])[:count]


def timed_predict(command: list[str], demo: Path) -> float:
    """Seconds from start to exit of ``predict`` (it must succeed)."""
    start = time.perf_counter()
    subprocess.run([*command, "predict", str(demo), "--json"], check=True, capture_output=True, timeout=600)
    return time.perf_counter() - start


def timed_first_image(command: list[str], demo: Path, work: Path) -> float:
    """Seconds from start to the viewer's "first image on screen" line on stderr."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CXR_LENS_SETTINGS=str(work / "settings.ini"))
    start = time.perf_counter()
    process = subprocess.Popen([*command, "view", str(demo), "--screenshot", str(work / "shot.png")],
                               env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:
            if "first image on screen" in line:
                return time.perf_counter() - start
        raise RuntimeError(f"the viewer ended (exit code {process.wait()}) without showing {demo}")
    finally:
        process.kill()
        process.wait()


def measure(name: str, command: list[str], demo: Path, work: Path) -> dict:
    """Cold runs (page cache dropped before each) of predict and of the viewer's first image."""
    predict, viewer, dropped = [], [], []
    for _ in range(REPEATS):
        dropped.append(drop_page_cache())
        predict.append(timed_predict(command, demo))
        dropped.append(drop_page_cache())
        viewer.append(timed_first_image(command, demo, work))
    print(f"{name}: predict {predict}, first image {viewer}", file=sys.stderr)
    return {"cold_predict_s": {"median": statistics.median(predict), "runs": predict},
            "viewer_first_image_s": {"median": statistics.median(viewer), "runs": viewer},
            "page_cache_dropped": all(dropped)}


def main() -> int:
    """Build, measure, print the table, write bench/results/dist.json and the BENCHMARKS.md section."""
    load = os.getloadavg()[0]
    subprocess.run(["make", "--no-print-directory", ".venv-dist/.installed"], check=True, cwd=ROOT)
    subprocess.run([str(DIST_PYTHON), str(ROOT / "build_spec" / "make_dist.py")], check=True, cwd=ROOT)
    info = json.loads((ROOT / "dist" / "build-info.json").read_text())
    demo = sorted(DEMO.glob("*.dcm"))[0]  # the frontal view
    with tempfile.TemporaryDirectory() as tmp:
        frozen = measure("frozen", [str(BUNDLE / "cxr-lens")], demo, Path(tmp))
        source = measure("source", [str(SOURCE_PYTHON), "-m", "cxr_lens"], demo, Path(tmp))
    largest = parts(BUNDLE)
    results = {
        "bundle_bytes": info["bundle_bytes"], "archive_bytes": info["archive_bytes"],
        "build_seconds": info["build_seconds"], "archive_seconds": info["archive_seconds"],
        "largest_parts": [{"name": n, "bytes": b} for n, b in largest],
        "frozen": frozen, "source": source, "limits": LIMITS, "load_average_1min_at_start": load,
        "cold_predict_ratio_frozen_to_source": frozen["cold_predict_s"]["median"] / source["cold_predict_s"]["median"],
        "viewer_first_image_ratio_frozen_to_source":
            frozen["viewer_first_image_s"]["median"] / source["viewer_first_image_s"]["median"],
    }
    cold = "page cache dropped before every run" if frozen["page_cache_dropped"] and source["page_cache_dropped"] \
        else "page cache NOT dropped (not permitted): warm starts"
    table = markdown_table(
        ["figure", "frozen (CPU torch)", "source (.venv, CUDA torch on CPU)", "ratio", "limit"],
        [["cold predict (s, median of 3)", frozen["cold_predict_s"]["median"], source["cold_predict_s"]["median"],
          results["cold_predict_ratio_frozen_to_source"], LIMITS["frozen_cold_predict_s"]],
         ["viewer first image (s, median of 3)", frozen["viewer_first_image_s"]["median"],
          source["viewer_first_image_s"]["median"], results["viewer_first_image_ratio_frozen_to_source"],
          LIMITS["frozen_viewer_first_image_s"]]])
    sizes = markdown_table(["part of _internal/", "MB"], [[n, round(b / 1e6, 1)] for n, b in largest])
    section = (f"## Offline executable (`bench/dist.py`)\n\nBundle `dist/cxr-lens/`: {info['bundle_bytes'] / 1e9:.3f} GB "
               f"(limit 1.2 GB); archive {info['archive']}: {info['archive_bytes'] / 1e9:.3f} GB. Build "
               f"{info['build_seconds']:.0f} s (PyInstaller), archive {info['archive_seconds']:.0f} s. "
               f"Start-up, {cold}; 1-minute load average {load:.1f} at the start (other jobs share the "
               f"cores):\n\n{table}\n\nTen largest parts (docs/DIST.md says what each is):\n\n{sizes}")
    print(table)
    print(sizes)
    write_results("dist", results, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
