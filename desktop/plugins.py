"""The analysis-plugin interface: how an analysis (the engine's or a site's own) joins the viewer.

A plugin is an object with a ``name``, a ``title`` and a ``create_panel(context)`` method that
returns a ``QWidget``; the viewer puts the panel in a dock on the right. Through the
:class:`ViewerContext` the panel learns which image is shown, runs its work on the viewer's
worker threads, draws overlays and reports status and errors. Plugins are found through the
entry-point group ``cxr_lens.plugins`` (see ``examples/example_plugin`` and docs/VIEWER.md);
the engine's own panel is the built-in plugin. A plugin that fails to load or to build its panel
is reported to the user and skipped; the viewer keeps working.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import metadata
from typing import Protocol, runtime_checkable

from PySide6 import QtCore, QtWidgets

from desktop.workers import TaskRunner

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "cxr_lens.plugins"


class ViewerContext(QtCore.QObject):
    """What the viewer offers a plugin panel.

    Signals
    -------
    image_changed(image, data)
        A new image (an :class:`engine.Image`, or ``None`` when nothing is shown) and its
        :class:`desktop.widgets.image_view.ImageData` are on screen.
    """

    image_changed = QtCore.Signal(object, object)

    def __init__(self, window, runner: TaskRunner):
        super().__init__(window)
        self._window = window
        self.runner = runner
        self.image = None
        self.data = None

    @property
    def settings(self) -> QtCore.QSettings:
        """The viewer's settings store; plugins keep their keys under ``<plugin name>/``."""
        return self._window.settings

    def publish_image(self, image, data) -> None:
        """Called by the viewer when an image is shown; re-emits :attr:`image_changed`."""
        self.image, self.data = image, data
        self.image_changed.emit(image, data)

    def show_status(self, text: str, timeout_ms: int = 6000) -> None:
        """Show a short message in the status bar."""
        self._window.statusBar().showMessage(text, timeout_ms)

    def show_error(self, title: str, error: BaseException | str) -> None:
        """Tell the user that something failed (a dialog naming the file and the reason)."""
        self._window.show_error(title, error)

    def set_overlay(self, rgba, opacity: float = 1.0) -> None:
        """Draw an RGBA uint8 (rows, columns, 4) overlay on the shown image's pixel grid, with an
        overall ``opacity`` in [0, 1]; ``None`` removes it."""
        self._window.image_view.set_overlay(rgba, opacity)

    def show_beside(self, data, title: str, sync_window: bool = True) -> None:
        """Show another image (:class:`ImageData`) side by side with the current one; zoom and pan
        follow the main image, and so does the window when ``sync_window`` (same units)."""
        self._window.show_beside(data, title, sync_window)

    def set_pack_text(self, text: str, tooltip: str = "") -> None:
        """Show which model pack is in use in the status bar."""
        self._window.set_pack_text(text, tooltip)

    def add_menu_action(self, menu_title: str, action, key: str | None = None) -> None:
        """Add a ``QAction`` to a top-level menu (created when missing), e.g. ``"Analysis"``.

        Its shortcut works anywhere in the window and is listed in the help dialog.
        """
        self._window.menu_named(menu_title).addAction(action)
        self._window.addAction(action)
        self._window.actions_by_key[key or f"plugin_{id(action)}"] = action

    def add_about_section(self, section) -> None:
        """Add a tab to the About dialog: ``section()`` returns ``(title, markdown)``."""
        self._window.about_sections.append(section)


@runtime_checkable
class AnalysisPlugin(Protocol):
    """An analysis the viewer can host.

    Attributes
    ----------
    name
        Short unique identifier (used for settings keys), e.g. ``"engine"``.
    title
        Dock title shown to the user, e.g. ``"Findings"``.
    """

    name: str
    title: str

    def create_panel(self, context: ViewerContext) -> QtWidgets.QWidget:
        """Build and return the plugin's panel; connect to ``context`` signals here."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    reason: str


def discover_plugins() -> tuple[list[AnalysisPlugin], list[PluginFailure]]:
    """Load every plugin registered under the ``cxr_lens.plugins`` entry-point group.

    An entry point names a class or a factory; it is called without arguments and must return
    an object with ``name``, ``title`` and ``create_panel``. Failures are returned, not raised.
    """
    plugins: list[AnalysisPlugin] = []
    failures: list[PluginFailure] = []
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            plugin = entry.load()()
        except Exception as error:  # noqa: BLE001 - a broken third-party plugin must not stop the viewer
            log.warning("plugin %s failed to load", entry.name, exc_info=True)
            failures.append(PluginFailure(entry.name, f"{type(error).__name__}: {error}"))
            continue
        if not isinstance(plugin, AnalysisPlugin):
            failures.append(PluginFailure(entry.name, "does not provide name, title and create_panel"))
            continue
        plugins.append(plugin)
    return plugins, failures
