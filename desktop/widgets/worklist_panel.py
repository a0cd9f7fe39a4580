"""Worklist dock: studies ordered by the model's urgency (engine.triage), with the reason per row.

It shows a ``worklist.csv`` written by ``cxr-lens scan`` or ``cxr-lens pacs scan``; double-click
a row to open its study. Tiers are coloured: urgent (red), review (amber: the gate refused or
warned, a lesser finding, or the file could not be analysed), routine.
"""
from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

import engine
from desktop import theme

COLUMNS = ("#", "Tier", "Urgency", "Gate", "Images", "Study", "Reason")
TIER_COLOURS = {"urgent": theme.DANGER, "review": theme.WARNING, "routine": theme.TEXT_DIM}


def study_folder(row) -> Path | None:
    """The folder to open for a row: the study's folder when the path lies in one named by its UID,
    else the image's folder; None when the row has no file (a study that could not be retrieved)."""
    if not row.path:
        return None
    path = Path(row.path)
    for parent in path.parents:
        if row.study_uid and parent.name == row.study_uid:
            return parent
    return path.parent


def _short(uid: str) -> str:
    """A long UID shortened for a table cell (the full one is in the tooltip)."""
    return uid if len(uid) <= 24 else f"{uid[:10]}…{uid[-12:]}"


class WorklistPanel(QtWidgets.QWidget):
    """Lists :class:`engine.TriageRow` rows most urgent first; emits :attr:`study_chosen` with a folder."""

    study_chosen = QtCore.Signal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.rows: list = []
        self.caption = QtWidgets.QLabel("Open a worklist.csv (File → Open worklist…)", wordWrap=True)
        self.caption.setProperty("class", "dim")
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(COLUMNS.index("Reason"), QtWidgets.QHeaderView.Stretch)
        self.table.doubleClicked.connect(lambda index: self.open_row(index.row()))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.table)

    def load(self, path: str | Path) -> None:
        """Show the rows of a ``worklist.csv`` (a small file, read here)."""
        self.set_rows(engine.read_worklist(path), f"{Path(path).parent.name}/{Path(path).name}")

    def set_rows(self, rows, source: str = "") -> None:
        """Show ``rows`` in their order (the file's order is the urgency order)."""
        self.rows = list(rows)
        self.table.setRowCount(len(self.rows))
        for index, row in enumerate(self.rows):
            values = (str(index + 1), row.tier, f"{row.urgency:.2f}", row.gate or "—", str(row.images),
                      _short(row.study_uid) or Path(row.path).name, row.reason)
            for column, value in enumerate(values):
                item = QtWidgets.QTableWidgetItem(value)
                item.setToolTip(row.reason if column == COLUMNS.index("Reason") else row.path or row.study_uid)
                if column == COLUMNS.index("Tier"):
                    item.setForeground(QtGui.QColor(TIER_COLOURS.get(row.tier, theme.TEXT)))
                    font = item.font()
                    font.setBold(row.tier == "urgent")
                    item.setFont(font)
                self.table.setItem(index, column, item)
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        counts = {tier: sum(r.tier == tier for r in self.rows) for tier in ("urgent", "review", "routine")}
        self.caption.setText(f"{source}: {len(self.rows)} studies — " +
                             ", ".join(f"{n} {tier}" for tier, n in counts.items()) +
                             ". Double-click a row to open the study.")

    def open_row(self, index: int) -> None:
        """Emit the folder of row ``index`` (nothing for a study that has no local file)."""
        folder = study_folder(self.rows[index])
        if folder is not None:
            self.study_chosen.emit(folder)
