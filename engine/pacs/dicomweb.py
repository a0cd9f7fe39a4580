"""DICOMweb client (QIDO-RS, WADO-RS, STOW-RS) over dicomweb-client, with auth, TLS, retries.

Credentials travel in the ``requests`` session's ``auth`` (basic or bearer), never in URLs or the
per-request headers that dicomweb-client logs at DEBUG level, so they never reach a log.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterable, Iterator

from engine.errors import DicomError, PacsError
from engine.pacs.cache import PullProgress, StudyCache
from engine.pacs.config import PacsServer
from engine.pacs.query import StudyMatch, StudyQuery

log = logging.getLogger(__name__)

_SERIES, _SOP = "0020000E", "00080018"


class _Bearer:
    """requests auth hook adding ``Authorization: Bearer …`` (the token is not in repr)."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(***)"


# Orthanc 1.10's DICOMweb plugin does not percent-decode QIDO-RS values, so ``PatientName=%2ADEMO%2A``
# (how requests encodes ``*DEMO*``) matched nothing. RFC 3986 allows ``*`` and ``?`` in a query as
# they are, so they go out literally. ``^`` (the PN component separator) cannot: urllib3 escapes it
# again, so it is sent as the one-character wildcard ``?``, which matches it (and any other character).
_LITERAL_IN_QUERY = {"%2A": "*", "%3F": "?", "%5E": "?"}


def _session():
    """A requests Session that leaves DICOM wildcards and ``^`` unescaped in query strings."""
    import requests

    class Session(requests.Session):
        def prepare_request(self, request):
            prepared = super().prepare_request(request)
            if "?" in prepared.url:
                head, query = prepared.url.split("?", 1)
                for escaped, literal in _LITERAL_IN_QUERY.items():
                    query = query.replace(escaped, literal)
                prepared.url = f"{head}?{query}"
            return prepared

        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's CA file; the
            # configured ca_file must win.
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if isinstance(self.verify, str):
                settings["verify"] = self.verify
            return settings

    return Session()


