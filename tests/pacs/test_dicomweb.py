"""DICOMweb against the live Orthanc: QIDO-RS search, WADO-RS pull into the cache, STOW-RS."""
from __future__ import annotations

import logging

import pydicom
import pytest

from engine.pacs.cache import StudyCache
from engine.pacs.dicomweb import DicomWebClient
from engine.pacs.query import StudyQuery
from tests.pacs.conftest import study_uid_of
from tests.pacs.helpers import cached_files, dataset_bytes, demo_copy, leftovers, same_instance


def _ids(matches) -> set[str]:
    return {m.patient_id for m in matches}


def test_echo_and_find_with_each_filter(web_server):
    client = DicomWebClient(web_server)
    assert client.echo() > 0
    demo = {"SYN-DEMO01_NORMAL", "SYN-DEMO02_EFFUSION", "SYN-DEMO03_NODULE", "SYN-DEMO04_PNEUMOTHORAX"}
    assert demo <= _ids(client.find_studies(StudyQuery()))
    assert _ids(client.find_studies(StudyQuery(modality="DX"))) & demo == {"SYN-DEMO02_EFFUSION",
                                                                            "SYN-DEMO04_PNEUMOTHORAX"}
    assert _ids(client.find_studies(StudyQuery(patient_id="SYN-DEMO03_NODULE"))) == {"SYN-DEMO03_NODULE"}
    assert _ids(client.find_studies(StudyQuery(patient_name="SYNTHETIC^SYN-DEMO04*"))) == {"SYN-DEMO04_PNEUMOTHORAX"}
    assert _ids(client.find_studies(StudyQuery(date_from="20100501", date_to="20101231"))) & demo == {
        "SYN-DEMO02_EFFUSION", "SYN-DEMO03_NODULE"}
    assert _ids(client.find_studies(StudyQuery(date_to="20100412"))) & demo == {"SYN-DEMO01_NORMAL"}
    match, = client.find_studies(StudyQuery(accession="YN-DEMO01_NORMAL"))
    assert (match.patient_id, match.modalities, match.instances, match.study_date) == (
        "SYN-DEMO01_NORMAL", "CR", 2, "20100412")
    assert len(client.find_studies(StudyQuery(limit=2))) == 2


def test_pull_is_identical_to_the_upload_and_resumes(orthanc, web_server, tmp_path):
    client = DicomWebClient(web_server)
    study = study_uid_of(orthanc, "SYN-DEMO01_NORMAL")
    cache = StudyCache(tmp_path / "cache")
    progress = list(client.pull(study, cache))
    assert [(p.done, p.total, p.skipped) for p in progress] == [(1, 2, 0), (2, 2, 0)]
    cached = cached_files(cache.study_dir(study))
    assert len(cached) == 2 and all(same_instance(path, orthanc.uploaded[uid]) for uid, path in cached.items())
    assert all(dataset_bytes(path.read_bytes()) == dataset_bytes(orthanc.uploaded[uid]) for uid, path in cached.items())
    # a partial transfer: one instance is missing and a stale .part lies beside it
    gone = next(iter(cached.values()))
    gone.unlink()
    (gone.parent / ".stale.dcm.1.part").write_bytes(b"half")
    again = list(client.pull(study, cache))
    assert again[-1].skipped == 1 and again[-1].done == 2 and 0 < again[-1].received_bytes < 500_000
    assert same_instance(gone, orthanc.uploaded[str(pydicom.dcmread(gone).SOPInstanceUID)])
    assert leftovers(cache.root) == []


def test_cache_evicts_the_least_recently_used_study(orthanc, web_server, tmp_path):
    client = DicomWebClient(web_server)
    cache = StudyCache(tmp_path / "cache", max_bytes=1_300_000)  # room for three 400 kB images
    first, second = study_uid_of(orthanc, "SYN-DEMO03_NODULE"), study_uid_of(orthanc, "SYN-DEMO04_PNEUMOTHORAX")
    list(client.pull(first, cache))
    list(client.pull(second, cache))
    assert cache.study_dir(first).exists() and cache.study_dir(second).exists()
    cache.touch(first)  # first is now the more recently used
    list(client.pull(study_uid_of(orthanc, "SYN-DEMO02_EFFUSION"), cache))  # 800 kB more
    assert not cache.study_dir(second).exists(), "the least recently used study goes first"
    assert cache.study_dir(first).exists() and 1_000_000 < cache.size_bytes() <= 1_300_000


def test_send_an_sr_and_find_it_again(orthanc, web_server, tmp_path):
    from engine.dicom_results.source import Algorithm
    from engine.dicom_results.sr import write_sr

    source, = demo_copy("SR-ROUNDTRIP", tmp=tmp_path)
    orthanc.upload([source])
    record = {"mode": "image", "gate": {"status": "pass", "issues": []},
              "findings": [{"name": "Effusion", "probability": 0.71, "threshold": 0.5, "positive": True}]}
    sr = write_sr(source, record, Algorithm("test-pack", "0.0.1", "0" * 64), tmp_path / "sr.dcm")
    client = DicomWebClient(web_server)
    sent = client.send([sr])
    study = str(pydicom.dcmread(source).StudyInstanceUID)
    assert sent[0] in {sop for _, sop in client.list_instances(study)}
    cache = StudyCache(tmp_path / "cache")
    list(client.pull(study, cache))
    back = cached_files(cache.study_dir(study))[sent[0]]
    assert pydicom.dcmread(back).ContentSequence == pydicom.dcmread(sr).ContentSequence


def test_credentials_never_reach_the_logs(orthanc, web_server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    client = DicomWebClient(web_server)
    client.echo()
    list(client.pull(study_uid_of(orthanc, "SYN-DEMO03_NODULE"), StudyCache(tmp_path)))
    text = caplog.text + repr(web_server) + str(client.__dict__)
    assert "Authorization" not in caplog.text
    assert web_server.password not in text and len(caplog.records) > 0
