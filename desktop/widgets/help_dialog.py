"""Keyboard shortcuts, listed from the window's own actions so the list cannot go stale."""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets

from desktop.widgets.dialog_frame import frame_dialog

MOUSE_HELP = (
    ("Left drag", "Pan (or draw a distance in measure mode)"),
    ("Right drag", "Window/level: left–right width, up–down level"),
    ("Wheel", "Zoom around the cursor"),
    ("Drop files", "Open files or folders dropped on the window"),
)


def shortcut_rows(actions) -> list[tuple[str, str]]:
    """(keys, what it does) for every action that has a shortcut."""
    rows = []
    for action in actions:
        keys = ", ".join(s.toString(QtGui.QKeySequence.NativeText) for s in action.shortcuts())
        if keys:
            rows.append((keys, action.text().replace("&", "")))
    return rows


class HelpDialog(QtWidgets.QDialog):
    """A two-column table of keyboard shortcuts and mouse gestures."""

    def __init__(self, actions, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(520, 620)
        rows = shortcut_rows(actions) + list(MOUSE_HELP)
        table = QtWidgets.QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(("Keys", "Action"))
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        table.setAlternatingRowColors(True)
        for index, (keys, text) in enumerate(rows):
            table.setItem(index, 0, QtWidgets.QTableWidgetItem(keys))
            table.setItem(index, 1, QtWidgets.QTableWidgetItem(text))
        table.horizontalHeader().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(True)
        self.table = table
        frame_dialog(self, table)
