"""PACS client: DICOMweb (QIDO/WADO/STOW-RS) and DIMSE (C-ECHO/FIND/GET/MOVE/STORE), local cache.

``config`` holds server entries and secrets, ``query`` the search types shared by both protocols,
``cache`` the atomic, resumable, size-bounded study cache, ``dicomweb`` and ``dimse`` the clients.
:func:`open_client` picks the client an entry describes (DICOMweb when it has a URL); the
functions below are what front ends call (the viewer runs them on a worker).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

from engine.pacs.cache import PullProgress, StudyCache, default_cache_dir
from engine.pacs.config import PacsServer


def open_client(server: PacsServer):
    """Return a :class:`~engine.pacs.dicomweb.DicomWebClient` for a URL entry, else a DimseClient."""
    if server.url:
        from engine.pacs.dicomweb import DicomWebClient
        return DicomWebClient(server)
    from engine.pacs.dimse import DimseClient
    return DimseClient(server)


def find_studies(server: PacsServer, query) -> list:
    """Search ``server`` for studies matching a :class:`~engine.pacs.query.StudyQuery`."""
    return open_client(server).find_studies(query)


def retrieve_study(server: PacsServer, study_uid: str, cache_dir: str | Path | None = None,
                   max_bytes: int | None = None) -> Iterator[PullProgress]:
    """Pull a study into the cache (default :func:`default_cache_dir`); yield progress; return its folder.

    DIMSE servers are retrieved by C-GET (no storage SCP needed). Stopping the generator between
    two instances leaves only whole files; the next call resumes.
    """
    cache = StudyCache(cache_dir or default_cache_dir(), max_bytes)
    yield from open_client(server).pull(study_uid, cache)
    return cache.study_dir(study_uid)


def send_analysis(server: PacsServer, source_path: str | Path, prediction, pack) -> list[str]:
    """Write the DICOM SR (TID 1500) of one image's prediction and send it; return the stored SOP UIDs.

    ``prediction`` is an :class:`engine.predict.Prediction` (or a scan record), ``pack`` the loaded
    pack that made it (its name, version and manifest hash identify the algorithm in the SR).
    """
    from engine.dicom_results.source import Algorithm
    from engine.dicom_results.sr import write_sr

    with tempfile.TemporaryDirectory(prefix="cxr-lens-send-") as folder:
        sr = write_sr(source_path, prediction, Algorithm.from_pack(pack), Path(folder) / "sr.dcm")
        return open_client(server).send([sr])
