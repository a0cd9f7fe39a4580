"""Distance measurement on the image: a movable line with its length in mm (or pixels)."""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6 import QtCore

MEASURE_PEN = pg.mkPen("#ffd43b", width=2)


class Measurement:
    """A distance line on the image with its label; lengths in mm when pixel spacing is known."""

    def __init__(self, image_item: pg.ImageItem, start: QtCore.QPointF, spacing):
        self._item = image_item
        self._spacing = spacing
        self.roi = pg.LineSegmentROI([start, start], pen=MEASURE_PEN, parent=image_item)
        self.label = pg.TextItem(color="#ffd43b", anchor=(0, 1), fill=pg.mkBrush(0, 0, 0, 160))
        self.label.setParentItem(image_item)
        self.roi.sigRegionChanged.connect(self.update)

    def set_end(self, end: QtCore.QPointF) -> None:
        """Move the second end point (image item coordinates)."""
        self.roi.movePoint(self.roi.getHandles()[1], end, finish=False, coords="parent")
        self.update()

    def points(self) -> tuple[QtCore.QPointF, QtCore.QPointF]:
        """End points in image pixel coordinates (x = column, y = row)."""
        a, b = (self.roi.mapToParent(h.pos()) for h in self.roi.getHandles())
        return a, b

    def length(self) -> tuple[float, str]:
        """Return (length, unit): mm with pixel spacing, else image pixels."""
        a, b = self.points()
        dx, dy = b.x() - a.x(), b.y() - a.y()
        if self._spacing is None:
            return math.hypot(dx, dy), "px"
        row_mm, col_mm = self._spacing
        return math.hypot(dx * col_mm, dy * row_mm), "mm"

    def update(self) -> None:
        """Refresh the label text and place it at the second end point."""
        value, unit = self.length()
        text = f"{value:.1f} mm" if unit == "mm" else f"{value:.1f} px (no pixel spacing)"
        self.label.setText(text)
        self.label.setPos(self.points()[1])

    def remove(self) -> None:
        """Take the line and its label off the image."""
        for item in (self.roi, self.label):
            scene = item.scene()
            if scene is not None:
                scene.removeItem(item)
            item.setParentItem(None)
