"""The built-in analysis plugin: the engine's findings, report fusion, heatmaps and similar cases.

It loads torch and the model pack on a worker after the first image is on screen, predicts for
every image shown, fuses the report text when there is one, and never shows image findings the
input gate refused. All engine calls go through the viewer's :class:`desktop.workers.TaskRunner`.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

import engine
from desktop.analysis import consistency
from desktop.widgets.findings_panel import FindingsPanel
from desktop.widgets.heatmap_panel import HeatmapPanel
from desktop.widgets.report_panel import ReportPanel
from desktop.widgets.similar_panel import SimilarPanel

log = logging.getLogger(__name__)

MODEL_THREADS = 2           # torch intra-op threads (the target machines have 2 cores)
PACK_LOAD_DELAY_MS = 1500   # start loading the pack this long after start-up if no image came first
_MODEL_LOCK = threading.Lock()  # one forward pass at a time on the shared model


def load_predictor(pack_dir: Path):
    """Load and verify a pack and build its predictor (imports torch on first call).

    The report labeler's spaCy pipeline is built here too: importing spaCy holds the GIL for
    ~0.2 s at a stretch, which would stall the event loop at the reader's first report analysis.
    """
    predictor = engine.Predictor(pack_dir, threads=MODEL_THREADS)
    engine.label_text("No acute disease.")
    return predictor


def predict_image(predictor, image):
    """Image-only prediction behind the gate."""
    with _MODEL_LOCK:
        return predictor.predict(image)


def analyse_report(predictor, image, text: str):
    """Label ``text`` and predict with image and text fused; returns ``(labels, prediction)``."""
    with _MODEL_LOCK:  # the spaCy pipeline is shared with similar-case text queries
        labels = engine.label_text(text)
        prediction = predictor.predict(image, report=text)
    return labels, prediction


class EnginePlugin:
    """The engine's analysis as a viewer plugin (see :mod:`desktop.plugins`)."""

    name = "engine"
    title = "AI analysis"

    def __init__(self, pack_dir: str | Path | None = None):
        self.pack_dir = Path(pack_dir) if pack_dir else None

    def create_panel(self, context):
        """Return the :class:`EnginePanel`."""
        return EnginePanel(context, self.pack_dir)


