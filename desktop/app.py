"""Start the viewer: arguments, QApplication, theme, settings, plugins, excepthook.

``main(argv)`` is the entry point (``cxr-lens view`` calls :func:`run`). The window shows before
any model is loaded; the engine plugin loads torch and the pack in the background.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from pathlib import Path

from desktop.display_check import missing_display

log = logging.getLogger(__name__)

SETTINGS_ENV = "CXR_LENS_SETTINGS"   # path of an INI file to use instead of the user's settings
EXIT_OK, EXIT_INPUT = 0, 2
SCREENSHOT_SIZE = (1600, 1000)


def make_settings():
    """The settings store: ``$CXR_LENS_SETTINGS`` (an INI file) or the user's CXR Lens settings."""
    from PySide6 import QtCore

    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QtCore.QSettings(path, QtCore.QSettings.IniFormat)
    return QtCore.QSettings(QtCore.QSettings.IniFormat, QtCore.QSettings.UserScope, "CXR Lens", "cxr-lens")


def build_window(fresh: bool = False, pack: str | Path | None = None, plugins: bool = True):
    """Create the QApplication (if needed) and the themed main window with its plugins."""
    from PySide6 import QtGui, QtWidgets

    import engine
    from desktop.main_window import MainWindow
    from desktop.theme import apply_dark_theme

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([sys.argv[0]])
    app.setApplicationName("CXR Lens")
    app.setWindowIcon(QtGui.QIcon(str(engine.icon_path())))
    apply_dark_theme(app)
    settings = make_settings()
    if fresh:
        settings.clear()
    window = MainWindow(settings)
    if plugins:
        install_plugins(window, pack)
    return app, window


def install_plugins(window, pack: str | Path | None = None) -> None:
    """Add the built-in engine plugin, then every plugin of the ``cxr_lens.plugins`` group."""
    from desktop.engine_plugin import EnginePlugin
    from desktop.plugins import discover_plugins

    window.add_plugin(EnginePlugin(pack_dir=pack))
    found, failures = discover_plugins()
    for plugin in found:
        window.add_plugin(plugin)
    for failure in failures:
        window.show_error(f"Plugin “{failure.name}” could not load", failure.reason)


def _install_excepthook(window) -> None:
    def hook(kind, value, tb):
        log.error("unexpected error:\n%s", "".join(traceback.format_exception(kind, value, tb)))
        window.show_error("Unexpected error", f"{kind.__name__}: {value}\n\nThe viewer keeps running; "
                          "please report this with the log.")
    sys.excepthook = hook


def _log_first_image(window) -> None:
    """Log once when the first image is on screen (bench/dist.py times start-up by this line)."""
    def shown(_image) -> None:
        window.image_shown.disconnect(shown)
        log.info("first image on screen")
    window.image_shown.connect(shown)


def run(path: str | Path | None = None, screenshot: str | Path | None = None, fresh: bool = False,
        pack: str | Path | None = None, timeout_s: float = 180.0) -> int:
    """Open the viewer (on ``path`` if given).

    With ``screenshot`` the window is rendered after loading and analysis finish (or after
    ``timeout_s``), saved as PNG, and the function returns without entering the event loop.
    Returns 0, or 2 when ``path`` could not be shown or there is no display to show it on.
    """
    problem = missing_display(os.environ)
    if problem is not None:  # Qt would abort (exit code 134) without saying what to do
        print(f"cxr-lens view: {problem}", file=sys.stderr)
        return EXIT_INPUT
    app, window = build_window(fresh=fresh, pack=pack)
    _install_excepthook(window)
    if screenshot is not None:
        window.resize(*SCREENSHOT_SIZE)
    window.show()
    if path is not None:
        _log_first_image(window)
        window.open_path(path)
    if screenshot is None:
        return app.exec()
    window.runner.wait_idle(timeout_s)
    app.processEvents()
    window.grab().save(str(screenshot))
    log.info("screenshot saved to %s", screenshot)
    shown = window.current_image is not None
    window.save_settings()
    window.close()
    if path is not None and not shown:
        reason = getattr(window, "last_error", ("", "no image could be shown"))[1]
        print(f"cxr-lens: {path}: {reason}", file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    """Arguments of the viewer (shared by ``cxr-lens view``)."""
    p = argparse.ArgumentParser(prog="cxr-lens view", description="Open the CXR Lens viewer.")
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the viewer's arguments to ``p``."""
    p.add_argument("path", nargs="?", help="a DICOM/PNG/JPEG file, a folder or a DICOMDIR")
    p.add_argument("--screenshot", metavar="OUT.png", help="render the window after loading, save it, exit")
    p.add_argument("--fresh", action="store_true", help="start with default settings (forget layout and recent)")
    p.add_argument("--pack", metavar="DIR", help="model pack folder (default: the bundled pack)")


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse ``argv`` (without the program name) and run the viewer."""
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(args.path, args.screenshot, args.fresh, args.pack)


if __name__ == "__main__":
    sys.exit(main())
