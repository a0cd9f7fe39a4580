"""About dialog: the application, the loaded model pack and its model card."""
from __future__ import annotations

from PySide6 import QtWidgets

from desktop.widgets.dialog_frame import frame_dialog

APP_TEXT = (
    "<h2>CXR Lens</h2><p>An offline DICOM viewer for chest radiographs with an AI engine.</p>"
    "<p><b>Research and demonstration software; not for clinical use.</b> Findings, heatmaps and "
    "similar cases come from a model pack whose intended use, data and limits are described in its "
    "model card below.</p>"
)


class AboutDialog(QtWidgets.QDialog):
    """Tabs: the application, then one per ``(title, markdown)`` section (pack info, model card …)."""

    def __init__(self, sections, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About CXR Lens")
        self.resize(720, 620)
        tabs = QtWidgets.QTabWidget()
        browser = QtWidgets.QTextBrowser()
        browser.setHtml(APP_TEXT)
        tabs.addTab(browser, "CXR Lens")
        for title, markdown in sections:
            browser = QtWidgets.QTextBrowser()
            browser.setOpenExternalLinks(False)
            browser.setMarkdown(markdown)
            tabs.addTab(browser, title)
        self.tabs = tabs
        frame_dialog(self, tabs)
