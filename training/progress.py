"""Progress for long training steps: a tqdm bar on a terminal, a plain log line now and then otherwise.

A bar redrawn into a log file or a pipe writes thousands of lines; when stderr is not a TTY the
same loop logs ``desc: done/total (percent, elapsed, rate)`` at most every ``every_s`` seconds
(and once at the end), with the last postfix values.
"""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator

log = logging.getLogger(__name__)

EVERY_S = 30.0


class LogProgress:
    """An iterable wrapper with tqdm's ``set_postfix`` that logs plain progress lines.

    Parameters
    ----------
    iterable
        What to iterate over.
    desc
        Name of the loop in the log lines.
    total
        Number of items (``len(iterable)`` when it has one).
    every_s
        Least time between two lines, seconds.
    """

    def __init__(self, iterable: Iterable, desc: str = "", total: int | None = None, every_s: float = EVERY_S):
        self.iterable = iterable
        self.desc = desc or "progress"
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.every_s = every_s
        self.postfix = ""

    def set_postfix(self, values: dict) -> None:
        """Remember ``{name: value}`` to append to the next line."""
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def _line(self, done: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        of = f"/{self.total} ({100 * done / self.total:.0f}%)" if self.total else ""
        rate = f", {done / elapsed:.2f}/s" if elapsed > 0 else ""
        log.info("%s: %d%s, %.0f s%s%s", self.desc, done, of, elapsed, rate,
                 f" [{self.postfix}]" if self.postfix else "")

    def __iter__(self) -> Iterator:
        started = last = time.perf_counter()
        done = 0
        for item in self.iterable:
            yield item
            done += 1
            if time.perf_counter() - last >= self.every_s:
                self._line(done, started)
                last = time.perf_counter()
        self._line(done, started)


def progress(iterable: Iterable, desc: str = "", total: int | None = None, stream=None):
    """Wrap ``iterable`` in a tqdm bar when ``stream`` (default stderr) is a TTY, else in :class:`LogProgress`."""
    stream = sys.stderr if stream is None else stream
    if getattr(stream, "isatty", lambda: False)():
        from tqdm import tqdm
        return tqdm(iterable, desc=desc, total=total, file=stream)
    return LogProgress(iterable, desc, total)
