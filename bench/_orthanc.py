"""Start and stop a private Orthanc PACS on loopback (shared by tests/pacs and bench/pacs.py).

Orthanc (Debian packages ``orthanc`` and ``orthanc-dicomweb``) is started from a generated JSON
configuration: free loopback HTTP and DICOM ports, a temporary storage folder, the DICOMweb plugin,
HTTP basic auth with one user, and a DICOM modality entry for the caller's own AE title (needed for
C-MOVE, where Orthanc opens an association back to the caller). Nothing is mocked: this is the
real server the PACS code is tested and measured against.
"""
from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PLUGIN_CANDIDATES = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
                     "/usr/lib/orthanc/libOrthancDicomWeb.so.1.7")
USER, PASSWORD = "cxr", "lens-test-secret"
SERVER_AET = "ORTHANC"


class OrthancUnavailable(RuntimeError):
    """Orthanc could not be found or started; the message says why and what to install."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _plugin() -> str:
    for candidate in PLUGIN_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    raise OrthancUnavailable("the Orthanc DICOMweb plugin is not installed "
                             "(apt-get install -y orthanc orthanc-dicomweb)")


@dataclass
class Orthanc:
    """A running Orthanc started by :func:`start_orthanc`; call :meth:`stop` when done."""

    folder: Path
    http_port: int
    dicom_port: int
    process: subprocess.Popen
    client_aet: str
    client_port: int
    log_path: Path
    uploaded: dict[str, bytes] = field(default_factory=dict)  # SOP Instance UID -> file bytes

    @property
    def url(self) -> str:
        """Base URL of Orthanc's REST API."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """Root of the DICOMweb services (QIDO-RS, WADO-RS, STOW-RS)."""
        return f"{self.url}/dicom-web"

    def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """Call Orthanc's REST API with the test user's credentials; return the response body."""
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.read()

    def upload(self, files) -> None:
        """Store DICOM files on the server (REST ``POST /instances``); remember their bytes."""
        import pydicom

        for path in files:
            data = Path(path).read_bytes()
            self.request("POST", "/instances", data)
            uid = pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID
            self.uploaded[str(uid)] = data

    def stop(self) -> None:
        """Stop the server and wait for it to exit."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_orthanc(folder: Path, client_aet: str = "CXRLENS", client_port: int | None = None,
                  timeout_s: float = 30.0) -> Orthanc:
    """Start Orthanc with its storage in ``folder``; return once ``/system`` answers.

    Raises :class:`OrthancUnavailable` with the reason (binary or plugin missing, server exited,
    no answer within ``timeout_s`` seconds) and the tail of Orthanc's log.
    """
    binary = shutil.which("Orthanc") or ("/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").exists() else None)
    if binary is None:
        raise OrthancUnavailable("the Orthanc binary is not installed (apt-get install -y orthanc orthanc-dicomweb)")
    folder = Path(folder)
    (folder / "storage").mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = free_port(), free_port()
    client_port = client_port or free_port()
    config = {
        "Name": "cxr-lens-test", "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"), "HttpPort": http_port, "DicomPort": dicom_port,
        "DicomAet": SERVER_AET, "RemoteAccessAllowed": False, "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD}, "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": False, "DicomAlwaysAllowStore": False,
        "DicomModalities": {"cxrlens": {"AET": client_aet, "Host": "127.0.0.1", "Port": client_port,
                                        "AllowEcho": True, "AllowFind": True, "AllowMove": True,
                                        "AllowGet": True, "AllowStore": True}},
        "Plugins": [_plugin()], "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True,
                                             "Ssl": False, "StudiesMetadata": "Full"},
        "HttpTimeout": 30, "DicomScuTimeout": 10, "StableAge": 1, "ConcurrentJobs": 2,
        "SaveJobs": False, "HttpDescribeErrors": True,
    }
    config_path = folder / "orthanc.json"
    config_path.write_text(json.dumps(config, indent=2))
    log_path = folder / "orthanc.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([binary, str(config_path)], stdout=log, stderr=subprocess.STDOUT,
                                   cwd=folder)
    server = Orthanc(folder, http_port, dicom_port, process, client_aet, client_port, log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise OrthancUnavailable(f"Orthanc exited with code {process.returncode}: {_tail(log_path)}")
        try:
            server.request("GET", "/system")
            return server
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    server.stop()
    raise OrthancUnavailable(f"Orthanc did not answer within {timeout_s:.0f} s: {_tail(log_path)}")


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
