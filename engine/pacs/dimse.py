"""DIMSE client over pynetdicom: C-ECHO, C-FIND (study/series), C-GET, C-MOVE, C-STORE.

Retrieved instances are written from the bytes the server sent (``encoded_dataset``), checked and
renamed into the cache atomically, so they are bit-identical to what the server stores. C-MOVE
starts a storage SCP on ``calling_aet`` / ``local_port`` for the length of the call and stops it.
"""
from __future__ import annotations

import logging
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import Iterable, Iterator

from engine.errors import DicomError, PacsError
from engine.pacs.cache import PullProgress, StudyCache, check_instance
from engine.pacs.config import PacsServer
from engine.pacs.query import StudyMatch, StudyQuery

log = logging.getLogger(__name__)

# Storage SOP classes offered for C-GET / accepted by the C-MOVE SCP: chest imaging and our results.
STORAGE_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.1",        # CR Image
    "1.2.840.10008.5.1.4.1.1.1.1",      # Digital X-Ray Image - For Presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1",    # Digital X-Ray Image - For Processing
    "1.2.840.10008.5.1.4.1.1.7",        # Secondary Capture
    "1.2.840.10008.5.1.4.1.1.88.22",    # Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33",    # Comprehensive SR
    "1.2.840.10008.5.1.4.1.1.88.34",    # Comprehensive 3D SR
    "1.2.840.10008.5.1.4.1.1.30",       # Parametric Map
    "1.2.840.10008.5.1.4.1.1.66.4",     # Segmentation
)
_OK, _PENDING = 0x0000, (0xFF00, 0xFF01)


