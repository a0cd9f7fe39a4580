"""DICOM results in the viewer: findings and heatmaps read from SR/SEG files, and saving as SR/SEG.

When a folder is read, the SR (TID 1500), Segmentation and Parametric Map files among its non-image
files are read on a worker. For the image on screen, the findings of an SR that references it go
into the findings panel, marked as loaded from file with the algorithm that wrote them, and each
Segmentation or Parametric Map frame becomes a checkable overlay in Analysis → Loaded overlays (the
first is shown). Analysis → Save
analysis as DICOM SR writes the analysis on screen (and its heatmap, if one is shown) with
``engine.save_analysis``.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

import engine
from desktop.widgets.findings_panel import FindingsPanel
from desktop.widgets.heatmap_panel import HeatmapPanel, overlay_rgba

log = logging.getLogger(__name__)

OVERLAY_OPACITY = 0.6


class LoadedResults(QtCore.QObject):
    """Connects a main window's reads and images to the results found beside them."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.by_image: dict[str, list] = {}
        self.overlay_menu = window.menu_named("&Analysis").addMenu("Loaded &overlays")
        self.overlay_group = QtGui.QActionGroup(self)
        self.overlay_group.setExclusionPolicy(QtGui.QActionGroup.ExclusionPolicy.ExclusiveOptional)
        save = QtGui.QAction("Save analysis as DICOM S&R…", self)
        save.triggered.connect(self.save_dialog)
        window.context.add_menu_action("&Analysis", save, "save_dicom_sr")
        window.study_read.connect(self.on_read)
        window.image_shown.connect(self.on_image)

    # ------------------------------------------------------------------ reading
    def on_read(self, result) -> None:
        """A folder was read: look for results among its non-image files on a worker."""
        self.by_image = {}
        if result.skipped:
            self.window.runner.submit(engine.find_results, list(result.skipped), name="results",
                                      on_result=self._on_found,
                                      on_error=lambda error: self.window.show_error("Results could not be read", error))

    def _on_found(self, found) -> None:
        objects, errors = found
        for obj in objects:
            for uid in obj.references:
                self.by_image.setdefault(uid, []).append(obj)
        if errors:
            self.window.statusBar().showMessage(f"{len(errors)} result file(s) could not be read: {errors[0][1]}", 10000)
        if self.window.current_image is not None:
            self.on_image(self.window.current_image)

    def on_image(self, image) -> None:
        """Show the loaded findings and overlays of ``image`` (nothing when no result references it)."""
        results = self.by_image.get(image.sop_uid, []) if image is not None and image.sop_uid else []
        panel = self._child(FindingsPanel)
        reports = [r for r in results if r.kind == "SR"]
        if panel is not None:
            if reports:
                report = reports[0]
                gate = f"; input check: {report.gate_status}" if report.gate_status else ""
                refused = " — refused: " + " ".join(report.gate_messages) if report.gate_status == "refuse" else ""
                panel.show_loaded(f"Loaded from file {report.path.name}: {report.algorithm or 'unknown algorithm'}"
                                  f"{gate}{refused}",
                                  sorted(report.findings, key=lambda f: (not f.positive, -(f.probability or 0.0))))
            else:
                panel.show_loaded("", ())
        self._fill_overlays([r for r in results if r.kind in ("SEG", "PM")])

    def _fill_overlays(self, segmentations) -> None:
        for action in self.overlay_group.actions():
            self.overlay_group.removeAction(action)
        self.overlay_menu.clear()
        for seg in segmentations:
            for label, values in seg.maps.items():
                action = QtGui.QAction(f"{label} ({seg.method or 'map'}) — {seg.path.name}", self, checkable=True)
                action.toggled.connect(lambda on, v=values: self._show_overlay(v if on else None))
                self.overlay_group.addAction(action)
                self.overlay_menu.addAction(action)
        self.overlay_menu.setEnabled(bool(self.overlay_group.actions()))
        if self.overlay_group.actions():
            self.overlay_group.actions()[0].setChecked(True)

    def _show_overlay(self, values) -> None:
        if values is None:
            if self.overlay_group.checkedAction() is None:
                self.window.context.set_overlay(None)
            return
        low, high = float(values.min()), float(values.max())
        if low < 0.0 or high > 1.0:  # a Parametric Map in other units: its own range is shown
            values = (values - low) / (high - low)
        self.window.context.set_overlay(overlay_rgba(values), OVERLAY_OPACITY)

    # ------------------------------------------------------------------ saving
    def save_dialog(self) -> None:
        """Ask for a folder and save the analysis on screen there."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(self.window, "Save the analysis as DICOM SR in")
        if folder:
            self.save_to(Path(folder))

    def save_to(self, folder: Path) -> None:
        """Write the shown image's analysis (SR, and the heatmap on screen as SEG) into ``folder``."""
        findings, heat = self._child(FindingsPanel), self._child(HeatmapPanel)
        image = self.window.current_image
        predictor = heat.session.predictor if heat is not None else None
        prediction = findings.prediction if findings is not None else None
        if image is None or predictor is None or prediction is None:
            self.window.show_error("Nothing to save", "open a DICOM image and wait for its findings")
            return
        self.window.runner.submit(
            engine.save_analysis, image.path, prediction, predictor.pack, folder, heat.heatmap, name="save SR",
            on_result=lambda paths: self.window.statusBar().showMessage(
                "Saved " + ", ".join(p.name for p in paths) + f" in {folder}", 10000),
            on_error=lambda error: self.window.show_error("The analysis could not be saved as DICOM", error))

    def _child(self, kind):
        found = self.window.findChildren(kind)
        return found[0] if found else None