class EnginePanel(QtWidgets.QWidget):
    """Findings on top; report, heatmap and similar cases in tabs below."""

    def __init__(self, context, pack_dir: Path | None):
        super().__init__()
        self.context = context
        self.predictor = None
        self.image = None
        self.image_prediction = None
        self.report_labels = None
        self._generation = 0

        self.findings = FindingsPanel()
        self.report = ReportPanel()
        self.heatmap = HeatmapPanel(context, self, _MODEL_LOCK)
        self.similar = SimilarPanel(context, self, _MODEL_LOCK)
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.report, "Report")
        self.tabs.addTab(self.heatmap, "Heatmap")
        self.tabs.addTab(self.similar, "Similar cases")
        splitter = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        splitter.addWidget(self.findings)
        splitter.addWidget(self.tabs)
        splitter.setSizes([430, 470])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.setMinimumWidth(380)

        self.report.analyse_requested.connect(self.analyse_text)
        self._persist_options(context.settings)
        self._picked = None   # the finding the reader clicked for this image
        self.findings.label_selected.connect(self._on_pick)
        context.image_changed.connect(self.on_image)
        rerun = QtGui.QAction("Re-run &findings", self, shortcut=QtGui.QKeySequence("Ctrl+R"))
        rerun.triggered.connect(self.run_image)
        switch = QtGui.QAction("Switch model &pack…", self)
        switch.triggered.connect(self.switch_pack_dialog)
        context.add_menu_action("&Analysis", rerun, "rerun_findings")
        context.add_menu_action("&Analysis", switch, "switch_pack")
        context.add_about_section(self.about_section)
        # Torch and the pack load after the first image is on screen (or after a pause when no
        # image is opened), so that they never delay it.
        self._pending_pack = (pack_dir or engine.bundled_pack_dir(), pack_dir is not None)
        self.findings.show_message("The model pack loads after the first image is shown.")
        QtCore.QTimer.singleShot(PACK_LOAD_DELAY_MS, self.start_pending_load)

    def start_pending_load(self) -> None:
        """Start loading the pack given at start-up, if that has not happened yet."""
        if self._pending_pack is not None:
            pack_dir, explicit = self._pending_pack
            self._pending_pack = None
            self.load_pack(pack_dir, explicit)

    def _persist_options(self, settings) -> None:
        """Restore the panel's options from the settings and save them when they change."""
        heat, similar = self.heatmap, self.similar
        options = (  # key, current value, apply a stored value, change signal
            ("heatmap_method", heat.method_box.currentData,
             lambda v: heat.method_box.setCurrentIndex(max(heat.method_box.findData(v), 0)),
             heat.method_box.currentIndexChanged),
            ("heatmap_opacity", heat.opacity.value, lambda v: heat.opacity.setValue(int(v)), heat.opacity.valueChanged),
            ("similar_mode", similar.mode_box.currentText, similar.mode_box.setCurrentText,
             similar.mode_box.currentIndexChanged),
            ("similar_k", similar.k_box.value, lambda v: similar.k_box.setValue(int(v)), similar.k_box.valueChanged),
            ("report_auto", self.report.auto.isChecked,
             lambda v: self.report.auto.setChecked(str(v).lower() == "true"), self.report.auto.toggled),
            ("tab", self.tabs.currentIndex, lambda v: self.tabs.setCurrentIndex(int(v)), self.tabs.currentChanged),
        )
        for key, current, apply, changed in options:
            stored = settings.value(f"engine/{key}")
            if stored is not None:
                apply(stored)
            changed.connect(lambda *_a, k=key, c=current: settings.setValue(f"engine/{k}", c()))

    # ------------------------------------------------------------------ pack
    def load_pack(self, pack_dir: Path, explicit: bool = True) -> None:
        """Load ``pack_dir`` on a worker; the current image is analysed once it is ready."""
        self.predictor = None
        self.context.set_pack_text(f"Loading model pack {Path(pack_dir).name} …")
        self.findings.show_message("Loading the model pack …")
        self.context.runner.submit(load_predictor, Path(pack_dir), name="load pack",
                                   on_result=self._on_pack,
                                   on_error=lambda error: self._on_pack_error(pack_dir, error, explicit))

    def switch_pack_dialog(self) -> None:
        """Ask for a pack folder and load it."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Choose a model pack folder")
        if folder:
            self.load_pack(Path(folder))

    def _on_pack(self, predictor) -> None:
        self.predictor = predictor
        manifest = predictor.pack.manifest
        self.context.set_pack_text(f"Pack: {manifest['name']} {manifest['version']}", str(predictor.pack.path))
        self.heatmap.set_labels(predictor.labels)
        self.similar.set_predictor(predictor)
        if self.image is not None:
            self.run_image()
        else:
            self.findings.show_message("Open an image to see findings.")

    def _on_pack_error(self, pack_dir, error, explicit: bool) -> None:
        self.context.set_pack_text("No model pack", str(error))
        self.similar.set_predictor(None)
        self.findings.show_message(f"No model pack loaded — AI panels are off.\n{error}\n"
                                   "Choose one with Analysis → Switch model pack….")
        if explicit or Path(pack_dir).exists():
            self.context.show_error(f"Model pack {pack_dir} was refused", error)
        else:
            self.context.show_status(f"No model pack at {pack_dir}: reading tools only", 10000)

    def about_section(self) -> tuple[str, str]:
        """The loaded pack's facts and model card for the About dialog."""
        if self.predictor is None:
            return "Model pack", "No model pack is loaded."
        pack = self.predictor.pack
        manifest = pack.manifest
        card = pack.path / "README.md"
        text = card.read_text(encoding="utf-8", errors="replace") if card.exists() else "(no model card)"
        facts = (f"**{manifest['name']} {manifest['version']}** — `{pack.path}`\n\n"
                 f"Intended use: {manifest.get('intended_use', 'not stated')}\n\n"
                 + "| Label | Threshold |\n|---|---|\n"
                 + "\n".join(f"| {e['name']} | {e.get('threshold', float('nan')):.2f} |" for e in manifest["labels"]))
        return "Model pack", facts + "\n\n---\n\n" + text

    # ------------------------------------------------------------------ analysis
    def on_image(self, image, _data) -> None:
        """A new image is on screen: analyse it (when the pack is ready)."""
        self.image = image
        self.image_prediction = None
        self._picked = None
        self.heatmap.clear()
        self.similar.clear()
        self.start_pending_load()
        if self.predictor is not None:
            self.run_image()

    def run_image(self) -> None:
        """Predict from the image alone, then fuse the report text if there is any."""
        if self.predictor is None or self.image is None:
            return
        self._generation += 1
        generation, image = self._generation, self.image
        self.findings.show_message("Analysing the image …")
        self.context.runner.submit(predict_image, self.predictor, image, name="predict",
                                   on_result=lambda p: self._on_image_prediction(generation, p),
                                   on_error=lambda e: self._on_error(f"Analysis of {image.path} failed", e))

    def _on_image_prediction(self, generation: int, prediction) -> None:
        if generation != self._generation:
            return
        self.image_prediction = prediction
        if self.similar.search is not None and prediction.findings:
            self.similar.run()
        if self.report.text.strip():
            self.analyse_text(self.report.text)
        else:
            self._show(prediction)

    def analyse_text(self, text: str) -> None:
        """Label the report and predict with image and text fused."""
        if self.predictor is None:
            return
        if not text.strip():
            self.report_labels = None
            self.report.show_consistency([], "Type or paste a report to compare it with the image.")
            if self.image_prediction is not None:
                self._show(self.image_prediction)
            return
        self._generation += 1
        generation, image = self._generation, self.image
        self.context.runner.submit(analyse_report, self.predictor, image, text, name="report",
                                   on_result=lambda r: self._on_report(generation, text, *r),
                                   on_error=lambda e: self._on_error("The report could not be analysed", e))

    def _on_report(self, generation: int, text: str, labels, prediction) -> None:
        if generation != self._generation:
            return
        self.report_labels = labels
        self.report.show_labels(labels, text)
        gate = self.image_prediction.gate if self.image_prediction is not None else prediction.gate
        if self.image_prediction is None or not self.image_prediction.findings:
            note = "No image-based findings to compare (no image, or the input check refused it)."
            self.report.show_consistency([], note)
        else:
            self.report.show_consistency(consistency(labels, self.image_prediction))
        self._show(prediction, gate)

    def _show(self, prediction, gate=None) -> None:
        self.findings.set_prediction(prediction, gate)
        top = max((f for f in prediction.findings if f.positive), key=lambda f: f.probability, default=None)
        name = self._picked or (top.name if top is not None else None)
        if name is not None:  # the heatmap explains the strongest finding shown unless the reader picked one
            self.heatmap.select_label(name)
            self.findings.select_label(name)

    def _on_pick(self, name: str) -> None:
        self._picked = name
        self.heatmap.select_label(name)

    def _on_error(self, title: str, error) -> None:
        self.findings.show_message(f"{title}: {error}")
        self.context.show_error(title, error)