class DicomWebClient:
    """Talk to one DICOMweb server.

    Parameters
    ----------
    server
        A :class:`PacsServer` with ``url`` set (credentials, CA file, timeout and retries are read from it).
    """

    def __init__(self, server: PacsServer):
        from dicomweb_client.api import DICOMwebClient

        if not server.url:
            raise PacsError(f"PACS entry {server.name!r} has no DICOMweb URL", hint="give --url or set url")
        if "@" in server.url.split("//", 1)[-1].split("/", 1)[0]:
            raise PacsError("credentials in the URL are refused (they would show in logs)",
                            hint="put username/password in the PACS configuration file or the environment")
        self.server = server
        session = _session()
        if server.token:
            session.auth = _Bearer(server.token)
        elif server.username:
            session.auth = (server.username, server.password or "")
        session.verify = server.ca_file or True
        self._client = DICOMwebClient(server.url.rstrip("/"), session=session, timeout=server.timeout_s)
        self._client.set_http_retry_params(retry=server.retries > 0, max_attempts=server.retries + 1,
                                           wait_exponential_multiplier=server.backoff_ms)

    def _call(self, action: str, function, *args, **kwargs):
        """Run one dicomweb-client call; turn network and HTTP failures into PacsError."""
        import requests

        where = self.server.describe()
        try:
            return function(*args, **kwargs)
        except requests.exceptions.SSLError as error:
            raise PacsError(f"{where}: TLS check failed while trying to {action}",
                            hint="check the server certificate or give its CA file (ca_file / --ca-file)") from error
        except requests.exceptions.Timeout as error:
            raise PacsError(f"{where}: no answer within {self.server.timeout_s:g} s while trying to {action}",
                            hint="check that the server is up and not overloaded, or raise timeout_s") from error
        except requests.exceptions.ConnectionError as error:
            raise PacsError(f"{where}: cannot connect while trying to {action}",
                            hint="check that the PACS is running and the URL (host, port, /dicom-web root)") from error
        except requests.exceptions.HTTPError as error:
            status = error.response.status_code if error.response is not None else 0
            hint = {401: "the server refused the credentials: check username/password or token",
                    403: "the account may not do this: check its permissions on the server",
                    404: "not found: check the URL's DICOMweb root and the UID"}.get(
                status, "check the server's log for the reason")
            raise PacsError(f"{where}: HTTP {status} while trying to {action}", hint=hint) from error
        except requests.exceptions.RequestException as error:
            raise PacsError(f"{where}: {type(error).__name__} while trying to {action}",
                            hint="check the URL and the network") from error

    def echo(self) -> float:
        """Check the server answers a QIDO-RS query with our credentials; return the round trip in ms."""
        start = time.perf_counter()
        self._call("search for studies", self._client.search_for_studies, limit=1)
        return (time.perf_counter() - start) * 1000

    def find_studies(self, query: StudyQuery) -> list[StudyMatch]:
        """QIDO-RS study search with the query's filters."""
        items = self._call("search for studies", self._client.search_for_studies,
                           search_filters=query.qido_filters(), limit=query.limit,
                           fields=["StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedInstances"])
        return [StudyMatch.from_qido(item) for item in items]

    def list_instances(self, study_uid: str, series_uid: str | None = None) -> list[tuple[str, str]]:
        """(SeriesInstanceUID, SOPInstanceUID) of every instance of a study (or one series)."""
        items = self._call(f"list the instances of study {study_uid}", self._client.search_for_instances,
                           study_instance_uid=study_uid, series_instance_uid=series_uid, get_remaining=True)
        return [(item[_SERIES]["Value"][0], item[_SOP]["Value"][0]) for item in items]

    def pull(self, study_uid: str, cache: StudyCache, series_uid: str | None = None,
             resume: bool = True) -> Iterator[PullProgress]:
        """WADO-RS retrieve a study (or one series) into ``cache``, one instance per request.

        Instances already cached are skipped when ``resume`` (the default). Each instance is checked
        and written atomically, so stopping the generator or a failure leaves only whole files.
        Yields progress after each instance; evicts old studies at the end if over the size limit.
        """
        instances = self.list_instances(study_uid, series_uid)
        if not instances:
            raise PacsError(f"{self.server.describe()}: study {study_uid} has no instances",
                            hint="check the Study Instance UID (cxr-lens pacs find)")
        cache.begin(study_uid)
        skipped, received = 0, 0
        for done, (series, sop) in enumerate(instances, start=1):
            path = cache.instance_path(study_uid, series, sop)
            if resume and path.is_file():
                skipped += 1
            else:
                dataset = self._call(f"retrieve instance {sop}", self._client.retrieve_instance,
                                     study_uid, series, sop)
                path = cache.store_dataset(dataset, self.server.describe())
                received += path.stat().st_size
            yield PullProgress(study_uid, done, len(instances), skipped, received, str(path))
        cache.evict(keep=study_uid)

    def send(self, paths: Iterable[str | Path]) -> list[str]:
        """STOW-RS the DICOM files; return the SOP Instance UIDs the server stored.

        Raises PacsError when the server reports a failed instance (FailedSOPSequence).
        """
        import pydicom

        datasets = []
        for path in paths:
            try:
                datasets.append(pydicom.dcmread(path))
            except (OSError, pydicom.errors.InvalidDicomError) as error:
                raise DicomError(f"cannot send: not a readable DICOM file ({error})", path=path,
                                 hint="send DICOM files (.dcm) only") from error
        if not datasets:
            return []
        response = self._call("store instances", self._client.store_instances, datasets)
        failed = response.get("FailedSOPSequence", []) if response is not None else []
        if failed:
            uids = ", ".join(str(item.get("ReferencedSOPInstanceUID", "?")) for item in failed)
            raise PacsError(f"{self.server.describe()}: the server refused instance(s) {uids}",
                            hint="check the server's log (unsupported SOP class or a conflicting UID)")
        return [str(d.SOPInstanceUID) for d in datasets]