class DimseClient:
    """Talk to one DICOM server by DIMSE.

    Parameters
    ----------
    server
        A :class:`PacsServer` with ``aet``, ``host`` and ``port`` (our AE title is ``calling_aet``).
    """

    def __init__(self, server: PacsServer):
        if not (server.aet and server.host and server.port):
            raise PacsError(f"PACS entry {server.name!r} lacks the DIMSE address",
                            hint="give --aet, --host and --port (or aet/host/port in the configuration)")
        self.server = server

    def _ae(self):
        from pynetdicom import AE

        ae = AE(ae_title=self.server.calling_aet)
        for attribute in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
            setattr(ae, attribute, self.server.timeout_s)
        return ae

    def _associate(self, ae, action: str, evt_handlers=(), **kwargs):
        """Open an association or raise PacsError saying why it failed and what to check."""
        from pynetdicom import evt

        server, opened = self.server, []
        start = time.monotonic()
        handlers = [*evt_handlers, (evt.EVT_CONN_OPEN, lambda event: opened.append(True))]
        assoc = ae.associate(server.host, int(server.port), ae_title=server.aet, evt_handlers=handlers, **kwargs)
        if assoc.is_established:
            return assoc
        where = server.describe()
        if assoc.is_rejected:
            raise PacsError(f"{where} rejected the association from {server.calling_aet} to {action}",
                            hint=f"check the called AE title ({server.aet}) and that the server lists our AE "
                                 f"title {server.calling_aet} among its known modalities")
        if not opened:
            raise PacsError(f"{where}: cannot connect to {action} (connection refused or no route)",
                            hint="check that the PACS is running, its host and DICOM port")
        if time.monotonic() - start >= 0.9 * server.timeout_s:
            raise PacsError(f"{where}: no answer within {server.timeout_s:g} s to {action}",
                            hint="check that this port is the server's DICOM port and that it is not overloaded")
        raise PacsError(f"{where} aborted the association to {action}",
                        hint="the server may not support this service or our presentation contexts")

    def _failed(self, action: str, status) -> PacsError:
        code = int(getattr(status, "Status", -1)) if status else -1
        comment = str(status.get("ErrorComment", "")) if status else ""
        hint = ("the server did not answer in time: check its load or raise timeout_s" if code == -1 else
                f"move destination unknown: the server must list our AE title {self.server.calling_aet} "
                f"with host and port {self.server.local_port}" if code == 0xA801 else
                "check the server's log for the reason")
        return PacsError(f"{self.server.describe()}: {action} failed (status 0x{code & 0xFFFF:04X}"
                         f"{': ' + comment if comment else ''})", hint=hint)

    def echo(self) -> None:
        """C-ECHO; raise PacsError unless the server answers with success."""
        from pynetdicom.sop_class import Verification

        ae = self._ae()
        ae.add_requested_context(Verification)
        assoc = self._associate(ae, "verify the connection (C-ECHO)")
        try:
            status = assoc.send_c_echo()
        finally:
            assoc.release()
        if not status or status.Status != _OK:
            raise self._failed("C-ECHO", status)

    def _find(self, identifier, action: str) -> list:
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FindModel

        ae = self._ae()
        ae.add_requested_context(FindModel)
        assoc = self._associate(ae, action)
        found = []
        try:
            for status, answer in assoc.send_c_find(identifier, FindModel):
                if status and status.Status in _PENDING and answer is not None:
                    found.append(answer)
                elif not status or status.Status != _OK:
                    raise self._failed(action, status)
        finally:
            assoc.release()
        return found

    def find_studies(self, query: StudyQuery) -> list[StudyMatch]:
        """C-FIND at STUDY level (Study Root) with the query's filters."""
        answers = self._find(query.dimse_identifier(), "search for studies (C-FIND)")
        matches = [StudyMatch.from_dataset(answer) for answer in answers]
        return matches[:query.limit] if query.limit else matches

    def find_series(self, study_uid: str) -> list[dict]:
        """C-FIND at SERIES level: ``{series_uid, modality, description, instances}`` per series."""
        identifier = _identifier("SERIES", StudyInstanceUID=study_uid, SeriesInstanceUID="", Modality="",
                                 SeriesDescription="", NumberOfSeriesRelatedInstances="")
        return [{"series_uid": str(a.SeriesInstanceUID), "modality": str(a.get("Modality", "")),
                 "description": str(a.get("SeriesDescription", "")),
                 "instances": int(a.NumberOfSeriesRelatedInstances) if a.get("NumberOfSeriesRelatedInstances") else None}
                for a in self._find(identifier, f"list the series of study {study_uid} (C-FIND)")]

    def list_instances(self, study_uid: str) -> list[tuple[str, str]]:
        """(SeriesInstanceUID, SOPInstanceUID) of every instance of a study (C-FIND at IMAGE level)."""
        identifier = _identifier("IMAGE", StudyInstanceUID=study_uid, SeriesInstanceUID="", SOPInstanceUID="")
        return [(str(a.SeriesInstanceUID), str(a.SOPInstanceUID))
                for a in self._find(identifier, f"list the instances of study {study_uid} (C-FIND)")]

    def pull(self, study_uid: str, cache: StudyCache, method: str = "get",
             resume: bool = True) -> Iterator[PullProgress]:
        """Retrieve a study into ``cache`` by C-GET (``method="get"``) or C-MOVE (``"move"``).

        With ``resume``, instances already cached are not asked for again (IMAGE-level retrieve of
        the missing ones). Yields progress as instances arrive; raises PacsError on failure (whole
        instances received before it stay cached).
        """
        if method not in ("get", "move"):
            raise PacsError(f"unknown retrieve method {method!r}", hint="use get or move")
        folder = cache.study_dir(study_uid)
        total, skipped = 0, 0
        identifier = _identifier("STUDY", StudyInstanceUID=study_uid)
        if resume and folder.exists() and any(folder.rglob("*.dcm")):  # a partial earlier pull: ask for the rest
            instances = self.list_instances(study_uid)
            missing = [i for i in instances if not cache.has(study_uid, *i)]
            total, skipped = len(instances), len(instances) - len(missing)
            if not missing:
                yield PullProgress(study_uid, total, total, skipped, 0, str(folder))
                return
            identifier = _identifier("IMAGE", StudyInstanceUID=study_uid, SOPInstanceUID=[sop for _, sop in missing])
        cache.begin(study_uid)
        receiver = _Receiver(cache, self.server.describe())
        retrieve = self._get if method == "get" else self._move
        for status in retrieve(identifier, receiver):
            total = total or skipped + _suboperations(status)
            yield PullProgress(study_uid, skipped + receiver.count, total, skipped, receiver.bytes, receiver.last)
        if receiver.error is not None:
            raise receiver.error
        if skipped + receiver.count == 0:
            raise PacsError(f"{self.server.describe()}: study {study_uid} has no instances",
                            hint="check the Study Instance UID (cxr-lens pacs find)")
        yield PullProgress(study_uid, skipped + receiver.count, skipped + receiver.count, skipped, receiver.bytes,
                           receiver.last)
        cache.evict(keep=study_uid)

    def _get(self, identifier, receiver) -> Iterator:
        from pynetdicom import build_role, evt
        from pynetdicom.presentation import AllStoragePresentationContexts  # noqa: F401 - registers UIDs
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GetModel
        from pydicom.uid import AllTransferSyntaxes

        ae = self._ae()
        ae.add_requested_context(GetModel)
        for uid in STORAGE_CLASSES:
            ae.add_requested_context(uid, AllTransferSyntaxes[:12])
        roles = [build_role(uid, scp_role=True) for uid in STORAGE_CLASSES]
        assoc = self._associate(ae, "retrieve (C-GET)", ext_neg=roles,
                                evt_handlers=[(evt.EVT_C_STORE, receiver.handle)])
        try:
            yield from self._pending(assoc.send_c_get(identifier, GetModel), "C-GET", receiver)
        finally:
            assoc.release()

    def _move(self, identifier, receiver) -> Iterator:
        from pynetdicom import evt
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MoveModel
        from pydicom.uid import AllTransferSyntaxes

        if not self.server.local_port:
            raise PacsError("C-MOVE needs a local port for our storage SCP",
                            hint="set local_port (--local-port) to the port the server knows for our AE title")
        scp_ae = self._ae()
        for uid in STORAGE_CLASSES:
            scp_ae.add_supported_context(uid, AllTransferSyntaxes[:12])
        try:
            scp = scp_ae.start_server(("0.0.0.0", self.server.local_port), block=False,
                                      evt_handlers=[(evt.EVT_C_STORE, receiver.handle)])
        except OSError as error:
            raise PacsError(f"cannot listen on port {self.server.local_port} for C-MOVE ({error})",
                            hint="choose a free local_port (and register it on the server)") from error
        try:
            ae = self._ae()
            ae.add_requested_context(MoveModel)
            assoc = self._associate(ae, "retrieve (C-MOVE)")
            try:
                yield from self._pending(assoc.send_c_move(identifier, self.server.calling_aet, MoveModel),
                                         "C-MOVE", receiver)
            finally:
                assoc.release()
        finally:
            scp.shutdown()

    def _pending(self, responses, action: str, receiver) -> Iterator:
        """Yield the pending statuses of a C-GET/C-MOVE; raise on a failure status or a refused instance."""
        for status, _ in responses:
            if status and status.Status in _PENDING:
                yield status
            elif not status or status.Status not in (_OK, 0xB000) or receiver.error:
                raise receiver.error or self._failed(action, status)

    def send(self, paths: Iterable[str | Path]) -> list[str]:
        """C-STORE each file; return the SOP Instance UIDs stored. Raises PacsError on a refusal."""
        import pydicom
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

        datasets = []
        for path in paths:
            try:
                datasets.append((path, pydicom.dcmread(path, stop_before_pixels=True)))
            except (OSError, pydicom.errors.InvalidDicomError) as error:
                raise DicomError(f"cannot send: not a readable DICOM file ({error})", path=path,
                                 hint="send DICOM files (.dcm) only") from error
        ae = self._ae()
        for sop_class, syntax in {(str(d.SOPClassUID), str(d.file_meta.TransferSyntaxUID)) for _, d in datasets}:
            ae.add_requested_context(sop_class, list(dict.fromkeys([syntax, ExplicitVRLittleEndian,
                                                                    ImplicitVRLittleEndian])))
        assoc = self._associate(ae, "store (C-STORE)")
        stored = []
        try:
            for path, header in datasets:
                status = assoc.send_c_store(Path(path))
                if not status or status.Status not in (_OK, 0xB000, 0xB007, 0xB006):
                    raise self._failed(f"C-STORE of {path}", status)
                stored.append(str(header.SOPInstanceUID))
        finally:
            assoc.release()
        return stored


