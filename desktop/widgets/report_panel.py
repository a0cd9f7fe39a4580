"""Report panel: paste, type or load a report; the labeler's evidence is highlighted in the text
and a consistency view lists where the draft and the image model disagree."""
from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from desktop import theme

STATUS_STYLE = {
    "positive": ("#2b3f57", None),            # background, underline colour
    "negative": (None, theme.TEXT_DIM),
    "uncertain": ("#4a3a12", None),
}
AUTO_ANALYSE_MS = 900


class ReportPanel(QtWidgets.QWidget):
    """Emits :attr:`analyse_requested` with the text (on the button, Ctrl+Return, or a typing pause)."""

    analyse_requested = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.editor = QtWidgets.QPlainTextEdit()
        self.editor.setPlaceholderText("Paste a prior report or type the draft.\n\n"
                                       "FINDINGS: …\nIMPRESSION: …")
        self.analyse_button = QtWidgets.QPushButton("Analyse with report")
        self.analyse_button.setToolTip("Fuse the report with the image (Ctrl+Return)")
        load_button = QtWidgets.QPushButton("Load…")
        clear_button = QtWidgets.QPushButton("Clear")
        self.auto = QtWidgets.QCheckBox("Update while typing")
        self.auto.setChecked(True)
        buttons = QtWidgets.QHBoxLayout()
        for widget in (self.analyse_button, load_button, clear_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.auto)
        self.legend = QtWidgets.QLabel(
            f"<span style='background:{STATUS_STYLE['positive'][0]}'>&nbsp;positive&nbsp;</span> "
            f"<span style='text-decoration: underline; color:{theme.TEXT_DIM}'>negated</span> "
            f"<span style='background:{STATUS_STYLE['uncertain'][0]}'>&nbsp;uncertain&nbsp;</span>")
        self.status = QtWidgets.QLabel(wordWrap=True)
        self.status.setProperty("class", "dim")
        self.consistency = QtWidgets.QListWidget()
        self.consistency.setWordWrap(True)
        self.consistency.setAlternatingRowColors(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.editor, 3)
        layout.addLayout(buttons)
        layout.addWidget(self.legend)
        layout.addWidget(self.status)
        layout.addWidget(QtWidgets.QLabel("<b>Consistency: draft vs image model</b>"))
        layout.addWidget(self.consistency, 2)

        self._evidence_selections: list = []
        self._token_selections: list = []
        self._timer = QtCore.QTimer(self, singleShot=True, interval=AUTO_ANALYSE_MS)
        self._timer.timeout.connect(self.request_analysis)
        self.editor.textChanged.connect(self._on_text_changed)
        self.analyse_button.clicked.connect(self.request_analysis)
        load_button.clicked.connect(self.load_dialog)
        clear_button.clicked.connect(self.editor.clear)
        QtGui.QShortcut(QtGui.QKeySequence("Ctrl+Return"), self.editor, activated=self.request_analysis)

    @property
    def text(self) -> str:
        """The report text as typed."""
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        """Replace the report text (triggers an analysis when auto-update is on)."""
        self.editor.setPlainText(text)

    def load_dialog(self) -> None:
        """Ask for a text file and load it."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Load report", "", "Text (*.txt);;All files (*)")
        if path:
            self.load_file(path)

    def load_file(self, path: str | Path) -> None:
        """Load a report from a UTF-8 text file (errors are shown in the panel)."""
        try:
            self.set_text(Path(path).read_text(encoding="utf-8", errors="replace"))
        except OSError as error:
            self.status.setText(f"{path}: cannot read the report ({error.strerror}); choose a text file")
        else:
            self.request_analysis()

    def request_analysis(self) -> None:
        """Emit :attr:`analyse_requested` with the current text."""
        self._timer.stop()
        self.analyse_requested.emit(self.text)

    def _on_text_changed(self) -> None:
        self._evidence_selections, self._token_selections = [], []
        self.editor.setExtraSelections([])
        if self.auto.isChecked():
            self._timer.start()

    def show_attributions(self, tokens, text: str) -> None:
        """Colour report words by their attribution (``engine`` TokenAttribution, offsets into
        ``text``): orange supports the finding, blue argues against it, stronger = more saturated."""
        if text != self.text:
            return
        self._token_selections = []
        for token in tokens:
            if abs(token.score) < 0.15:
                continue
            selection = QtWidgets.QTextEdit.ExtraSelection()
            cursor = self.editor.textCursor()
            cursor.setPosition(token.start)
            cursor.setPosition(token.end, QtGui.QTextCursor.KeepAnchor)
            selection.cursor = cursor
            base = QtGui.QColor("#ff9d5c" if token.score > 0 else "#7fb2ff")
            base.setAlphaF(min(1.0, 0.35 + 0.65 * abs(token.score)))
            selection.format.setForeground(base)
            selection.format.setFontWeight(QtGui.QFont.Bold)
            self._token_selections.append(selection)
        self.editor.setExtraSelections(self._evidence_selections + self._token_selections)

    def show_labels(self, report_labels, text: str) -> None:
        """Highlight the evidence spans of ``report_labels`` (offsets into ``text``)."""
        if text != self.text:
            return  # the reader typed on; a newer analysis will come
        selections = []
        for evidence in report_labels.evidence:
            selection = QtWidgets.QTextEdit.ExtraSelection()
            cursor = self.editor.textCursor()
            cursor.setPosition(evidence.start)
            cursor.setPosition(evidence.end, QtGui.QTextCursor.KeepAnchor)
            selection.cursor = cursor
            background, underline = STATUS_STYLE.get(evidence.status, (None, None))
            if background:
                selection.format.setBackground(QtGui.QColor(background))
            if underline:
                selection.format.setFontUnderline(True)
                selection.format.setUnderlineColor(QtGui.QColor(underline))
                selection.format.setForeground(QtGui.QColor(underline))
            selection.format.setToolTip(f"{evidence.label}: {evidence.status}")
            selections.append(selection)
        self._evidence_selections = selections
        self.editor.setExtraSelections(selections + self._token_selections)
        found = ", ".join(f"{name} ({status})" for name, status in report_labels.labels.items())
        self.status.setText(f"Report labels: {found}" if found else "The report mentions none of the labels.")

    def show_consistency(self, disagreements, note: str = "") -> None:
        """List disagreements (:class:`desktop.analysis.Disagreement`), or ``note`` when there are none."""
        self.consistency.clear()
        for item in disagreements:
            row = QtWidgets.QListWidgetItem(("⚠ " if item.image_positive else "? ") + item.sentence())
            row.setForeground(QtGui.QColor(theme.WARNING if item.image_positive else theme.TEXT))
            self.consistency.addItem(row)
        if not disagreements:
            self.consistency.addItem(note or "The draft and the image model agree on every label.")
