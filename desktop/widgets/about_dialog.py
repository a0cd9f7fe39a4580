"""About dialog: the application, the loaded model pack and its model card."""
from __future__ import annotations

from html import escape

from PySide6 import QtWidgets

import engine
from cxr_lens import __version__ as APP_VERSION
from desktop.widgets.dialog_frame import frame_dialog

APP_TEXT = (
    "<h2>CXR Lens</h2><p>An offline DICOM viewer for chest radiographs with an AI engine.</p>"
    "<p><b>Research and demonstration software; not for clinical use.</b> Findings, heatmaps and "
    "similar cases come from a model pack whose intended use, data and limits are described in its "
    "model card below.</p>"
)


def versions_html(info: dict) -> str:
    """The versions that ``cxr-lens --version`` prints, as an HTML table.

    ``info`` is ``{"app": version, **engine.version_info()}``.
    """
    pack = info["pack"]
    pack_text = (f"{pack['name']} {pack['version']}<br><small>sha256 {pack['sha256']}</small>" if "sha256" in pack
                 else escape(pack["error"]))
    rows = [("CXR Lens", info["app"]),
            ("Engine", f"{info['engine']} (pack schema {info['pack_schema']}, Python {info['python']}, "
                       f"{'offline executable' if info['frozen'] else 'from source'})"),
            ("Bundled pack", pack_text), ("Pack folder", escape(pack["path"]))]
    return "<table>" + "".join(f"<tr><td><b>{name}</b>&nbsp;</td><td>{value}</td></tr>" for name, value in rows) + "</table>"


class AboutDialog(QtWidgets.QDialog):
    """Tabs: the application, then one per ``(title, markdown)`` section (pack info, model card …)."""

    def __init__(self, sections, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About CXR Lens")
        self.resize(720, 620)
        tabs = QtWidgets.QTabWidget()
        browser = QtWidgets.QTextBrowser()
        browser.setHtml(APP_TEXT + versions_html({"app": APP_VERSION, **engine.version_info()}))
        tabs.addTab(browser, "CXR Lens")
        for title, markdown in sections:
            browser = QtWidgets.QTextBrowser()
            browser.setOpenExternalLinks(False)
            browser.setMarkdown(markdown)
            tabs.addTab(browser, title)
        self.tabs = tabs
        frame_dialog(self, tabs)
