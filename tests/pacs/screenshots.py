"""Render the PACS documentation screenshots headless, against a live Orthanc.

``python -m tests.pacs.screenshots [--out docs/img]`` starts a private Orthanc, stores the demo
studies, runs ``cxr-lens pacs scan`` on them with the bundled pack (so the worklist is real),
then saves ``pacs_dialog.png`` (the dialog after a search) and ``worklist.png`` (the viewer with
the worklist dock and the most urgent study open).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)

    from bench._orthanc import PASSWORD, USER, start_orthanc
    from cxr_lens.cli import main as cli
    from engine.resources import demo_studies_dir

    with tempfile.TemporaryDirectory(prefix="cxr-pacs-shots-") as tmp:
        tmp = Path(tmp)
        os.environ.update(CXR_LENS_SETTINGS=str(tmp / "settings.ini"), CXR_LENS_PACS_CACHE=str(tmp / "cache"),
                          CXR_LENS_PACS_CONFIG=str(tmp / "none.toml"), CXR_LENS_PACS_PASSWORD=PASSWORD)
        orthanc = start_orthanc(tmp / "orthanc")
        try:
            orthanc.upload(sorted(Path(demo_studies_dir()).rglob("*.dcm")))
            code = cli(["pacs", "scan", "--url", orthanc.dicomweb_url, "--user", USER, "--out", str(tmp / "scan")])
            if code != 0:
                log.error("pacs scan failed with exit code %d", code)
                return 2
            return _render(orthanc, tmp / "scan" / "worklist.csv", args.out, USER, PASSWORD)
        finally:
            orthanc.stop()


def _render(orthanc, worklist: Path, out: Path, user: str, password: str) -> int:
    from PySide6 import QtCore

    from desktop.app import build_window

    app, window = build_window(fresh=True, plugins=False)
    window.resize(1680, 1020)
    window.show()
    out.mkdir(parents=True, exist_ok=True)
    dialog = window.open_pacs_dialog()
    dialog.server_box.setCurrentText("Other DICOMweb server…")
    dialog.url_edit.setText(orthanc.dicomweb_url)
    dialog.user_edit.setText(user)
    dialog.password_edit.setText(password)
    dialog.search()
    window.runner.wait_idle(60)
    app.processEvents()
    dialog.grab().save(str(out / "pacs_dialog.png"))
    dialog.close()
    window.show_worklist(worklist)
    window.worklist_dock.widget().open_row(0)
    window.runner.wait_idle(60)
    window.resizeDocks([window.worklist_dock], [230], QtCore.Qt.Vertical)
    app.processEvents()
    window.grab().save(str(out / "worklist.png"))
    log.info("saved %s and %s", out / "pacs_dialog.png", out / "worklist.png")
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
