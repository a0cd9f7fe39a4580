"""Dark theme for a reading room: low glare, neutral greys, one accent colour, readable text.

The palette and style sheet are applied once to the ``QApplication``; widgets use the named
colours below instead of literals so the look stays consistent.
"""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets

BACKGROUND = "#121417"     # image surroundings: near black, so the image dominates
PANEL = "#1b1e23"          # docks and panels
PANEL_ALT = "#22262c"      # alternate rows, inputs
BORDER = "#2e333b"
TEXT = "#d8dde3"
TEXT_DIM = "#8b949e"
ACCENT = "#4ea1ff"         # selection, focus, positive decisions
WARNING = "#f0b429"        # gate warnings
DANGER = "#f0564a"         # gate refusal, errors
OK = "#3fb950"

_STYLE = f"""
QWidget {{ color: {TEXT}; font-size: 10pt; }}
QMainWindow, QDialog {{ background: {PANEL}; }}
QDockWidget::title {{ background: {PANEL_ALT}; padding: 4px 6px; font-weight: 600; }}
QToolBar {{ background: {PANEL}; border: none; border-bottom: 1px solid {BORDER}; spacing: 2px; }}
QToolButton {{ padding: 3px 6px; border-radius: 3px; }}
QToolButton:hover {{ background: {PANEL_ALT}; }}
QToolButton:checked {{ background: #2b3f57; color: #ffffff; }}
QStatusBar {{ background: {PANEL}; border-top: 1px solid {BORDER}; color: {TEXT_DIM}; }}
QTreeWidget, QListWidget, QTableWidget, QTableView, QTextEdit, QPlainTextEdit, QLineEdit, QComboBox, QSpinBox {{
    background: {PANEL_ALT}; border: 1px solid {BORDER}; selection-background-color: #2b3f57;
    selection-color: #ffffff; alternate-background-color: #262b32; }}
QHeaderView::section {{ background: {PANEL}; color: {TEXT_DIM}; border: none; padding: 3px; }}
QTabBar::tab {{ background: {PANEL}; color: {TEXT_DIM}; padding: 5px 10px; border: 1px solid {BORDER};
    border-bottom: none; }}
QTabBar::tab:selected {{ background: {PANEL_ALT}; color: {TEXT}; }}
QPushButton {{ background: {PANEL_ALT}; border: 1px solid {BORDER}; padding: 4px 10px; border-radius: 3px; }}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton:disabled {{ color: {TEXT_DIM}; }}
QProgressBar {{ background: {PANEL_ALT}; border: 1px solid {BORDER}; border-radius: 2px; text-align: center; }}
QProgressBar::chunk {{ background: {ACCENT}; }}
QMenu {{ background: {PANEL}; border: 1px solid {BORDER}; }}
QMenu::item:selected {{ background: #2b3f57; }}
QSplitter::handle {{ background: {BORDER}; }}
QLabel#gateBanner[level="refuse"] {{ background: #4a1d1a; color: #ffd7d3; border: 1px solid {DANGER};
    padding: 6px; border-radius: 3px; font-weight: 600; }}
QLabel#gateBanner[level="warn"] {{ background: #4a3a12; color: #ffeab0; border: 1px solid {WARNING};
    padding: 6px; border-radius: 3px; font-weight: 600; }}
QLabel#gateBanner[level="ok"] {{ background: #173322; color: #c9f2d4; border: 1px solid {OK};
    padding: 6px; border-radius: 3px; }}
QLabel.dim {{ color: {TEXT_DIM}; }}
"""


def apply_dark_theme(app: QtWidgets.QApplication) -> None:
    """Give ``app`` the dark Fusion palette and the viewer's style sheet."""
    app.setStyle("Fusion")
    palette = QtGui.QPalette()
    colours = {
        QtGui.QPalette.Window: PANEL,
        QtGui.QPalette.WindowText: TEXT,
        QtGui.QPalette.Base: PANEL_ALT,
        QtGui.QPalette.AlternateBase: "#262b32",
        QtGui.QPalette.ToolTipBase: PANEL_ALT,
        QtGui.QPalette.ToolTipText: TEXT,
        QtGui.QPalette.Text: TEXT,
        QtGui.QPalette.Button: PANEL_ALT,
        QtGui.QPalette.ButtonText: TEXT,
        QtGui.QPalette.Highlight: "#2b3f57",
        QtGui.QPalette.HighlightedText: "#ffffff",
        QtGui.QPalette.Link: ACCENT,
        QtGui.QPalette.PlaceholderText: TEXT_DIM,
    }
    for role, colour in colours.items():
        palette.setColor(role, QtGui.QColor(colour))
    for role in (QtGui.QPalette.Text, QtGui.QPalette.ButtonText, QtGui.QPalette.WindowText):
        palette.setColor(QtGui.QPalette.Disabled, role, QtGui.QColor(TEXT_DIM))
    app.setPalette(palette)
    app.setStyleSheet(_STYLE)
