"""The main window: docks, menus, status bar and the wiring between them (no image logic here)."""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6 import QtCore, QtWidgets

import engine
from desktop import loading
from desktop.actions import ACTIONS, build_actions
from desktop.annotations import corner_texts
from desktop.loaded_results import LoadedResults
from desktop.plugins import ViewerContext
from desktop.widgets.compare_pane import ComparePane
from desktop.widgets.help_dialog import HelpDialog
from desktop.widgets.image_view import ImageView
from desktop.widgets.study_browser import StudyBrowser, image_key
from desktop.widgets.tag_viewer import TagViewer
from desktop.workers import TaskRunner

log = logging.getLogger(__name__)

MENU_ORDER = ("&File", "&View", "&Window", "&Tools", "&Go", "&Analysis", "&Help")
MAX_RECENT = 10


class MainWindow(QtWidgets.QMainWindow):
    """The viewer window.

    Parameters
    ----------
    settings
        Where layout, recent studies and options persist.
    runner
        Worker pool for engine calls (a new one when ``None``).
    """

    image_shown = QtCore.Signal(object)      # engine Image, after its pixels are on screen
    study_read = QtCore.Signal(object)       # engine ReadResult of the file/folder just opened

    def __init__(self, settings: QtCore.QSettings, runner: TaskRunner | None = None):
        super().__init__()
        self.settings = settings
        self.runner = runner or TaskRunner(parent=self)
        self.setWindowTitle("CXR Lens")
        self.setAcceptDrops(True)
        self.resize(1440, 900)
        self.setDockNestingEnabled(True)
        self._menus: dict[str, QtWidgets.QMenu] = {}
        for title in MENU_ORDER:
            self.menu_named(title)

        self.image_view = ImageView()
        self.compare_pane = ComparePane(self.image_view)
        self.compare_view = self.compare_pane.view
        self.splitter = QtWidgets.QSplitter()
        self.splitter.addWidget(self.image_view)
        self.splitter.addWidget(self.compare_pane)
        self.setCentralWidget(self.splitter)

        self.browser = StudyBrowser()
        self.browser_dock = self._dock("Studies", self.browser, QtCore.Qt.LeftDockWidgetArea)
        self.browser.image_selected.connect(self.show_image)

        self.readout = QtWidgets.QLabel()
        self.pack_label = QtWidgets.QLabel("No model pack")
        self.progress = QtWidgets.QProgressBar(maximumWidth=160, maximumHeight=14)
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.statusBar().addWidget(self.readout, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.pack_label)
        self.runner.busy_changed.connect(self.progress.setVisible)

        self.actions_by_key = build_actions(self)
        toolbar = self.addToolBar("Tools")
        toolbar.setObjectName("tools")
        toolbar.setMovable(False)
        menu = None
        for spec in (spec for spec in ACTIONS if spec.toolbar):
            if menu is not None and spec.menu != menu:
                toolbar.addSeparator()
            toolbar.addAction(self.actions_by_key[spec.key])
            menu = spec.menu
        self.preset_box = QtWidgets.QComboBox()
        self.preset_box.addItems([a.text().removeprefix("Window: ") for k, a in self.actions_by_key.items()
                                  if k.startswith("preset_")])
        self.preset_box.setToolTip("Window preset (keys 1–5); right-drag on the image for free window/level")
        self.preset_box.activated.connect(lambda index: self.apply_preset(
            [k.removeprefix("preset_") for k in self.actions_by_key if k.startswith("preset_")][index]))
        toolbar.addWidget(self.preset_box)
        self.frame_box = QtWidgets.QSpinBox(prefix="Frame ", minimum=1, maximum=1)
        self.frame_action = toolbar.addWidget(self.frame_box)
        self.frame_action.setVisible(False)
        self.frame_box.valueChanged.connect(lambda v: self.show_frame(v - 1))
        self._recent_menu = self.menu_named("&File").addMenu("Open &recent")
        self._recent_menu.aboutToShow.connect(self._fill_recent)
        self.menu_named("&Help").addAction("&About CXR Lens", self.show_about)

        self.image_view.cursor_moved.connect(self.readout.setText)
        self.image_view.measured.connect(self._on_measured)

        self.context = ViewerContext(self, self.runner)
        self.plugin_docks: dict[str, QtWidgets.QDockWidget] = {}
        self.about_sections: list = []          # callables returning (title, html) for About
        self.images: list = []
        self.current_image = None
        self.current_frame = 0
        self._load_token = 0
        self.loaded_results = LoadedResults(self)  # SR/SEG results found beside the images
        self._restore_settings()

    # ------------------------------------------------------------------ building blocks
    def menu_named(self, title: str) -> QtWidgets.QMenu:
        """Return the top-level menu ``title``, creating it (before Help) when missing."""
        key = title if title.startswith("&") else f"&{title}"
        menu = self._menus.get(key) or self._menus.get(title)
        if menu is None:
            menu = QtWidgets.QMenu(key, self)
            help_menu = self._menus.get("&Help")
            if help_menu is not None:
                self.menuBar().insertMenu(help_menu.menuAction(), menu)
            else:
                self.menuBar().addMenu(menu)
            self._menus[key] = menu
        return menu

    def _dock(self, title: str, widget: QtWidgets.QWidget, area) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetMovable | QtWidgets.QDockWidget.DockWidgetFloatable
                         | QtWidgets.QDockWidget.DockWidgetClosable)
        self.addDockWidget(area, dock)
        self.menu_named("&View").addAction(dock.toggleViewAction())
        return dock

    def add_plugin(self, plugin) -> bool:
        """Put ``plugin``'s panel in a dock on the right; report and skip a failing plugin."""
        try:
            panel = plugin.create_panel(self.context)
        except Exception as error:  # noqa: BLE001 - a plugin's bug must not take the viewer down
            log.warning("plugin %s failed", plugin.name, exc_info=True)
            self.show_error(f"Plugin “{plugin.name}” could not start", error)
            return False
        dock = self._dock(plugin.title, panel, QtCore.Qt.RightDockWidgetArea)
        dock.setObjectName(f"plugin_{plugin.name}")
        others = list(self.plugin_docks.values())
        if others:
            self.tabifyDockWidget(others[-1], dock)
        self.plugin_docks[plugin.name] = dock
        if self.settings.contains("window/state"):
            self.restoreState(self.settings.value("window/state"))
        return True

    # ------------------------------------------------------------------ opening
    def open_file_dialog(self) -> None:
        """Ask for a file (DICOM, DICOMDIR, PNG or JPEG) and open it."""
        start = str(self.settings.value("paths/last_dir", str(Path.home())))
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open image or DICOMDIR", start, "Images (*.dcm *.dicom *.png *.jpg *.jpeg DICOMDIR);;All files (*)")
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        """Ask for a folder and open every image in it (recursively)."""
        start = str(self.settings.value("paths/last_dir", str(Path.home())))
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open folder", start)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> None:
        """Read a file, folder or DICOMDIR on a worker; show the first image when read."""
        path = Path(path)
        self.statusBar().showMessage(f"Reading {path} …")
        self.runner.submit(engine.read_path, path, name="read",
                           on_result=lambda result: self._on_read(path, result),
                           on_error=lambda error: self.show_error(f"Cannot open {path}", error))

    def _on_read(self, path: Path, result) -> None:
        self.settings.setValue("paths/last_dir", str(path if path.is_dir() else path.parent))
        self.images = self.browser.set_studies(result.studies)
        self.study_read.emit(result)
        if result.errors:
            names = "\n".join(f"{e.path.name}: {e.reason}" for e in result.errors[:8])
            more = f"\n… and {len(result.errors) - 8} more" if len(result.errors) > 8 else ""
            self.statusBar().showMessage(f"{len(result.errors)} file(s) could not be read", 10000)
            if not self.images:
                self.show_error(f"No readable images in {path}", names + more)
        if not self.images:
            if not result.errors:
                self.show_error(f"No images in {path}", "the folder holds no DICOM, PNG or JPEG image")
            return
        self._add_recent(path)
        self.setWindowTitle(f"CXR Lens — {path.name}")
        if not result.errors:
            self.statusBar().showMessage(f"{path.name}: {len(self.images)} image(s) in "
                                         f"{len(result.studies)} stud{'y' if len(result.studies) == 1 else 'ies'}", 5000)
        self.show_image(self.images[0])
        for image in self.images:
            key = image_key(image)
            self.runner.submit(loading.thumbnail, image, key, name="thumbnail",
                               on_result=lambda thumb: self.browser.set_thumbnail(thumb.key, thumb.pixels),
                               on_error=lambda error: log.info("no thumbnail: %s", error))

    def show_image(self, image, frame: int = 0) -> None:
        """Load one frame of ``image`` on a worker and show it."""
        self._load_token += 1
        token = self._load_token
        keep = image is self.current_image and frame != self.current_frame
        self.runner.submit(loading.image_data, image, frame, name="pixels",
                           on_result=lambda data: self._on_pixels(token, image, frame, data, keep),
                           on_error=lambda error: self.show_error(f"Cannot display {image.path}", error))

    def _on_pixels(self, token: int, image, frame: int, data, keep: bool) -> None:
        if token != self._load_token:
            return  # a newer request superseded this one
        self.current_image, self.current_frame = image, frame
        self.image_view.set_image(data, keep_view=keep)
        self.image_view.set_inverted(self.actions_by_key["invert"].isChecked())
        self.image_view.set_corner_texts(corner_texts(image, frame))
        self.browser.select_image(image)
        self.frame_box.blockSignals(True)
        self.frame_box.setMaximum(image.number_of_frames)
        self.frame_box.setValue(frame + 1)
        self.frame_box.blockSignals(False)
        self.frame_action.setVisible(image.number_of_frames > 1)
        if data.pixel_spacing_mm is None:
            self.statusBar().showMessage("No pixel spacing in this file: distances are in pixels", 8000)
        self.context.publish_image(image, data)
        self.image_shown.emit(image)

    def step_image(self, step: int) -> None:
        """Show the next (``step`` = 1) or previous image of the loaded studies."""
        if self.current_image in self.images:
            index = self.images.index(self.current_image) + step
            if 0 <= index < len(self.images):
                self.show_image(self.images[index])

    def show_frame(self, frame: int) -> None:
        """Show frame ``frame`` (0-based) of the current image."""
        if self.current_image is not None and 0 <= frame < self.current_image.number_of_frames:
            self.show_image(self.current_image, frame)

    def step_frame(self, step: int) -> None:
        """Show the next or previous frame of a multi-frame image."""
        self.show_frame(self.current_frame + step)

    # ------------------------------------------------------------------ PACS and worklist
    def open_pacs_dialog(self) -> QtWidgets.QDialog:
        """File → Open from PACS: search a server, retrieve a study and open it (desktop/widgets/pacs_dialog.py)."""
        from desktop.widgets.pacs_dialog import PacsDialog

        if getattr(self, "pacs_dialog", None) is None:
            self.pacs_dialog = PacsDialog(self.runner, self.settings, self)
            self.pacs_dialog.study_retrieved.connect(self.open_path)
        self.pacs_dialog.show()
        self.pacs_dialog.raise_()
        return self.pacs_dialog

    def send_results_to_pacs(self) -> None:
        """File → Send results to PACS: offer the engine panel's analysis of the image on screen."""
        panel = self.plugin_docks["engine"].widget() if "engine" in self.plugin_docks else None
        prediction = getattr(panel, "image_prediction", None)
        if self.current_image is None or prediction is None or self.current_image.kind != "dicom":
            self.statusBar().showMessage("No analysed DICOM image on screen: nothing to send", 8000)
            return
        self.open_pacs_dialog().offer_results(self.current_image.path, prediction, panel.predictor.pack)

    def open_worklist_dialog(self) -> None:
        """File → Open worklist: choose a worklist.csv written by a scan."""
        start = str(self.settings.value("paths/last_dir", str(Path.home())))
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open worklist", start, "Worklist (worklist.csv *.csv)")
        if path:
            self.show_worklist(path)

    def show_worklist(self, path: str | Path) -> None:
        """Show a worklist.csv in the Worklist dock (studies by urgency; double-click opens one)."""
        from desktop.widgets.worklist_panel import WorklistPanel

        if getattr(self, "worklist_dock", None) is None:
            panel = WorklistPanel()
            panel.study_chosen.connect(self.open_path)
            self.worklist_dock = self._dock("Worklist", panel, QtCore.Qt.BottomDockWidgetArea)
        try:
            self.worklist_dock.widget().load(path)
        except (OSError, KeyError, ValueError) as error:
            self.show_error(f"Cannot read the worklist {path}", f"{error} — choose a worklist.csv written by a scan")
            return
        self.worklist_dock.show()
        self.worklist_dock.raise_()

    # ------------------------------------------------------------------ view commands
    def fit(self) -> None:
        self.image_view.fit()

    def actual_size(self) -> None:
        self.image_view.actual_size()

    def zoom(self, factor: float) -> None:
        self.image_view.zoom(factor)

    def rotate(self, degrees: int) -> None:
        self.image_view.rotate(degrees)

    def flip(self, horizontal: bool) -> None:
        self.image_view.flip(horizontal)

    def toggle_invert(self, on: bool) -> None:
        self.image_view.set_inverted(on)
        self.compare_view.set_inverted(on)

    def apply_preset(self, name: str) -> None:
        self.image_view.set_preset(name)
        keys = [k.removeprefix("preset_") for k in self.actions_by_key if k.startswith("preset_")]
        self.preset_box.setCurrentIndex(keys.index(name))

    def toggle_measure(self, on: bool) -> None:
        self.image_view.set_measuring(on)

    def clear_measurements(self) -> None:
        self.image_view.clear_measurements()

    def _on_measured(self, value: float, unit: str) -> None:
        note = "" if unit == "mm" else " — the file has no pixel spacing, so the length is in pixels"
        self.statusBar().showMessage(f"Distance {value:.1f} {unit}{note}", 10000)

    # ------------------------------------------------------------------ side-by-side view
    def show_beside(self, data, title: str, sync_window: bool = True) -> None:
        """Show ``data`` in the compare pane; zoom/pan (and the window when ``sync_window``) follow
        the main image."""
        self.compare_pane.show_image(data, title, sync_window, self.actions_by_key["invert"].isChecked())
        half = max(self.splitter.width() // 2, 1)
        self.splitter.setSizes([half, half])
        QtWidgets.QApplication.processEvents()  # lay the pane out before fitting
        self.image_view.fit()
        self.compare_pane.follow_range(self.image_view.view.viewRange())

    def hide_beside(self) -> None:
        """Close the compare pane."""
        self.compare_pane.hide()

    # ------------------------------------------------------------------ dialogs and messages
    def show_tags(self) -> None:
        """Open the DICOM tag viewer for the current image."""
        image = self.current_image
        if image is None or image.kind != "dicom":
            self.statusBar().showMessage("No DICOM image is shown", 5000)
            return
        self.runner.submit(engine.read_tags, image.path, name="tags",
                           on_result=lambda rows: self._open_tags(image.path, rows),
                           on_error=lambda error: self.show_error(f"Cannot read tags of {image.path}", error))

    def _open_tags(self, path, rows) -> None:
        self.tag_viewer = TagViewer(str(path), rows, self)
        self.tag_viewer.show()

    def show_help(self) -> None:
        HelpDialog(list(self.actions_by_key.values()), self).show()

    def show_about(self) -> None:
        from desktop.widgets.about_dialog import AboutDialog
        AboutDialog([section() for section in self.about_sections], self).show()

    def show_error(self, title: str, error) -> None:
        """Show an error in the status bar and a non-blocking dialog."""
        text = str(error)
        log.warning("%s: %s", title, text)
        self.statusBar().showMessage(f"{title}: {text.splitlines()[0] if text else ''}", 15000)
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Warning, title, text, parent=self)
        box.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        box.setModal(False)
        box.show()
        self.last_error = (title, text)

    def set_pack_text(self, text: str, tooltip: str = "") -> None:
        self.pack_label.setText(text)
        self.pack_label.setToolTip(tooltip)

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event):  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802 - Qt API
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_path(paths[0])
            event.acceptProposedAction()

    # ------------------------------------------------------------------ settings
    def _add_recent(self, path: Path) -> None:
        recent = [p for p in self.recent_paths() if p != str(path)]
        self.settings.setValue("recent", [str(path)] + recent[: MAX_RECENT - 1])

    def recent_paths(self) -> list[str]:
        """Recently opened files and folders, newest first."""
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _fill_recent(self) -> None:
        self._recent_menu.clear()
        for path in self.recent_paths():
            self._recent_menu.addAction(path, lambda p=path: self.open_path(p))
        if self._recent_menu.isEmpty():
            self._recent_menu.addAction("(none)").setEnabled(False)

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self.actions_by_key["invert"].setChecked(self.settings.value("view/invert", False, type=bool))

    def save_settings(self) -> None:
        """Write layout and options to the settings store."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("view/invert", self.actions_by_key["invert"].isChecked())
        self.settings.sync()

    def closeEvent(self, event):  # noqa: N802 - Qt API
        self.save_settings()
        super().closeEvent(event)
