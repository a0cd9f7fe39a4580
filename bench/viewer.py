"""Viewer benchmark: cold start to first image, open-next-study time, event-loop stalls, memory.

Runs headless (``QT_QPA_PLATFORM=offscreen``). Each figure comes with a baseline measured in the
same run:

* cold start: a fresh process from launch to the first image on screen, against a bare Qt
  process that only opens an empty window;
* open next study: from ``open_path`` to the image on screen in a warm viewer, against the
  engine's own read + display pipeline for the same file without any GUI;
* event-loop stall: the largest gap between ticks of a 10 ms QTimer while the engine predicts,
  fuses a report, and explains (Grad-CAM, Integrated Gradients) on the worker threads, against the
  same timer in an idle viewer; the issue's limit is 100 ms;
* peak memory (max RSS) of the viewer process with the pack loaded.

Uses the bundled pack when resources/pack exists, else builds the tiny random-weight test pack
(timings then reflect that tiny model; the JSON says which).
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import markdown_table, pydicom_data_dir, require_data, write_results  # noqa: E402

STALL_LIMIT_MS = 100.0
REPEATS = 3


def _data_files() -> list[Path]:
    """Studies to open: the bundled demo studies, else pydicom-data's chest radiograph files."""
    import engine

    demo = engine.demo_studies_dir()
    studies = sorted(p for p in demo.iterdir() if p.is_dir()) if demo.is_dir() else []
    if len(studies) >= 2:
        return studies[:4]
    data = require_data(pydicom_data_dir(), "the demo studies and pydicom-data's files",
                        "run `make setup` (demo studies) or install the dev extra: pip install -e .[dev]")
    return [data / "RG1_UNCR.dcm", data / "RG1_J2KR.dcm", data / "RG3_UNCR.dcm"]


def _pack_dir(work: Path) -> tuple[Path, str]:
    import engine

    bundled = engine.bundled_pack_dir()
    if (bundled / "manifest.json").exists():
        return bundled, "bundled"
    from tests.engine.conftest import build_tiny_pack
    return build_tiny_pack(work / "tiny"), "tiny random-weight test pack"


# ----------------------------------------------------------------------------- child processes
def _child_cold(path: str, pack: str) -> None:
    """Start the viewer as `cxr-lens view PATH` would; print seconds from import to first image."""
    from PySide6 import QtCore

    from desktop.app import build_window
    app, window = build_window(fresh=True, pack=pack)
    window.show()
    shown = {}
    window.image_shown.connect(lambda _image: shown.setdefault("t", time.time()))
    window.open_path(path)
    timer = QtCore.QElapsedTimer()
    timer.start()
    while "t" not in shown and timer.elapsed() < 60_000:
        app.processEvents(QtCore.QEventLoop.AllEvents, 10)
    # pack load (torch import, verification, selftest) and the first prediction, on the workers
    load_gap, _ = _max_gap_ms(app, window.runner, lambda: None)
    print(json.dumps({"shown": shown.get("t"), "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "pack_loaded": window.plugin_docks["engine"].widget().predictor is not None,
                      "load_max_gap_ms": load_gap, "ready": time.time()}))
    window.close()


def _child_bare() -> None:
    """Baseline: a bare Qt process showing an empty window."""
    from PySide6 import QtWidgets
    app = QtWidgets.QApplication([sys.argv[0]])
    window = QtWidgets.QMainWindow()
    window.show()
    app.processEvents()
    print(json.dumps({"shown": time.time()}))


def _spawn(*args: str) -> tuple[float, dict]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), CXR_LENS_SETTINGS=str(Path(tempfile.mkdtemp()) / "s.ini"))
    start = time.time()
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True,
                          timeout=600, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["shown"] - start, result


# ----------------------------------------------------------------------------- in-process parts
def _wait(runner, app) -> None:
    from PySide6 import QtCore
    loop = QtCore.QEventLoop()
    runner.busy_changed.connect(lambda busy: None if busy else loop.quit())
    if runner.busy:
        loop.exec()


