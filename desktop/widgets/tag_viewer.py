"""DICOM tag viewer: the header as a table (tag, keyword, VR, value) with a search box."""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets

COLUMNS = ("Tag", "Keyword", "VR", "Value")


class TagViewer(QtWidgets.QDialog):
    """Shows rows ``(tag, keyword, VR, value, depth)`` as returned by ``engine.read_tags``.

    Typing in the search box keeps the rows whose tag, keyword or value contains the text
    (case-insensitive); nested sequence items are indented by depth.
    """

    def __init__(self, path: str, rows, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"DICOM tags — {path}")
        self.resize(820, 640)
        self.search = QtWidgets.QLineEdit(placeholderText="Search tag, keyword or value (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.table = QtWidgets.QTableWidget(len(rows), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        mono = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.FixedFont)
        for index, (tag, keyword, vr, value, depth) in enumerate(rows):
            cells = (tag, ("  " * depth + "› " if depth else "") + keyword, vr, value)
            for column, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                if column == 0:
                    item.setFont(mono)
                self.table.setItem(index, column, item)
        header = self.table.horizontalHeader()
        for column in range(3):
            header.setSectionResizeMode(column, QtWidgets.QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        self.count = QtWidgets.QLabel()
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.table)
        layout.addWidget(self.count)
        self.search.textChanged.connect(self.filter)
        QtGui.QShortcut(QtGui.QKeySequence.Find, self, activated=self.search.setFocus)
        self.filter("")

    def filter(self, text: str) -> int:
        """Show only rows containing ``text``; return how many are shown."""
        needle = text.strip().lower()
        shown = 0
        for row in range(self.table.rowCount()):
            haystack = " ".join(self.table.item(row, c).text() for c in (0, 1, 3)).lower()
            hide = bool(needle) and needle not in haystack and needle.replace(" ", "") not in haystack
            self.table.setRowHidden(row, hide)
            shown += not hide
        self.count.setText(f"{shown} of {self.table.rowCount()} elements")
        return shown
