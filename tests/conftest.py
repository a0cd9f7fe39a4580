"""Shared fixtures: real DICOM files from the pydicom-data package."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _pydicom_data_dir() -> Path | None:
    spec = importlib.util.find_spec("data_store")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "data"
    return folder if folder.is_dir() else None


@pytest.fixture(scope="session")
def pydicom_data_dir() -> Path:
    """Folder of the pydicom-data files (CR chest RG1 in four encodings and ~70 others)."""
    folder = _pydicom_data_dir()
    if folder is None:
        pytest.skip("pydicom-data is not installed (pip install -e .[dev])")
    return folder


@pytest.fixture(scope="session")
def rg1_path(pydicom_data_dir: Path) -> Path:
    """A real CR chest radiograph, MONOCHROME1, uncompressed (1955×1841)."""
    return pydicom_data_dir / "RG1_UNCR.dcm"


# The tiny random-weight pack fixtures (defined beside the engine tests) are offered to every folder.
from tests.engine.conftest import (  # noqa: E402,F401
    chest_like_image, tiny_pack_copy, tiny_pack_dir, tiny_predictor,
)
