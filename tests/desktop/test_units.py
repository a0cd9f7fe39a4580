"""Window presets and the worker runner (progress, cancel, errors on the GUI thread)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from desktop.windowing import Window, preset_window  # noqa: E402
from desktop.workers import Progress, TaskRunner, as_progress  # noqa: E402


def test_presets_mirror_percentiles_for_monochrome1():
    values = np.arange(10_000, dtype=np.float32).reshape(100, 100)
    lung2 = preset_window("lung", values)
    lung1 = preset_window("lung", values, monochrome1=True)
    # MONOCHROME2 lung window sits on low values, MONOCHROME1 on high ones
    assert lung2.center < 5000 < lung1.center
    assert lung1.width == pytest.approx(lung2.width, rel=0.01)
    assert preset_window("default", values, file_window=Window(1.0, 2.0)) == Window(1.0, 2.0)
    assert preset_window("default", values) == preset_window("auto", values)
    assert preset_window("bone", values, hounsfield=True) == Window(400.0, 1800.0)
    with pytest.raises(ValueError, match="unknown window preset"):
        preset_window("brain", values)


def test_window_drag_widens_and_moves():
    window = Window(100.0, 50.0)
    dragged = window.dragged(10, -5, 1.0)
    assert dragged.width == 70.0 and dragged.center == 95.0
    assert Window.from_levels(0.0, 10.0).levels == (0.0, 10.0)


def test_as_progress_accepts_common_shapes():
    assert as_progress(0.5) == Progress(0.5)
    assert as_progress((3, 4)).fraction == 0.75
    assert as_progress("loading").message == "loading"


def test_generator_progress_result_and_gui_thread(qtbot):
    runner = TaskRunner()
    gui = threading.get_ident()
    seen, threads, results = [], [], []

    def work():
        threads.append(threading.get_ident())
        for i in range(3):
            yield (i + 1, 3)
        return "done"

    def on_progress(progress):
        seen.append(progress.fraction)
        assert threading.get_ident() == gui

    runner.submit(work, on_progress=on_progress, on_result=results.append)
    assert runner.wait_idle(5)
    assert results == ["done"]
    assert seen == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert threads[0] != gui


def test_cancel_stops_a_generator_and_errors_are_delivered(qtbot):
    runner = TaskRunner()
    gate = threading.Event()
    steps, results, errors = [], [], []

    def slow():
        for i in range(100):
            steps.append(i)
            gate.wait(1)
            yield i / 100

    handle = runner.submit(slow, on_result=results.append)
    handle.cancel()
    gate.set()
    assert runner.wait_idle(5)
    assert results == [] and len(steps) < 100

    def broken():
        raise OSError("disk on fire")

    runner.submit(broken, on_error=errors.append)
    assert runner.wait_idle(5)
    assert isinstance(errors[0], OSError)
