"""Heatmap panel: explain the selected finding (Grad-CAM, attention, Integrated Gradients, IG ×
HiResCAM) as an overlay on the image, with opacity, legend, toggle, progress and cancel; the report
words that drove the finding are coloured in the report panel."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

import engine
from desktop import theme

METHOD_TITLES = {"gradcam": "Grad-CAM", "attention": "Attention rollout", "ig": "Integrated Gradients",
                 "igcam": "IG × HiResCAM"}
COLORMAP = "turbo"
FLOOR = 0.15         # heatmap values below this are transparent (engine.explain.overlay.opacity)


def overlay_rgba(values01: np.ndarray, colormap: str = COLORMAP) -> np.ndarray:
    """Colour a [0, 1] heatmap as uint8 RGBA whose alpha rises with the value (1.0 at the top).

    The panel's opacity slider scales the whole overlay, so this runs once per heatmap.
    """
    lut = engine.colormap_lut(colormap)
    index = np.round(np.clip(values01, 0.0, 1.0) * (len(lut) - 1)).astype(np.intp)
    rgba = np.empty(values01.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = lut[index]
    rgba[..., 3] = np.round(engine.opacity(values01, max_opacity=1.0, floor=FLOOR) * 255).astype(np.uint8)
    return rgba


def explain_with_overlay(predictor, image, label: str, method: str, report: str | None, lock):
    """Generator for the worker: yields the engine's progress, returns ``(heatmap, rgba)``."""
    with lock:
        heatmap = None
        for item in engine.explain_steps(predictor, image, label, method, report):
            if isinstance(item, engine.Heatmap):
                heatmap = item
            else:
                yield item
    yield 1.0
    return heatmap, overlay_rgba(heatmap.values)


class Legend(QtWidgets.QWidget):
    """A horizontal colour bar from 'low' to 'high' evidence, as the overlay draws it."""

    def __init__(self):
        super().__init__()
        self.setMinimumHeight(30)
        lut = engine.colormap_lut(COLORMAP)
        alpha = engine.opacity(np.linspace(0, 1, len(lut)), max_opacity=1.0, floor=FLOOR)
        self._colours = [QtGui.QColor(int(r), int(g), int(b), int(max(a, 0.08) * 255))
                         for (r, g, b), a in zip(lut, alpha)]

    def paintEvent(self, event):  # noqa: N802 - Qt API
        painter = QtGui.QPainter(self)
        bar = QtCore.QRectF(4, 2, self.width() - 8, 12)
        step = bar.width() / len(self._colours)
        for i, colour in enumerate(self._colours):
            painter.fillRect(QtCore.QRectF(bar.left() + i * step, bar.top(), step + 1, bar.height()), colour)
        painter.setPen(QtGui.QColor(theme.TEXT_DIM))
        painter.drawText(QtCore.QRectF(4, 15, bar.width(), 14), QtCore.Qt.AlignLeft, "low (transparent)")
        painter.drawText(QtCore.QRectF(4, 15, bar.width(), 14), QtCore.Qt.AlignRight, "high evidence")
        painter.end()


