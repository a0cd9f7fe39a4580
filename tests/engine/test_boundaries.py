"""Architecture rules that keep the engine usable headless (GUIDE §4)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_imports_without_qt_and_cheaply():
    code = ("import sys, engine, engine.dicom, engine.display, engine.labels, engine.errors; "
            "bad = [m for m in ('PySide6', 'pyqtgraph', 'torch') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_engine_sources_never_mention_qt():
    offenders = [path.name for path in (ROOT / "engine").rglob("*.py")
                 if any(word in path.read_text() for word in ("PySide6", "pyqtgraph", "from desktop", "import desktop"))]
    assert offenders == []


def test_desktop_never_imports_ml_or_dicom_libraries_directly():
    banned = ("import torch", "from torch", "import timm", "import transformers", "from transformers",
              "import pydicom", "from pydicom")
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "desktop").rglob("*.py")
                 if any(word in path.read_text() for word in banned)]
    assert offenders == []
