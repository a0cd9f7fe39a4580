"""Find bundled resources (model pack, demo studies, icon) from source or a frozen build."""
from __future__ import annotations

import sys
from pathlib import Path


def is_frozen() -> bool:
    """Return True inside the offline executable (PyInstaller sets ``sys.frozen``)."""
    return bool(getattr(sys, "frozen", False))


def resources_dir() -> Path:
    """Return the folder holding the bundled resources.

    In a PyInstaller build it is ``<bundle>/_internal/resources`` (``sys._MEIPASS``, the folder
    the executable unpacked its data to); from source it is the repository's ``resources/`` folder.
    The frozen build never looks at the source tree, wherever it is started from.
    """
    frozen_root = getattr(sys, "_MEIPASS", None)
    root = Path(frozen_root) if frozen_root else Path(__file__).resolve().parent.parent
    return root / "resources"


def bundled_pack_dir() -> Path:
    """Return the folder of the bundled demo model pack."""
    return resources_dir() / "pack"


def demo_studies_dir() -> Path:
    """Return the folder of the bundled demo studies (DICOM files the project generated)."""
    return resources_dir() / "demo"


def icon_path() -> Path:
    """Return the application icon (SVG, 256 × 256 user units)."""
    return resources_dir() / "icons" / "cxr-lens.svg"
