"""Faults against the live Orthanc: each gives a message naming the server and what to check, and
nothing half-written is left in the cache."""
from __future__ import annotations

import socket
from dataclasses import replace

import pydicom
import pytest

from bench._orthanc import SERVER_AET, free_port, start_orthanc
from engine.errors import PacsError
from engine.pacs.cache import StudyCache
from engine.pacs.dicomweb import DicomWebClient
from engine.pacs.dimse import DimseClient
from engine.pacs.query import StudyQuery
from tests.pacs.conftest import study_uid_of
from tests.pacs.helpers import cached_files, demo_copy, leftovers, same_instance


def test_wrong_password_names_the_server_and_the_credentials(web_server):
    client = DicomWebClient(replace(web_server, password="not-the-password"))
    with pytest.raises(PacsError, match=rf"{web_server.url}: HTTP 401 .* refused the credentials"):
        client.echo()


def test_bearer_token_is_sent_and_refused_by_a_basic_auth_server(web_server):
    client = DicomWebClient(replace(web_server, username=None, password=None, token="abc.def"))
    with pytest.raises(PacsError, match="HTTP 401"):
        client.find_studies(StudyQuery())


def test_a_closed_port_says_the_server_cannot_be_reached(web_server, dimse_server):
    port = free_port()
    with pytest.raises(PacsError, match=rf"127.0.0.1:{port}/dicom-web: cannot connect .* check that the PACS is running"):
        DicomWebClient(replace(web_server, url=f"http://127.0.0.1:{port}/dicom-web")).echo()
    with pytest.raises(PacsError, match=rf"{SERVER_AET}@127.0.0.1:{port}: cannot connect"):
        DimseClient(replace(dimse_server, port=port)).echo()


def test_wrong_or_unknown_ae_titles_are_rejected_with_what_to_check(dimse_server):
    with pytest.raises(PacsError, match=r"WRONG@127.0.0.1:\d+ rejected the association .* called AE title \(WRONG\)"):
        DimseClient(replace(dimse_server, aet="WRONG")).echo()
    with pytest.raises(PacsError, match=r"rejected the association from STRANGER .* lists our AE title STRANGER"):
        DimseClient(replace(dimse_server, calling_aet="STRANGER")).find_studies(StudyQuery())


def test_a_server_that_never_answers_times_out(web_server, dimse_server):
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        with pytest.raises(PacsError, match=r"no answer within 1 s while trying to search for studies"):
            DicomWebClient(replace(web_server, url=f"http://127.0.0.1:{port}/dicom-web", timeout_s=1, retries=0)).echo()
        with pytest.raises(PacsError, match=r"127.0.0.1:\d+: no answer within 1 s to verify the connection"):
            DimseClient(replace(dimse_server, port=port, timeout_s=1)).echo()


@pytest.fixture(scope="module")
def corrupt_study(orthanc, tmp_path_factory):
    """A study on the server whose one instance has half its pixel data."""
    files = demo_copy("CORRUPT", truncate=True, tmp=tmp_path_factory.mktemp("corrupt"))
    orthanc.upload(files)
    return str(pydicom.dcmread(files[0]).StudyInstanceUID)


@pytest.mark.parametrize("protocol", ["dicomweb", "get"])
def test_a_corrupt_instance_is_refused_and_not_cached(corrupt_study, web_server, dimse_server, tmp_path, protocol):
    cache = StudyCache(tmp_path / "cache")
    client = DicomWebClient(web_server) if protocol == "dicomweb" else DimseClient(dimse_server)
    with pytest.raises(PacsError, match=r"sent a corrupt instance .* pixel data \d+ of \d+ bytes"):
        list(client.pull(corrupt_study, cache))
    assert cached_files(cache.root) == {} and leftovers(cache.root) == []


def test_server_stopped_mid_pull_leaves_whole_files_and_the_pull_resumes(web_server, tmp_path):
    """A second, short-lived Orthanc is stopped after the first instance; a restart on the same storage resumes."""
    files = demo_copy("STOPPED", count=8, tmp=tmp_path)
    server = start_orthanc(tmp_path / "pacs")
    try:
        server.upload(files)
        study = str(pydicom.dcmread(files[0]).StudyInstanceUID)
        cache = StudyCache(tmp_path / "cache")
        pull = DicomWebClient(replace(web_server, url=server.dicomweb_url)).pull(study, cache)
        first = next(pull)
        server.stop()
        with pytest.raises(PacsError, match=rf"{server.dicomweb_url}: cannot connect while trying to retrieve instance"):
            list(pull)
        kept = cached_files(cache.root)
        assert 1 <= len(kept) < 8 and first.done == 1 and leftovers(cache.root) == []
        assert all(same_instance(path, server.uploaded[uid]) for uid, path in kept.items())
        server = start_orthanc(tmp_path / "pacs")  # same storage, new ports
        last = list(DicomWebClient(replace(web_server, url=server.dicomweb_url)).pull(study, cache))[-1]
        assert (last.done, last.total, last.skipped) == (8, 8, len(kept))
        uploaded = {str(pydicom.dcmread(f).SOPInstanceUID): f.read_bytes() for f in files}
        assert all(same_instance(p, uploaded[uid]) for uid, p in cached_files(cache.root).items())
    finally:
        server.stop()


def test_https_needs_the_ca_file_of_a_self_signed_server(orthanc, web_server, tmp_path):
    from tests.pacs.helpers import TlsProxy

    proxy = TlsProxy(tmp_path, orthanc.http_port)
    try:
        url = f"https://127.0.0.1:{proxy.port}/dicom-web"
        with pytest.raises(PacsError, match=rf"{url}: TLS check failed .* give its CA file"):
            DicomWebClient(replace(web_server, url=url)).echo()
        assert DicomWebClient(replace(web_server, url=url, ca_file=str(proxy.ca_file))).echo() > 0
    finally:
        proxy.close()


def test_a_server_that_freezes_mid_transfer_times_out_and_the_pull_resumes(orthanc, web_server, tmp_path):
    import signal

    files = demo_copy("FROZEN", count=4, tmp=tmp_path)
    orthanc.upload(files)
    study = str(pydicom.dcmread(files[0]).StudyInstanceUID)
    cache = StudyCache(tmp_path / "cache")
    pull = DicomWebClient(replace(web_server, timeout_s=1, retries=0)).pull(study, cache)
    next(pull)
    orthanc.process.send_signal(signal.SIGSTOP)  # the real server stops answering mid-transfer
    try:
        with pytest.raises(PacsError, match=r"no answer within 1 s while trying to retrieve instance .* raise timeout_s"):
            list(pull)
    finally:
        orthanc.process.send_signal(signal.SIGCONT)
    assert len(cached_files(cache.root)) == 1 and leftovers(cache.root) == []
    last = list(DicomWebClient(web_server).pull(study, cache))[-1]
    assert (last.done, last.skipped) == (4, 1)