def _max_gap_ms(app, runner, start_work, idle_s: float | None = None) -> tuple[float, float]:
    """Run ``start_work`` (or idle for ``idle_s``) while a 10 ms timer ticks; return (max, median) gap."""
    from PySide6 import QtCore
    ticks: list[float] = [time.perf_counter()]
    timer = QtCore.QTimer(interval=10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    if idle_s is not None:
        loop = QtCore.QEventLoop()
        QtCore.QTimer.singleShot(int(idle_s * 1000), loop.quit)
        loop.exec()
    else:
        start_work()
        _wait(runner, app)
    timer.stop()
    ticks.append(time.perf_counter())  # the work's start and end bound the first and last gap
    gaps = [(b - a) * 1000 for a, b in zip(ticks, ticks[1:])]
    return max(gaps), statistics.median(gaps)


def _in_process(files: list[Path], pack: Path) -> dict:
    from PySide6 import QtCore

    import engine
    from desktop.app import build_window
    from desktop.engine_plugin import analyse_report, predict_image

    os.environ["CXR_LENS_SETTINGS"] = str(Path(tempfile.mkdtemp()) / "s.ini")
    app, window = build_window(fresh=True, pack=pack)
    window.resize(1600, 1000)
    window.show()
    panel = window.plugin_docks["engine"].widget()
    panel.start_pending_load()
    window.runner.wait_idle(300)
    results: dict = {}

    opens, engine_only = [], []
    for _ in range(REPEATS):
        for path in files:
            shown = {}
            window.image_shown.connect(lambda _i, s=shown: s.setdefault("t", time.perf_counter()))
            start = time.perf_counter()
            window.open_path(path)
            while "t" not in shown:
                app.processEvents(QtCore.QEventLoop.AllEvents, 5)
            opens.append(shown["t"] - start)
            window.image_shown.disconnect()
            _wait(window.runner, app)
            start = time.perf_counter()
            image = engine.read_path(path).images[0]
            engine.modality_values(image)
            engine_only.append(time.perf_counter() - start)
    results["open_next_study_s"] = {"median": statistics.median(opens), "max": max(opens)}
    results["engine_read_display_s"] = {"median": statistics.median(engine_only)}
    results["open_next_study_ratio_to_engine"] = statistics.median(opens) / statistics.median(engine_only)

    image = window.current_image
    idle_max, idle_median = _max_gap_ms(app, window.runner, None, idle_s=2.0)
    results["stall_idle_ms"] = {"max": idle_max, "median": idle_median}
    runs = {
        "predict": lambda: window.runner.submit(predict_image, panel.predictor, image),
        "predict_with_report": lambda: window.runner.submit(
            analyse_report, panel.predictor, image,
            "FINDINGS: Heart size is enlarged. Small left pleural effusion. IMPRESSION: Cardiomegaly."),
    }
    for method in ("gradcam", "ig"):
        runs[f"explain_{method}"] = _explain_job(window.runner, panel.predictor, image, method)
    for name, job in runs.items():
        gaps = [_max_gap_ms(app, window.runner, job) for _ in range(REPEATS)]
        results[f"stall_{name}_ms"] = {"max": max(g[0] for g in gaps), "median": statistics.median(g[1] for g in gaps)}
    window.close()
    return results


def _explain_job(runner, predictor, image, method: str):
    """Start the viewer's own heatmap job (explanation + overlay colouring) on the workers."""
    from desktop.engine_plugin import _MODEL_LOCK
    from desktop.widgets.heatmap_panel import explain_with_overlay
    label = predictor.labels[0]
    return lambda: runner.submit(explain_with_overlay, predictor, image, label, method, None, _MODEL_LOCK)


def main() -> None:
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-viewer-"))
    files = _data_files()
    pack, pack_kind = _pack_dir(work)
    cold = [_spawn("--child-cold", str(files[0]), str(pack)) for _ in range(REPEATS)]
    bare = [_spawn("--child-bare")[0] for _ in range(REPEATS)]
    cold_s = statistics.median(c[0] for c in cold)
    bare_s = statistics.median(bare)
    results = {
        "pack": pack_kind,
        "files": [str(p) for p in files],
        "cold_start_first_image_s": {"median": cold_s, "max": max(c[0] for c in cold), "limit": 3.0},
        "bare_qt_window_s": {"median": bare_s},
        "cold_start_ratio_to_bare_qt": cold_s / bare_s,
        "peak_rss_mb_with_pack": max(c[1]["max_rss_mb"] for c in cold),
        "pack_loaded_in_cold_run": all(c[1]["pack_loaded"] for c in cold),
        "cold_start_to_findings_s": {"median": statistics.median(c[1]["ready"] - c[1]["shown"] + c[0] for c in cold)},
        "stall_pack_load_cold_ms": {"max": max(c[1]["load_max_gap_ms"] for c in cold)},
    }
    results.update(_in_process(files, pack))
    # other processes on the machine slow every figure; say how busy it was
    results["load_average_1min"] = {"start": load_before, "end": os.getloadavg()[0]}
    stall_rows = [[key.removeprefix("stall_").removesuffix("_ms"), value["max"], value.get("median", "")]
                  for key, value in results.items() if key.startswith("stall_")]
    table = markdown_table(
        ["figure", "viewer", "baseline", "ratio"],
        [["cold start to first image (s)", cold_s, bare_s, cold_s / bare_s],
         ["cold start to findings shown (s)", results["cold_start_to_findings_s"]["median"], "", ""],
         ["open next study (s, median)", results["open_next_study_s"]["median"],
          results["engine_read_display_s"]["median"], results["open_next_study_ratio_to_engine"]]])
    stalls = markdown_table(["work on the workers", "max gap (ms)", "median gap (ms)"], stall_rows)
    section = (f"## Viewer\n\nPack: {pack_kind}; 1-minute load average {load_before:.1f} at the start "
               f"(other jobs share the 2 cores). Baselines: a bare Qt window process; the engine's read + "
               f"modality LUT without GUI; an idle event loop.\n\n{table}\n\nEvent-loop gaps of a 10 ms "
               f"QTimer (limit {STALL_LIMIT_MS:.0f} ms):\n\n{stalls}\n\nPeak RSS with the pack loaded: "
               f"{results['peak_rss_mb_with_pack']:.0f} MB.")
    write_results("viewer", results, section)
    print(table)
    print(stalls)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-cold":
        _child_cold(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--child-bare":
        _child_bare()
    else:
        main()
