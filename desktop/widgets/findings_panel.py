"""Findings panel: the gate's verdict on top, then every label with its probability bar,
the pack's threshold marked on the bar, and the decision; positives first."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from desktop import theme
from desktop.analysis import gate_summary, sorted_findings

MODE_TEXT = {
    "image": "from the image",
    "text": "from the report text only",
    "joint": "from the image and the report",
    "none": "none",
}


class ProbabilityBar(QtWidgets.QWidget):
    """A horizontal bar for a probability in [0, 1] with a tick at the threshold."""

    def __init__(self, probability: float, threshold: float, positive: bool, muted: bool = False):
        super().__init__()
        self.probability, self.threshold = probability, threshold
        self.positive, self.muted = positive, muted
        self.setMinimumSize(90, 16)
        self.setToolTip(f"probability {probability:.3f}; threshold {threshold:.3f}")

    def paintEvent(self, event):  # noqa: N802 - Qt API
        painter = QtGui.QPainter(self)
        painter.setRenderHint(QtGui.QPainter.Antialiasing)
        rect = self.rect().adjusted(2, 4, -2, -4)
        painter.setPen(QtCore.Qt.NoPen)
        painter.setBrush(QtGui.QColor(theme.BORDER))
        painter.drawRoundedRect(rect, 2, 2)
        fill = QtCore.QRectF(rect)
        fill.setWidth(rect.width() * min(max(self.probability, 0.0), 1.0))
        colour = theme.TEXT_DIM if self.muted else (theme.ACCENT if self.positive else "#5b6672")
        painter.setBrush(QtGui.QColor(colour))
        painter.drawRoundedRect(fill, 2, 2)
        x = rect.left() + rect.width() * min(max(self.threshold, 0.0), 1.0)
        painter.setPen(QtGui.QPen(QtGui.QColor("#ffffff"), 2))
        painter.drawLine(QtCore.QPointF(x, rect.top() - 3), QtCore.QPointF(x, rect.bottom() + 3))
        painter.end()


class FindingsPanel(QtWidgets.QWidget):
    """Shows an ``engine.Prediction``; emits :attr:`label_selected` when a row is clicked."""

    label_selected = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.banner = QtWidgets.QLabel(objectName="gateBanner", wordWrap=True)
        self.banner.hide()
        self.caption = QtWidgets.QLabel(wordWrap=True)
        self.caption.setProperty("class", "dim")
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(("Finding", "Probability", "p", "Decision"))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QtWidgets.QAbstractItemView.SingleSelection)
        header = self.tree.header()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.Stretch)
        header.setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeToContents)
        header.setSectionResizeMode(3, QtWidgets.QHeaderView.ResizeToContents)
        header.setStretchLastSection(False)
        self.tree.itemSelectionChanged.connect(self._on_select)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(self.caption)
        layout.addWidget(self.tree, 1)
        # findings read from DICOM results (SR TID 1500) that reference the shown image
        self.loaded_caption = QtWidgets.QLabel(wordWrap=True, objectName="loadedCaption")
        self.loaded_tree = QtWidgets.QTreeWidget(rootIsDecorated=False, uniformRowHeights=True)
        self.loaded_tree.setHeaderLabels(("Finding", "Probability", "p", "Decision"))
        for column, mode in enumerate((QtWidgets.QHeaderView.ResizeToContents, QtWidgets.QHeaderView.Stretch,
                                       QtWidgets.QHeaderView.ResizeToContents, QtWidgets.QHeaderView.ResizeToContents)):
            self.loaded_tree.header().setSectionResizeMode(column, mode)
        self.loaded_tree.header().setStretchLastSection(False)
        layout.addWidget(self.loaded_caption)
        layout.addWidget(self.loaded_tree, 1)
        self.show_loaded("", ())
        self.prediction = None
        self.show_message("Open an image to see findings.")

    def show_message(self, text: str) -> None:
        """Show a line of text instead of findings (loading, no pack, …)."""
        self.prediction = None
        self.tree.clear()
        self.banner.hide()
        self.caption.setText(text)

    def set_prediction(self, prediction, gate=None) -> None:
        """Show ``prediction``; ``gate`` overrides its verdict (e.g. the image's when text-only)."""
        self.prediction = prediction
        gate = gate if gate is not None else prediction.gate
        level, text = gate_summary(gate)
        if gate is not None:
            self.banner.setText(text)
            self.banner.setProperty("level", level)
            self.banner.style().unpolish(self.banner)
            self.banner.style().polish(self.banner)
            self.banner.show()
        else:
            self.banner.hide()
        self.tree.clear()
        if not prediction.findings:
            self.caption.setText("No findings: the image was refused by the input check and there is no "
                                 "report text. Paste a report to get text-based findings.")
            return
        caution = level == "warn"
        timing = prediction.timing_ms.get("total")
        self.caption.setText(f"Findings {MODE_TEXT.get(prediction.mode, prediction.mode)}"
                             + (" — shown muted because of the warnings above" if caution else "")
                             + (f"  ·  {timing:.0f} ms" if timing else ""))
        for finding in sorted_findings(prediction.findings):
            self._add_row(self.tree, finding, caution)

    def show_loaded(self, title: str, findings) -> None:
        """Show findings read from a DICOM SR (``title`` names the file and algorithm); none hides them."""
        self.loaded_tree.clear()
        self.loaded_caption.setText(title)
        self.loaded_caption.setVisible(bool(title))
        self.loaded_tree.setVisible(bool(findings))
        for finding in findings:
            self._add_row(self.loaded_tree, finding, caution=False)

    def _add_row(self, tree, finding, caution: bool) -> None:
        """One finding row; a loaded finding may lack a probability or threshold (None)."""
        known = finding.probability is not None and finding.threshold is not None
        item = QtWidgets.QTreeWidgetItem(tree)
        item.setText(0, finding.name)
        item.setText(2, "—" if finding.probability is None else f"{finding.probability:.2f}")
        item.setText(3, "present" if finding.positive else "—")
        item.setData(0, QtCore.Qt.UserRole, finding.name)
        if known:
            item.setToolTip(0, f"threshold {finding.threshold:.2f} (calibrated on validation data)")
        if finding.positive:
            bold = item.font(0)
            bold.setBold(True)
            for column in (0, 2, 3):
                item.setFont(column, bold)
            item.setForeground(3, QtGui.QColor(theme.ACCENT))
        else:
            item.setForeground(0, QtGui.QColor(theme.TEXT_DIM))
        if known:
            tree.setItemWidget(item, 1, ProbabilityBar(finding.probability, finding.threshold,
                                                       bool(finding.positive), muted=caution))

    def select_label(self, name: str) -> None:
        """Select the row of ``name`` (without emitting)."""
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            if item.data(0, QtCore.Qt.UserRole) == name:
                self.tree.blockSignals(True)
                self.tree.setCurrentItem(item)
                self.tree.blockSignals(False)

    def _on_select(self) -> None:
        items = self.tree.selectedItems()
        if items:
            self.label_selected.emit(items[0].data(0, QtCore.Qt.UserRole))
