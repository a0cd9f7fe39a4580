"""The one place where engine calls are put on threads.

Long work is a plain function, or a generator that yields progress and returns its result
(GUIDE §4.5). :class:`TaskRunner` runs either on a ``QThreadPool`` and delivers progress,
result and errors to callbacks **on the GUI thread**; widgets are never touched from a worker.
A generator task can be cancelled between two yields.
"""
from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6 import QtCore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """Progress of a task: ``fraction`` in [0, 1] (or ``None`` when unknown) and a message."""

    fraction: float | None
    message: str = ""


def as_progress(item: Any) -> Progress:
    """Turn what a generator yielded into :class:`Progress`.

    Accepts a number in [0, 1], a ``(done, total)`` pair, a string, or an object with
    ``fraction`` (or ``done``/``total``) and optionally ``message`` attributes.
    """
    if isinstance(item, Progress):
        return item
    if isinstance(item, (int, float)):
        return Progress(min(max(float(item), 0.0), 1.0))
    if isinstance(item, str):
        return Progress(None, item)
    if isinstance(item, tuple) and len(item) == 2 and all(isinstance(v, (int, float)) for v in item):
        done, total = item
        return Progress(done / total if total else None)
    fraction = getattr(item, "fraction", None)
    if fraction is None and getattr(item, "total", None):
        fraction = getattr(item, "done", 0) / item.total
    message = getattr(item, "message", "") or getattr(item, "stage", "") or ""
    return Progress(None if fraction is None else float(fraction), str(message))


class Cancelled(Exception):
    """Raised inside a worker when the user cancelled a generator task."""


class _Signals(QtCore.QObject):
    progress = QtCore.Signal(object)
    result = QtCore.Signal(object)
    error = QtCore.Signal(object)
    done = QtCore.Signal()


class _Relay(QtCore.QObject):
    """Lives on the GUI thread; its slots call the task's Python callbacks there."""

    def __init__(self, on_result, on_error, on_progress, on_done):
        super().__init__()
        self._on_result, self._on_error = on_result, on_error
        self._on_progress, self._on_done = on_progress, on_done

    @QtCore.Slot(object)
    def progress(self, value):
        if self._on_progress is not None:
            self._on_progress(value)

    @QtCore.Slot(object)
    def result(self, value):
        if self._on_result is not None:
            self._on_result(value)

    @QtCore.Slot(object)
    def error(self, exc):
        if self._on_error is not None:
            self._on_error(exc)
        else:
            log.error("background task failed: %s", exc)

    @QtCore.Slot()
    def done(self):
        self._on_done(self)


class TaskHandle:
    """What :meth:`TaskRunner.submit` returns: lets the caller cancel and query a task."""

    def __init__(self, name: str):
        self.name = name
        self._cancel = threading.Event()
        self.finished = False

    def cancel(self) -> None:
        """Ask the task to stop at its next yield (plain functions run to the end)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancel.is_set()


class _Task(QtCore.QRunnable):
    def __init__(self, handle: TaskHandle, fn: Callable, args, kwargs, signals: _Signals):
        super().__init__()
        self.setAutoDelete(True)
        self._handle, self._fn, self._args, self._kwargs = handle, fn, args, kwargs
        self._signals = signals

    def run(self) -> None:  # noqa: D102 - QRunnable API, runs on a pool thread
        try:
            value = self._fn(*self._args, **self._kwargs)
            if inspect.isgenerator(value):
                value = self._drive(value)
            if not self._handle.cancelled:
                self._signals.result.emit(value)
        except Cancelled:
            log.info("task %s cancelled", self._handle.name)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user, not kill the thread
            log.debug("task %s failed", self._handle.name, exc_info=True)
            self._signals.error.emit(exc)
        finally:
            self._handle.finished = True
            self._signals.done.emit()

    def _drive(self, generator):
        while True:
            if self._handle.cancelled:
                generator.close()
                raise Cancelled(self._handle.name)
            try:
                item = next(generator)
            except StopIteration as stop:
                return stop.value
            self._signals.progress.emit(as_progress(item))


class TaskRunner(QtCore.QObject):
    """Runs engine work on a thread pool; callbacks run on the GUI thread.

    Parameters
    ----------
    max_threads
        Worker threads (2 on the target machines: the model itself uses torch threads).
    """

    busy_changed = QtCore.Signal(bool)

    def __init__(self, max_threads: int = 2, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._live: set[tuple[_Relay, _Signals]] = set()

    def submit(
        self,
        fn: Callable,
        *args,
        name: str = "",
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        **kwargs,
    ) -> TaskHandle:
        """Run ``fn(*args, **kwargs)`` on a worker thread.

        If ``fn`` returns a generator, its yields are progress (see :func:`as_progress`) and its
        return value is the result; the task can then be cancelled between yields.
        """
        handle = TaskHandle(name or getattr(fn, "__name__", "task"))
        signals = _Signals()
        relay = _Relay(on_result, on_error, on_progress, self._finish)
        relay.key = (relay, signals)
        signals.progress.connect(relay.progress)
        signals.result.connect(relay.result)
        signals.error.connect(relay.error)
        signals.done.connect(relay.done)
        was_idle = not self._live
        self._live.add(relay.key)
        if was_idle:
            self.busy_changed.emit(True)
        self._pool.start(_Task(handle, fn, args, kwargs, signals))
        return handle

    def _finish(self, relay: _Relay) -> None:
        self._live.discard(relay.key)
        if not self._live:
            self.busy_changed.emit(False)

    @property
    def busy(self) -> bool:
        """Whether any task is queued or running (or its callbacks are not yet delivered)."""
        return bool(self._live)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Process events until every task has delivered its callbacks; ``False`` on timeout.

        Used by ``--screenshot``, tests and benchmarks, never by interactive code.
        """
        timer = QtCore.QElapsedTimer()
        timer.start()
        app = QtCore.QCoreApplication.instance()
        while self._live and timer.elapsed() < timeout_s * 1000:
            app.processEvents(QtCore.QEventLoop.AllEvents, 20)
            self._pool.waitForDone(5)
        app.processEvents()
        return not self._live
