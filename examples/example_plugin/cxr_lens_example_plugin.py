"""A minimal CXR Lens analysis plugin: grey-level statistics of the image on screen.

Install it next to the viewer (``pip install -e examples/example_plugin``) and it appears as a
dock called "Image statistics". It shows the three things every plugin does: react to the image
shown (``context.image_changed``), run its work off the GUI thread (``context.runner.submit``),
and report results and errors through the viewer.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtWidgets


def image_statistics(values: np.ndarray) -> dict[str, float]:
    """Minimum, maximum, mean and 1st/50th/99th percentiles of an image (real units)."""
    finite = values[np.isfinite(values)]
    p1, p50, p99 = np.percentile(finite, [1, 50, 99])
    return {"min": float(finite.min()), "max": float(finite.max()), "mean": float(finite.mean()),
            "p1": float(p1), "median": float(p50), "p99": float(p99)}


class ImageStatsPanel(QtWidgets.QLabel):
    """A label listing the statistics of the current image."""

    def __init__(self, context):
        super().__init__("Open an image.")
        self.setWordWrap(True)
        self.setMargin(8)
        self.context = context
        self.stats: dict[str, float] | None = None
        context.image_changed.connect(self.on_image)

    def on_image(self, image, data) -> None:
        if data is None:
            self.setText("Open an image.")
            return
        self.setText("Computing …")
        self.context.runner.submit(image_statistics, data.values, name="image statistics",
                                   on_result=self.show_stats,
                                   on_error=lambda error: self.context.show_error("Image statistics failed", error))

    def show_stats(self, stats: dict[str, float]) -> None:
        self.stats = stats
        self.setText("<br>".join(f"<b>{key}</b> {value:.1f}" for key, value in stats.items()))


class ImageStatsPlugin:
    """The plugin object the entry point names."""

    name = "image_stats"
    title = "Image statistics"

    def create_panel(self, context):
        return ImageStatsPanel(context)
