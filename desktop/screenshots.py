"""Render the documentation screenshots (docs/img/viewer_*.png) headless.

``python -m desktop.screenshots [--study PATH] [--pack DIR] [--report FILE] [--out docs/img]``

Opens a study (default: the first bundled demo study, else pydicom-data's RG1 chest film), lets
the engine analyse it with the pack (default: the bundled one), then saves the reading view, the
findings with a report, a heatmap and the similar cases. Everything shown is computed live.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
log = logging.getLogger(__name__)

SIZE = (1680, 1020)


def default_study() -> Path:
    """The first demo study folder, else pydicom-data's RG1_UNCR.dcm."""
    import engine

    demo = engine.demo_studies_dir()
    studies = sorted(p for p in demo.iterdir() if p.is_dir()) if demo.is_dir() else []
    if studies:
        return studies[0]
    import data_store
    return Path(data_store.__file__).parent / "data" / "RG1_UNCR.dcm"


def study_report(study: Path) -> str:
    """The report kept beside a demo study (``report.txt``), if any."""
    folder = study if study.is_dir() else study.parent
    for name in ("report.txt", "REPORT.txt"):
        if (folder / name).exists():
            return (folder / name).read_text(encoding="utf-8")
    return ""


def main(argv: list[str] | None = None) -> int:
    """Save the screenshots; return 0, or 2 when the study could not be shown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=None)
    parser.add_argument("--pack", type=Path, default=None)
    parser.add_argument("--report", type=Path, default=None, help="report text file (default: the study's)")
    parser.add_argument("--method", default="gradcam", choices=("gradcam", "attention", "ig", "igcam"),
                        help="heatmap method for viewer_heatmap.png")
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    from PySide6 import QtCore, QtWidgets

    from desktop.app import build_window

    study = args.study or default_study()
    os.environ.setdefault("CXR_LENS_SETTINGS", str(args.out / ".screenshot-settings.ini"))
    app, window = build_window(fresh=True, pack=args.pack)
    window.resize(*SIZE)
    window.show()
    window.open_path(study)
    window.runner.wait_idle(300)
    if window.current_image is None:
        log.error("%s could not be shown", study)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    panel = window.plugin_docks["engine"].widget()

    def save(name: str) -> None:
        window.runner.wait_idle(300)
        app.processEvents()
        window.grab().save(str(args.out / f"viewer_{name}.png"))
        log.info("saved %s", args.out / f"viewer_{name}.png")

    # reading: a lung window and a measurement across the right hemithorax
    window.apply_preset("lung")
    rows, cols = window.image_view.data.values.shape[:2]
    window.image_view.add_measurement(QtCore.QPointF(cols * 0.18, rows * 0.55), QtCore.QPointF(cols * 0.45, rows * 0.55))
    save("reading")
    window.clear_measurements()
    window.apply_preset("default")
    window.statusBar().clearMessage()

    report = args.report.read_text(encoding="utf-8") if args.report else study_report(study)
    if report:
        panel.report.auto.setChecked(False)
        panel.report.set_text(report)
        panel.report.request_analysis()
    panel.tabs.setCurrentWidget(panel.report)
    save("findings")

    panel.heatmap.method_box.setCurrentIndex(panel.heatmap.method_box.findData(args.method))
    panel.tabs.setCurrentWidget(panel.heatmap)
    panel.heatmap.run()
    save("heatmap")

    window.image_view.set_overlay(None)
    panel.tabs.setCurrentWidget(panel.similar)
    panel.similar.run()
    window.runner.wait_idle(120)
    if panel.similar.list.count():
        panel.similar._open_case(panel.similar.list.item(0))
    save("similar")
    window.close()
    QtWidgets.QApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
