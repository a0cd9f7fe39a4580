"""Shared fixtures: real DICOM files from the pydicom-data package."""
from __future__ import annotations

from pathlib import Path

import pytest

from bench._common import pydicom_data_dir as _pydicom_data_dir


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


@pytest.fixture
def make_dicomdir(pydicom_data_dir: Path, tmp_path: Path):
    """A function writing a DICOMDIR media folder of pydicom-data files; it returns the DICOMDIR path.

    The identifiers a DICOMDIR record needs are filled in where a file lacks them.
    """
    def make(names: tuple[str, ...]) -> Path:
        import pydicom
        from pydicom.fileset import FileSet

        fileset = FileSet()
        for name in names:
            dataset = pydicom.dcmread(pydicom_data_dir / name)
            for keyword, value in (("PatientID", "TEST"), ("StudyID", "1"), ("SeriesNumber", 1),
                                   ("InstanceNumber", 1), ("StudyDate", "20260101"), ("StudyTime", "000000")):
                if not dataset.get(keyword):
                    setattr(dataset, keyword, value)
            fileset.add(dataset)
        fileset.write(tmp_path / "media")
        return tmp_path / "media" / "DICOMDIR"
    return make


# The tiny random-weight pack fixtures (defined beside the engine tests) are offered to every folder.
from tests.engine.conftest import (  # noqa: E402,F401
    chest_like_image, tiny_pack_copy, tiny_pack_dir, tiny_predictor,
)
