"""Similar cases panel: top-k cases from the pack's (and the user's) archive with thumbnail,
similarity, shared findings and report; a click shows the case beside the current image."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

import engine
from desktop import loading, theme
from desktop.widgets.image_view import ImageData
from desktop.widgets.study_browser import qimage_from
from desktop.windowing import Window

MODES = ("joint", "image", "text")
THUMB_PX = 88


def open_search(predictor):
    """Open the pack's similar-case archive (and the user's) for ``predictor``."""
    return engine.SimilarSearch.open(predictor)


def find_similar(search, image, report: str | None, k: int, mode: str, lock):
    """Query the archives; with no report, ``joint`` falls back to ``image``."""
    mode = "image" if mode == "joint" and not report else mode
    with lock:
        return search.query(image=image if mode != "text" else None, report=report or None, k=k, mode=mode)


def case_image(case) -> tuple[ImageData, str]:
    """What to show for a case: its original file when the archive has one, else its thumbnail."""
    if case.path and Path(case.path).exists():
        image = engine.read_image(case.path)
        return loading.image_data(image), "original image"
    values = case.thumbnail.astype(np.float32)
    return ImageData(values=values, file_window=Window(127.5, 255.0)), "archive thumbnail"


class SimilarPanel(QtWidgets.QWidget):
    """Runs queries on the viewer's workers; ``session`` is the engine panel."""

    def __init__(self, context, session, lock):
        super().__init__()
        self.context, self.session, self._lock = context, session, lock
        self.mode_box = QtWidgets.QComboBox()
        self.mode_box.addItems(MODES)
        self.mode_box.setToolTip("joint: image and report; image: the image alone; text: the report alone")
        self.k_box = QtWidgets.QSpinBox(minimum=1, maximum=50, value=5, prefix="top ")
        self.run_button = QtWidgets.QPushButton("Find similar cases")
        row = QtWidgets.QHBoxLayout()
        for widget in (self.mode_box, self.k_box, self.run_button):
            row.addWidget(widget)
        row.addStretch(1)
        self.caption = QtWidgets.QLabel(wordWrap=True)
        self.caption.setProperty("class", "dim")
        self.list = QtWidgets.QListWidget()
        self.list.setIconSize(QtCore.QSize(THUMB_PX, THUMB_PX))
        self.list.setWordWrap(True)
        self.list.setSpacing(2)
        self.list.setAlternatingRowColors(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(self.caption)
        layout.addWidget(self.list, 1)
        self.search = None
        self.result = None
        self._search_error = None
        self._generation = 0
        self.run_button.clicked.connect(self.run)
        self.list.itemActivated.connect(self._open_case)
        self.list.itemClicked.connect(self._open_case)

    def set_predictor(self, predictor) -> None:
        """A pack was loaded: open its archive in the background."""
        self.search, self._search_error, self.result = None, None, None
        self.list.clear()
        if predictor is None:
            return
        self.caption.setText("Opening the similar-case archive …")
        self.context.runner.submit(open_search, predictor, name="open archive",
                                   on_result=self._on_search, on_error=self._on_search_error)

    def _on_search(self, search) -> None:
        self.search = search
        counts = ", ".join(f"{name}: {archive.count} cases" for name, archive in search.archives.items())
        self.caption.setText(f"Archive ready ({counts}).")
        prediction = self.session.image_prediction
        if prediction is not None and prediction.findings:
            self.run()

    def _on_search_error(self, error) -> None:
        self._search_error = error
        self.caption.setText(f"No similar-case search with this pack: {error}")

    def clear(self) -> None:
        """Forget results (a new image is shown)."""
        self.list.clear()
        self.result = None

    def run(self) -> None:
        """Query with the current image (and report, for joint/text modes)."""
        session = self.session
        if self.search is None:
            self.caption.setText(f"No archive: {self._search_error}" if self._search_error else
                                 "The archive is not ready yet.")
            return
        report = session.report.text.strip() or None
        mode = self.mode_box.currentText()
        if mode == "text" and not report:
            self.caption.setText("Text mode needs a report: type or paste one in the Report tab.")
            return
        if session.image is None and mode != "text":
            self.caption.setText("Open an image first.")
            return
        self._generation += 1
        generation = self._generation
        self.caption.setText("Searching …")
        self.context.runner.submit(find_similar, self.search, session.image, report, self.k_box.value(), mode,
                                   self._lock, name="similar",
                                   on_result=lambda result: self._on_result(generation, result),
                                   on_error=lambda error: self.context.show_error("Similar-case search failed", error))

    def _on_result(self, generation: int, result) -> None:
        if generation != self._generation:
            return
        self.result = result
        self.list.clear()
        query = ", ".join(result.query_labels) or "none"
        self.caption.setText(f"{len(result.cases)} most similar cases by {result.mode} embedding. Query findings "
                             f"({'from the report' if result.query_label_source == 'report' else 'predicted'}): "
                             f"{query}. Click a case to show it beside the image.")
        for case in result.cases:
            item = QtWidgets.QListWidgetItem()
            pixmap = QtGui.QPixmap.fromImage(qimage_from(case.thumbnail)).scaled(
                THUMB_PX, THUMB_PX, QtCore.Qt.KeepAspectRatio, QtCore.Qt.SmoothTransformation)
            item.setIcon(QtGui.QIcon(pixmap))
            shared = ", ".join(case.shared_labels) or "none"
            labels = ", ".join(case.labels) or "none"
            item.setText(f"{case.similarity:.3f}  ·  {case.case_id}  {case.view}\n"
                         f"Shared: {shared}\nFindings: {labels}\n{case.snippet}")
            item.setToolTip("\n\n".join(f"{name.upper()}: {text}" for name, text in case.sections.items() if text))
            if case.shared_labels:
                item.setForeground(QtGui.QColor(theme.TEXT))
            item.setData(QtCore.Qt.UserRole, case)
            self.list.addItem(item)

    def _open_case(self, item) -> None:
        case = item.data(QtCore.Qt.UserRole)
        if case is None:
            return
        self.context.runner.submit(case_image, case, name="case image",
                                   on_result=lambda r: self.context.show_beside(
                                       r[0], f"Similar case {case.case_id} ({r[1]}, similarity {case.similarity:.3f})",
                                       sync_window=r[1] == "original image"),
                                   on_error=lambda e: self.context.show_error(f"Cannot show case {case.case_id}", e))
