"""Find bundled resources (model pack, demo studies, icons) from source or a frozen build."""
from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """Return the folder holding the bundled resources.

    In a PyInstaller build it is ``<bundle>/resources``; from source it is the repository's
    ``resources/`` folder.
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
