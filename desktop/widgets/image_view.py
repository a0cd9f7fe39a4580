"""The image view: a pyqtgraph ImageItem in a ViewBox with the reading tools of a radiograph viewer.

Values shown are the modality-LUT output (real units), so window/level works in those units.
Mouse: left-drag pans (or measures in measure mode), right-drag sets window/level (horizontal:
width, vertical: level), wheel zooms. Rotation and flips are a transform of the image item, so
pixel readout, measurements and overlays stay on the original pixel grid.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from desktop import theme
from desktop.widgets.measurement import Measurement
from desktop.windowing import Window, preset_window

@dataclass
class ImageData:
    """What the view shows: one frame's values and how to display them.

    Attributes
    ----------
    values
        (rows, columns) float32 after the modality LUT, or (rows, columns, 3) RGB in [0, 1].
    file_window
        Window Center/Width (0028,1050/1051) of the file, ``None`` when absent.
    monochrome1
        Photometric Interpretation MONOCHROME1: low values are displayed bright.
    hounsfield
        Values are HU (CT), so fixed HU presets apply.
    pixel_spacing_mm
        (row spacing, column spacing) in mm, ``None`` when the file has none.
    """

    values: np.ndarray
    file_window: Window | None = None
    monochrome1: bool = False
    hounsfield: bool = False
    pixel_spacing_mm: tuple[float, float] | None = None

    @property
    def is_colour(self) -> bool:
        """Whether the values are RGB (no window/level)."""
        return self.values.ndim == 3


class _ReadingViewBox(pg.ViewBox):
    """ViewBox whose right-drag sets window/level and whose left-drag can draw a measurement."""

    window_dragged = QtCore.Signal(float, float)            # dx, dy in screen pixels
    measure_dragged = QtCore.Signal(object, object, bool)   # start, end (view coords), finished

    def __init__(self):
        super().__init__(invertY=True, lockAspect=True, enableMenu=False)
        self.measuring = False

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 - pyqtgraph API
        if ev.button() == QtCore.Qt.RightButton:
            ev.accept()
            delta = ev.screenPos() - ev.lastScreenPos()
            self.window_dragged.emit(delta.x(), delta.y())
        elif ev.button() == QtCore.Qt.LeftButton and self.measuring:
            ev.accept()
            start = self.mapSceneToView(ev.buttonDownScenePos())
            self.measure_dragged.emit(start, self.mapSceneToView(ev.scenePos()), ev.isFinish())
        else:
            super().mouseDragEvent(ev, axis)


class ImageView(QtWidgets.QWidget):
    """Image view with window/level, zoom, pan, rotate/flip, readout and distance measurement."""

    window_changed = QtCore.Signal(object)     # Window
    cursor_moved = QtCore.Signal(str)          # readout text, empty outside the image
    measured = QtCore.Signal(float, str)       # length, unit ("mm" or "px")
    view_changed = QtCore.Signal(object)       # view range [[x0, x1], [y0, y1]]

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.graphics = pg.GraphicsView(background=theme.BACKGROUND)
        self.view = _ReadingViewBox()
        self.graphics.setCentralItem(self.view)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setParentItem(self.image_item)
        self.overlay_item.setZValue(10)
        self.overlay_item.setVisible(False)
        self._overlay = None
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self._corners = {key: self._corner_label(key) for key in ("tl", "tr", "bl", "br")}
        self.graphics.installEventFilter(self)

        self.data: ImageData | None = None
        self.window: Window | None = None
        self.user_invert = False
        self.rotation = 0
        self.flip_h = self.flip_v = False
        self.measurements: list[Measurement] = []
        self._drawing: Measurement | None = None
        self._wl_scale = 1.0

        self.view.window_dragged.connect(self._on_window_drag)
        self.view.measure_dragged.connect(self._on_measure_drag)
        self.view.sigRangeChanged.connect(self._on_range_changed)
        self.window_changed.connect(lambda _window: self._update_zoom_corner())
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.setFocusPolicy(QtCore.Qt.StrongFocus)

    # ------------------------------------------------------------------ showing an image
    def set_image(self, data: ImageData, keep_view: bool = False) -> None:
        """Show ``data``; the window starts at the file's own window (or auto).

        ``keep_view`` keeps zoom, pan, rotation and window (used for the next frame).
        """
        previous = self.data
        self.data = data
        self.clear_measurements()
        self.image_item.setImage(data.values, autoLevels=False)
        if not (keep_view and previous is not None and previous.values.shape == data.values.shape):
            self.rotation, self.flip_h, self.flip_v = 0, False, False
            self._apply_transform()
            self.set_preset("default")
            self.fit()
        else:
            self._apply_levels()
        span = float(np.nanmax(data.values) - np.nanmin(data.values)) if data.values.size else 1.0
        self._wl_scale = max(span, 1e-6) / 1000.0

    # ------------------------------------------------------------------ window / level
    def set_preset(self, name: str) -> None:
        """Apply a window preset (see :mod:`desktop.windowing`)."""
        if self.data is None or self.data.is_colour:
            return
        self.set_window(preset_window(
            name, self.data.values, monochrome1=self.data.monochrome1,
            hounsfield=self.data.hounsfield, file_window=self.data.file_window))

    def set_window(self, window: Window) -> None:
        """Set the window (real units)."""
        self.window = window
        self._apply_levels()
        self.window_changed.emit(window)

    def set_inverted(self, inverted: bool) -> None:
        """Invert the grey scale on top of the file's photometric interpretation."""
        self.user_invert = inverted
        self._apply_levels()

    def _apply_levels(self) -> None:
        if self.data is None:
            return
        if self.data.is_colour:
            self.image_item.setLevels([0.0, 1.0])
            self.image_item.setLookupTable(None)
            return
        if self.window is not None:
            self.image_item.setLevels(self.window.levels)
        dark_high = self.data.monochrome1 != self.user_invert
        ramp = np.arange(256, dtype=np.uint8)
        self.image_item.setLookupTable(ramp[::-1] if dark_high else ramp)

    def _on_window_drag(self, dx: float, dy: float) -> None:
        if self.window is None or self.data is None or self.data.is_colour:
            return
        # drag up = brighter: moving the centre down makes the image brighter (MONOCHROME2)
        sign = -1.0 if (self.data.monochrome1 != self.user_invert) else 1.0
        self.set_window(self.window.dragged(dx, dy * sign, self._wl_scale))

    # ------------------------------------------------------------------ zoom / pan / orientation
    def fit(self) -> None:
        """Fit the whole image into the view."""
        if self.data is not None:
            self.view.autoRange(padding=0.02, items=[self.image_item])

    def actual_size(self) -> None:
        """Zoom so that one image pixel is one screen pixel, keeping the centre."""
        (x0, x1), (y0, y1) = self.view.viewRange()
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        rect = self.view.sceneBoundingRect()
        w, h = rect.width() / 2, rect.height() / 2
        self.view.setRange(xRange=(cx - w, cx + w), yRange=(cy - h, cy + h), padding=0)

    def zoom(self, factor: float) -> None:
        """Zoom in (factor > 1) or out around the view centre."""
        self.view.scaleBy((1.0 / factor, 1.0 / factor))

    def zoom_factor(self) -> float:
        """Screen pixels per image pixel."""
        (x0, x1), _ = self.view.viewRange()
        return self.view.sceneBoundingRect().width() / max(x1 - x0, 1e-9)

    def rotate(self, degrees: int) -> None:
        """Rotate by a multiple of 90° (positive: clockwise on screen)."""
        mirrored = self.flip_h != self.flip_v
        self.rotation = (self.rotation + (-degrees if mirrored else degrees)) % 360
        self._apply_transform()
        self.fit()

    def flip(self, horizontal: bool) -> None:
        """Mirror left-right (``horizontal``) or top-bottom on screen."""
        if horizontal:
            self.flip_h = not self.flip_h
        else:
            self.flip_v = not self.flip_v
        self._apply_transform()
        self.fit()

    def _apply_transform(self) -> None:
        if self.data is None:
            return
        rows, cols = self.data.values.shape[:2]
        cx, cy = cols / 2.0, rows / 2.0
        transform = QtGui.QTransform()
        transform.translate(cx, cy)
        transform.scale(-1.0 if self.flip_h else 1.0, -1.0 if self.flip_v else 1.0)
        transform.rotate(self.rotation)
        transform.translate(-cx, -cy)
        self.image_item.setTransform(transform)

    def set_view_range(self, view_range) -> None:
        """Show the given range (from another view's :attr:`view_changed`)."""
        (x0, x1), (y0, y1) = view_range
        self.view.blockSignals(True)
        self.view.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        self.view.blockSignals(False)

    def _on_range_changed(self, *_):
        self.view_changed.emit(self.view.viewRange())
        self._update_zoom_corner()

    # ------------------------------------------------------------------ readout
    def pixel_at(self, scene_pos: QtCore.QPointF) -> tuple[int, int] | None:
        """(row, column) of the image pixel under a scene position, ``None`` outside."""
        if self.data is None:
            return None
        point = self.image_item.mapFromScene(scene_pos)
        row, col = int(math.floor(point.y())), int(math.floor(point.x()))
        rows, cols = self.data.values.shape[:2]
        return (row, col) if 0 <= row < rows and 0 <= col < cols else None

    def readout(self, row: int, col: int) -> str:
        """Readout text for a pixel: position, value in real units, position in mm."""
        value = self.data.values[row, col]
        if np.ndim(value):
            shown = "RGB " + " ".join(f"{int(round(v * 255))}" for v in value)
        else:
            shown = f"value {float(value):.1f}"
        text = f"x {col}  y {row}  {shown}"
        if self.data.pixel_spacing_mm is not None:
            row_mm, col_mm = self.data.pixel_spacing_mm
            text += f"  ({col * col_mm:.1f}, {row * row_mm:.1f}) mm"
        return text

    def _on_mouse_moved(self, scene_pos) -> None:
        pixel = self.pixel_at(scene_pos)
        text = "" if pixel is None else self.readout(*pixel)
        self._corners["br"].setText(text)
        self._place_corners()
        self.cursor_moved.emit(text)

    # ------------------------------------------------------------------ measurement
    def set_measuring(self, on: bool) -> None:
        """Switch the left mouse button between pan and distance measurement."""
        self.view.measuring = on
        self.graphics.setCursor(QtCore.Qt.CrossCursor if on else QtCore.Qt.ArrowCursor)

    def add_measurement(self, start_px: QtCore.QPointF, end_px: QtCore.QPointF) -> Measurement:
        """Draw a distance line between two points in image pixels (x = column, y = row)."""
        measurement = Measurement(self.image_item, start_px, self._spacing())
        measurement.set_end(end_px)
        self.measurements.append(measurement)
        value, unit = measurement.length()
        self.measured.emit(value, unit)
        return measurement

    def clear_measurements(self) -> None:
        """Remove every distance line."""
        for measurement in self.measurements:
            measurement.remove()
        self.measurements.clear()
        self._drawing = None

    def _spacing(self):
        return None if self.data is None else self.data.pixel_spacing_mm

    def _on_measure_drag(self, start, end, finished: bool) -> None:
        if self.data is None:
            return
        start_px = self.image_item.mapFromView(start)
        end_px = self.image_item.mapFromView(end)
        if self._drawing is None:
            self._drawing = Measurement(self.image_item, start_px, self._spacing())
            self.measurements.append(self._drawing)
        self._drawing.set_end(end_px)
        if finished:
            value, unit = self._drawing.length()
            self._drawing = None
            self.measured.emit(value, unit)

    # ------------------------------------------------------------------ overlay (heatmaps)
    def set_overlay(self, rgba: np.ndarray | None, opacity: float = 1.0) -> None:
        """Show an RGBA uint8 overlay (rows, columns, 4) on the image's pixel grid with an overall
        ``opacity`` in [0, 1]; ``None`` hides it."""
        if rgba is None:
            self.overlay_item.setVisible(False)
            self._overlay = None
            return
        if rgba is not getattr(self, "_overlay", None):
            self.overlay_item.setImage(rgba, autoLevels=False, levels=(0, 255))
            self._overlay = rgba
        self.overlay_item.setOpacity(opacity)
        self.overlay_item.setVisible(True)

    # ------------------------------------------------------------------ corner annotations
    def _corner_label(self, key: str) -> QtWidgets.QLabel:
        label = QtWidgets.QLabel(self.graphics)
        label.setAttribute(QtCore.Qt.WA_TransparentForMouseEvents)
        label.setStyleSheet("color: #d0d5db; background: rgba(18, 20, 23, 170); padding: 2px 5px;"
                            " border-radius: 2px; font-size: 9pt;")
        align = QtCore.Qt.AlignRight if key[1] == "r" else QtCore.Qt.AlignLeft
        label.setAlignment(align | (QtCore.Qt.AlignBottom if key[0] == "b" else QtCore.Qt.AlignTop))
        return label

    def set_corner_texts(self, texts: dict[str, str]) -> None:
        """Set the top-left/top-right/bottom-left corner annotations (keys ``tl``, ``tr``, ``bl``)."""
        for key in ("tl", "tr", "bl"):
            self._corners[key].setText(texts.get(key, ""))
        self._update_zoom_corner()

    def _update_zoom_corner(self) -> None:
        if self.data is None:
            return
        lines = [line for line in self._corners["bl"].text().split("\n")
                 if not line.startswith(("W ", "Zoom"))]
        if self.window is not None and not self.data.is_colour:
            lines.append(f"W {self.window.width:.0f}  L {self.window.center:.0f}")
        lines.append(f"Zoom {self.zoom_factor() * 100:.0f} %")
        self._corners["bl"].setText("\n".join(line for line in lines if line))
        self._place_corners()

    def _place_corners(self) -> None:
        width, height, margin = self.graphics.width(), self.graphics.height(), 8
        for key, label in self._corners.items():
            label.setVisible(bool(label.text()))
            label.adjustSize()
            x = width - label.width() - margin if key[1] == "r" else margin
            y = height - label.height() - margin if key[0] == "b" else margin
            label.move(x, y)

    def eventFilter(self, watched, event):  # noqa: N802 - Qt API
        if watched is self.graphics and event.type() == QtCore.QEvent.Resize:
            self._place_corners()
        return super().eventFilter(watched, event)
