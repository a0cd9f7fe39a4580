"""DIMSE against the live Orthanc: C-ECHO, C-FIND, C-GET and C-MOVE (bit-identical), C-STORE."""
from __future__ import annotations

import pydicom
import pytest

from engine.pacs.cache import StudyCache
from engine.pacs.dimse import DimseClient
from engine.pacs.query import StudyQuery
from tests.pacs.conftest import study_uid_of
from tests.pacs.helpers import cached_files, dataset_bytes, demo_copy, leftovers


def test_echo_and_find_studies_and_series(orthanc, dimse_server):
    client = DimseClient(dimse_server)
    client.echo()
    found = {m.patient_id: m for m in client.find_studies(StudyQuery(modality="CR"))}
    assert {"SYN-DEMO01_NORMAL", "SYN-DEMO03_NODULE"} <= set(found)
    assert not {"SYN-DEMO02_EFFUSION", "SYN-DEMO04_PNEUMOTHORAX"} & set(found)
    assert found["SYN-DEMO01_NORMAL"].study_date == "20100412"
    assert [m.patient_id for m in client.find_studies(StudyQuery(patient_name="SYNTHETIC^SYN-DEMO04*",
                                                                 date_from="20110101"))] == ["SYN-DEMO04_PNEUMOTHORAX"]
    series = client.find_series(study_uid_of(orthanc, "SYN-DEMO02_EFFUSION"))
    assert len(series) == 2 and {s["modality"] for s in series} == {"DX"} and all(s["instances"] == 1 for s in series)


@pytest.mark.parametrize("method", ["get", "move"])
def test_pull_is_byte_identical_to_the_upload_and_resumes(orthanc, dimse_server, tmp_path, method):
    client = DimseClient(dimse_server)
    study = study_uid_of(orthanc, "SYN-DEMO02_EFFUSION")
    cache = StudyCache(tmp_path / "cache")
    last = list(client.pull(study, cache, method=method))[-1]
    assert (last.done, last.total, last.skipped) == (2, 2, 0)
    cached = cached_files(cache.study_dir(study))
    assert len(cached) == 2
    for uid, path in cached.items():  # the data set after the file meta is the uploaded one, byte for byte
        assert dataset_bytes(path.read_bytes()) == dataset_bytes(orthanc.uploaded[uid])
    one = next(iter(cached.values()))
    one.unlink()
    again = list(client.pull(study, cache, method=method))[-1]
    assert (again.done, again.skipped) == (2, 1) and one.exists() and leftovers(cache.root) == []


def test_c_store_then_find_it_again(orthanc, dimse_server, tmp_path):
    source, = demo_copy("CSTORE-ROUNDTRIP", tmp=tmp_path)
    client = DimseClient(dimse_server)
    assert client.send([source]) == [str(pydicom.dcmread(source).SOPInstanceUID)]
    match, = client.find_studies(StudyQuery(patient_id="CSTORE-ROUNDTRIP"))
    assert match.study_uid == str(pydicom.dcmread(source).StudyInstanceUID)
    cache = StudyCache(tmp_path / "cache")
    list(client.pull(match.study_uid, cache))
    back, = cached_files(cache.root).values()
    assert dataset_bytes(back.read_bytes()) == dataset_bytes(source.read_bytes())
