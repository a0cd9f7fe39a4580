"""PACS client: DICOMweb (QIDO/WADO/STOW-RS) and DIMSE (C-ECHO/FIND/GET/MOVE/STORE), local cache.

``config`` holds server entries and secrets, ``query`` the search types shared by both protocols,
``cache`` the atomic, resumable, size-bounded study cache, ``dicomweb`` and ``dimse`` the clients.
:func:`open_client` picks the client an entry describes (DICOMweb when it has a URL).
"""
from __future__ import annotations

from engine.pacs.config import PacsServer


def open_client(server: PacsServer):
    """Return a :class:`~engine.pacs.dicomweb.DicomWebClient` for a URL entry, else a DimseClient."""
    if server.url:
        from engine.pacs.dicomweb import DicomWebClient
        return DicomWebClient(server)
    from engine.pacs.dimse import DimseClient
    return DimseClient(server)
