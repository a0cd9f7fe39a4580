"""Study/series browser: studies at the top level, their series (and images) below, with thumbnails."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from desktop import theme
from desktop.annotations import format_date, format_name

ICON_PX = 64


def image_key(image) -> str:
    """A stable key for an engine image (path and SOP Instance UID)."""
    return f"{image.path}#{image.sop_uid}"


def qimage_from(pixels: np.ndarray) -> QtGui.QImage:
    """Wrap a uint8 grey (h, w) or RGB (h, w, 3) array as a QImage (copied)."""
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    if pixels.ndim == 2:
        image = QtGui.QImage(pixels.data, width, height, pixels.strides[0], QtGui.QImage.Format_Grayscale8)
    else:
        image = QtGui.QImage(pixels.data, width, height, pixels.strides[0], QtGui.QImage.Format_RGB888)
    return image.copy()


class StudyBrowser(QtWidgets.QTreeWidget):
    """Lists what a read found; emits :attr:`image_selected` with the engine image to show."""

    image_selected = QtCore.Signal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setIconSize(QtCore.QSize(ICON_PX, ICON_PX))
        self.setIndentation(12)
        self.setUniformRowHeights(False)
        self.setAlternatingRowColors(False)
        self._items: dict[str, QtWidgets.QTreeWidgetItem] = {}
        self._images: list = []
        self.itemSelectionChanged.connect(self._on_selection)
        placeholder = QtGui.QPixmap(ICON_PX, ICON_PX)
        placeholder.fill(QtGui.QColor(theme.PANEL_ALT))
        self._placeholder = QtGui.QIcon(placeholder)

    def set_studies(self, studies) -> list:
        """Show ``studies`` (engine Study objects); return every image in display order."""
        self.clear()
        self._items.clear()
        self._images = []
        bold = self.font()
        bold.setBold(True)
        for study in studies:
            top = QtWidgets.QTreeWidgetItem(self)
            title = format_name(study.patient_name) or "(no name)"
            detail = " · ".join(t for t in (format_date(study.study_date), study.description) if t)
            top.setText(0, f"{title}\n{detail}" if detail else title)
            top.setFont(0, bold)
            top.setFlags(top.flags() & ~QtCore.Qt.ItemIsSelectable)
            top.setToolTip(0, f"Patient ID {study.patient_id}\nStudy UID {study.study_uid}")
            for series in study.series:
                self._add_series(top, series)
            top.setExpanded(True)
        return list(self._images)

    def _add_series(self, parent, series) -> None:
        first = series.images[0]
        item = QtWidgets.QTreeWidgetItem(parent)
        label = " ".join(t for t in (series.modality, first.view_position, first.laterality) if t)
        description = series.description or first.body_part or ""
        if description.upper() in (first.view_position.upper(), label.upper()):
            description = first.body_part if first.body_part.upper() != description.upper() else ""
        count = len(series.images)
        frames = sum(image.number_of_frames for image in series.images)
        extra = f"{count} image{'s' * (count != 1)}" + (f", {frames} frames" if frames > count else "")
        item.setText(0, f"{label or 'Image'}  {description}\n{extra}")
        item.setIcon(0, self._placeholder)
        item.setData(0, QtCore.Qt.UserRole, len(self._images))
        item.setToolTip(0, f"{first.path}\nSeries UID {series.series_uid}")
        self._items[image_key(first)] = item
        self._images.append(first)
        for image in series.images[1:] if count > 1 else ():
            child = QtWidgets.QTreeWidgetItem(item)
            child.setText(0, f"#{image.instance_number or ''} {image.view_position}".strip())
            child.setIcon(0, self._placeholder)
            child.setData(0, QtCore.Qt.UserRole, len(self._images))
            child.setToolTip(0, str(image.path))
            self._items[image_key(image)] = child
            self._images.append(image)

    def set_thumbnail(self, key: str, pixels: np.ndarray) -> None:
        """Show a rendered thumbnail (uint8 array) on the item of image ``key``."""
        item = self._items.get(key)
        if item is None:
            return
        pixmap = QtGui.QPixmap.fromImage(qimage_from(pixels)).scaled(
            ICON_PX, ICON_PX, QtCore.Qt.KeepAspectRatio, QtCore.Qt.SmoothTransformation)
        item.setIcon(0, QtGui.QIcon(pixmap))

    def select_image(self, image) -> None:
        """Mark ``image`` as the one shown (without emitting :attr:`image_selected`)."""
        item = self._items.get(image_key(image))
        if item is not None:
            self.blockSignals(True)
            self.setCurrentItem(item)
            self.blockSignals(False)

    def _on_selection(self) -> None:
        items = self.selectedItems()
        if items:
            index = items[0].data(0, QtCore.Qt.UserRole)
            if index is not None:
                self.image_selected.emit(self._images[index])