class HeatmapPanel(QtWidgets.QWidget):
    """Controls for one heatmap at a time; ``session`` is the engine panel (predictor, image, report)."""

    def __init__(self, context, session, lock):
        super().__init__()
        self.context, self.session, self._lock = context, session, lock
        self.label_box = QtWidgets.QComboBox()
        self.method_box = QtWidgets.QComboBox()
        for key, title in METHOD_TITLES.items():
            self.method_box.addItem(title, key)
        self.use_report = QtWidgets.QCheckBox("Include the report text")
        self.use_report.setChecked(True)
        self.run_button = QtWidgets.QPushButton("Show heatmap")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.visible_box = QtWidgets.QCheckBox("Show overlay (O)")
        self.visible_box.setChecked(True)
        self.opacity = QtWidgets.QSlider(QtCore.Qt.Horizontal, minimum=0, maximum=100, value=60)
        self.info = QtWidgets.QLabel(wordWrap=True)
        self.info.setProperty("class", "dim")
        self.words = QtWidgets.QLabel(wordWrap=True)
        self.words.setTextFormat(QtCore.Qt.RichText)

        form = QtWidgets.QFormLayout()
        form.addRow("Finding", self.label_box)
        form.addRow("Method", self.method_box)
        form.addRow("", self.use_report)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        form.addRow("", buttons)
        form.addRow("", self.progress)
        form.addRow("Opacity", self.opacity)
        form.addRow("", self.visible_box)
        form.addRow("Legend", Legend())
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form)
        layout.addWidget(self.info)
        layout.addWidget(self.words)
        layout.addStretch(1)

        self.heatmap = None
        self._rgba = None
        self._handle = None
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.opacity.valueChanged.connect(self._apply_overlay)
        self.visible_box.toggled.connect(self._apply_overlay)
        toggle = QtGui.QAction("Toggle heatmap &overlay", self, shortcut=QtGui.QKeySequence("O"))
        toggle.triggered.connect(lambda: self.visible_box.setChecked(not self.visible_box.isChecked()))
        explain = QtGui.QAction("Show &heatmap for the selected finding", self,
                                shortcut=QtGui.QKeySequence("Ctrl+H"))
        explain.triggered.connect(self.run)
        context.add_menu_action("&Analysis", explain, "heatmap")
        context.add_menu_action("&Analysis", toggle, "toggle_overlay")

    def set_labels(self, labels, selected: str | None = None) -> None:
        """Fill the finding list (pack order) and select ``selected``."""
        current = selected or self.label_box.currentText()
        self.label_box.clear()
        self.label_box.addItems(list(labels))
        if current in labels:
            self.label_box.setCurrentText(current)

    def select_label(self, name: str) -> None:
        """Pick the finding to explain (e.g. from a click in the findings list)."""
        self.label_box.setCurrentText(name)

    def run(self) -> None:
        """Explain the chosen finding for the current image on a worker."""
        session = self.session
        if session.predictor is None or session.image is None:
            self.info.setText("Open an image and wait for the model pack to load.")
            return
        if session.image_prediction is not None and not session.image_prediction.findings:
            self.info.setText("The input check refused this image: no heatmap is computed.")
            return
        self.cancel()
        label, method = self.label_box.currentText(), self.method_box.currentData()
        report = session.report.text if self.use_report.isChecked() and session.report.text.strip() else None
        image = session.image
        self.progress.setValue(0)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.info.setText(f"Computing {METHOD_TITLES[method]} for {label} …")
        self._handle = self.context.runner.submit(
            explain_with_overlay, session.predictor, image, label, method, report, self._lock, name="explain",
            on_progress=self._on_progress,
            on_result=lambda result: self._on_result(image, report, *result),
            on_error=self._on_error)

    def cancel(self) -> None:
        """Stop a running explanation (at its next progress step)."""
        if self._handle is not None and not self._handle.finished:
            self._handle.cancel()
            self.info.setText("Cancelled.")
        self._handle = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def clear(self) -> None:
        """Forget the heatmap (a new image is shown)."""
        self.cancel()
        self.heatmap, self._rgba = None, None
        self.context.set_overlay(None)
        self.info.setText("")
        self.words.setText("")
        self.progress.setValue(0)

    def _on_progress(self, progress) -> None:
        if progress.fraction is not None:
            self.progress.setValue(int(progress.fraction * 100))

    def _on_result(self, image, report, heatmap, rgba) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._handle = None
        if image is not self.session.image:
            return
        self.heatmap, self._rgba = heatmap, rgba
        self.progress.setValue(100)
        seconds = heatmap.timing_ms.get("total", 0.0) / 1000
        self.info.setText(f"{METHOD_TITLES.get(heatmap.method, heatmap.method)} for {heatmap.label} "
                          f"({'image + report' if heatmap.mode == 'joint' else 'image only'}), "
                          f"probability {heatmap.probability:.2f}, {seconds:.1f} s. "
                          + ("Colour marks the regions that raised this finding's score; it is not a segmentation."
                             if float(heatmap.values.max()) > 0 else
                             "The method found no region that raises this finding's score: nothing to overlay."))
        self._show_words(heatmap.tokens)
        self.session.report.show_attributions(heatmap.tokens, report or "")
        self.visible_box.setChecked(True)
        self._apply_overlay()

    def _show_words(self, tokens) -> None:
        ranked = sorted(tokens, key=lambda t: -abs(t.score))[:8]
        if not ranked:
            self.words.setText("")
            return
        parts = [f"<span style='color:{'#ff9d5c' if t.score > 0 else '#7fb2ff'}'>{t.text} {t.score:+.2f}</span>"
                 for t in ranked]
        self.words.setText("Report words that drove it (orange for, blue against): " + ", ".join(parts))

    def _on_error(self, error) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._handle = None
        self.info.setText(f"No heatmap: {error}")
        self.context.show_error("The heatmap could not be computed", error)

    def _apply_overlay(self, *_args) -> None:
        show = self._rgba is not None and self.visible_box.isChecked()
        self.context.set_overlay(self._rgba if show else None, self.opacity.value() / 100.0)