class _Receiver:
    """C-STORE handler writing each received instance into the cache (runs on pynetdicom's thread)."""

    def __init__(self, cache: StudyCache, source: str):
        self.cache, self.source = cache, source
        self.count, self.bytes, self.last, self.error = 0, 0, "", None
        self._lock = threading.Lock()

    def handle(self, event) -> int:
        import pydicom

        data = event.encoded_dataset()
        try:
            dataset = pydicom.dcmread(BytesIO(data))
            check_instance(dataset, self.source)
            path = self.cache.store_bytes(str(dataset.StudyInstanceUID), str(dataset.SeriesInstanceUID),
                                          str(dataset.SOPInstanceUID), data)
        except PacsError as error:
            self.error = error
            return 0xC210  # cannot understand: the server's retrieve reports a failed sub-operation
        except Exception as error:  # noqa: BLE001 - any parse failure of network bytes is a corrupt instance
            self.error = PacsError(f"{self.source} sent an unreadable instance ({type(error).__name__}: {error})",
                                   hint="the object is damaged on the server; it was not cached")
            return 0xC210
        with self._lock:
            self.count += 1
            self.bytes += len(data)
            self.last = str(path)
        return _OK


def _suboperations(status) -> int:
    """Instances a pending C-GET/C-MOVE response says the retrieve covers (0 when it does not say)."""
    return sum(int(status.get(keyword, 0) or 0) for keyword in (
        "NumberOfRemainingSuboperations", "NumberOfCompletedSuboperations", "NumberOfFailedSuboperations",
        "NumberOfWarningSuboperations"))


def _identifier(level: str, **values):
    from pydicom.dataset import Dataset

    identifier = Dataset()
    identifier.QueryRetrieveLevel = level
    for keyword, value in values.items():
        setattr(identifier, keyword, value)
    return identifier
