"""The frame the viewer's read-only dialogs share: their content above a Close button."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets


def frame_dialog(dialog: QtWidgets.QDialog, body: QtWidgets.QWidget) -> None:
    """Lay out ``body`` above a Close button; the dialog is deleted when closed."""
    buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QtWidgets.QVBoxLayout(dialog)
    layout.addWidget(body)
    layout.addWidget(buttons)
    dialog.setAttribute(QtCore.Qt.WA_DeleteOnClose)
