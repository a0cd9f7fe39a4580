"""A real Orthanc PACS for the PACS tests: one per session, on loopback, with the demo studies.

If Orthanc cannot start, every test that needs it FAILS with the reason (it is never skipped):
install it with ``apt-get install -y orthanc orthanc-dicomweb`` (.ci/run does).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bench._orthanc import PASSWORD, SERVER_AET, USER, OrthancUnavailable, start_orthanc
from engine.pacs.config import PacsServer


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory):
    """The running server, with every demo study uploaded (``orthanc.uploaded``: SOP UID -> bytes)."""
    from engine.resources import demo_studies_dir

    try:
        server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    except OrthancUnavailable as error:
        pytest.fail(f"cannot start Orthanc for the PACS tests: {error}", pytrace=False)
    try:
        server.upload(sorted(Path(demo_studies_dir()).rglob("*.dcm")))
        yield server
    finally:
        server.stop()


@pytest.fixture
def web_server(orthanc) -> PacsServer:
    """A DICOMweb entry for the test Orthanc with the right password and quick retries."""
    return PacsServer(name="test", url=orthanc.dicomweb_url, username=USER, password=PASSWORD,
                      timeout_s=10, retries=1, backoff_ms=50)


@pytest.fixture
def dimse_server(orthanc) -> PacsServer:
    """A DIMSE entry for the test Orthanc; our AE title and SCP port are the ones Orthanc knows."""
    return PacsServer(name="test", aet=SERVER_AET, host="127.0.0.1", port=orthanc.dicom_port,
                      calling_aet=orthanc.client_aet, local_port=orthanc.client_port, timeout_s=10)


def study_uid_of(orthanc, patient_id: str) -> str:
    """Study Instance UID of the uploaded demo study of ``patient_id``."""
    import pydicom
    from io import BytesIO

    for data in orthanc.uploaded.values():
        dataset = pydicom.dcmread(BytesIO(data), stop_before_pixels=True)
        if dataset.PatientID == patient_id:
            return str(dataset.StudyInstanceUID)
    raise KeyError(patient_id)
