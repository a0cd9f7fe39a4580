"""Architecture rules that keep the engine usable headless (GUIDE §4)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_imports_without_qt_and_cheaply():
    code = ("import sys, engine, engine.images.read, engine.images.display, engine.reports.labels, engine.errors; "
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


# What each part of the engine may import (docs/ARCHITECTURE.md, "Import directions"). A part is a
# subpackage (engine/images/) or a top-level module (engine/gate.py); a new part must be added here.
ALLOWED_IMPORTS: dict[str, set[str]] = {
    "errors": set(),
    "checksums": {"errors"},
    "resources": {"errors"},
    "about": {"errors", "checksums", "model", "resources"},   # versions for --version and About
    "gate": {"errors"},
    "images": {"errors", "checksums"},
    "reports": {"errors"},
    "model": {"errors", "checksums", "gate", "reports"},
    "explain": {"errors", "images", "model"},
    "similar": {"errors", "checksums", "gate", "images", "reports", "model"},
    "predict": {"errors", "gate", "images", "model", "reports"},
    "dicom_results": {"errors", "checksums", "gate", "images", "reports", "model", "predict", "explain"},
    "triage": {"errors", "reports", "predict"},
    "pacs": {"errors", "images", "dicom_results"},
    "scan": {"errors", "images", "model", "predict", "explain", "dicom_results", "triage", "pacs"},
    "scan_ray": {"errors", "images", "model", "predict", "scan", "dicom_results", "triage"},
}


def _engine_imports(path: Path) -> set[str]:
    """Dotted engine modules that ``path`` imports, at module level or inside functions."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("engine."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("engine"):
            found.update(f"{node.module}.{alias.name}" if node.module == "engine" else node.module
                         for alias in node.names)
    return found


def _part(module: str) -> str:
    """``engine.images.read`` -> ``images``; ``engine.gate`` -> ``gate``."""
    return module.split(".")[1]


def test_engine_parts_import_only_in_the_allowed_directions():
    violations = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        if relative.parts == ("engine", "__init__"):
            continue
        part = relative.parts[1]
        assert part in ALLOWED_IMPORTS, f"engine part {part!r} ({relative}) is not declared in ALLOWED_IMPORTS"
        for module in _engine_imports(path):
            target = _part(module)
            if target != part and target not in ALLOWED_IMPORTS[part]:
                violations.append(f"{relative} imports {module}")
    assert violations == []


def test_nothing_imports_the_old_flat_module_paths():
    old = ("dicom", "dicom_header", "raster", "display", "report", "report_rules", "labels", "pack",
           "preprocess", "similar_store", "similar_archive", "similar_build", "explain_trace",
           "explain_text", "explain_overlay")
    import re

    pattern = re.compile(r"\bengine\.(" + "|".join(old) + r")\b")
    offenders = [f"{path.relative_to(ROOT)}: {match.group(0)}"
                 for folder in ("engine", "cxr_lens", "desktop", "training", "bench", "tests", "build_spec")
                 for path in (ROOT / folder).rglob("*.py")
                 for match in pattern.finditer(path.read_text())]
    assert offenders == []
    assert not [p for p in (ROOT / "engine").glob("*.py") if p.stem in old + ("model", "similar", "explain")]
