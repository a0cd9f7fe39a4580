"""Small helpers the PACS tests share: new studies made from the demo images, cache checks."""
from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid


def demo_copy(patient_id: str, count: int = 1, truncate: bool = False, tmp: Path | None = None,
              study_date: str | None = None) -> list[Path]:
    """``count`` instances of a new study (new UIDs) made from a demo frontal image; return their files.

    With ``truncate`` the pixel data is cut to half its length (a corrupt instance the server stores);
    ``study_date`` (YYYYMMDD) replaces the demo image's StudyDate.
    """
    from engine.resources import demo_studies_dir

    source = sorted(Path(demo_studies_dir()).rglob("*_frontal.dcm"))[0]
    study, series = generate_uid(), generate_uid()
    files = []
    for number in range(1, count + 1):
        dataset = pydicom.dcmread(source)
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study, series
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.PatientID, dataset.InstanceNumber, dataset.AccessionNumber = patient_id, number, patient_id[:16]
        if study_date:
            dataset.StudyDate = study_date
        if truncate:
            dataset.PixelData = dataset.PixelData[: len(dataset.PixelData) // 2]
        path = tmp / f"{patient_id}_{number}.dcm"
        dataset.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


def cached_files(root: Path) -> dict[str, Path]:
    """SOP Instance UID -> cached file under ``root`` (only complete ``.dcm`` files)."""
    return {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p for p in Path(root).rglob("*.dcm")}


def same_instance(path: Path, uploaded: bytes) -> bool:
    """True when a cached file holds the uploaded instance: same SOP UIDs, same pixel data, same elements."""
    got, sent = pydicom.dcmread(path), pydicom.dcmread(BytesIO(uploaded))
    return (got.SOPInstanceUID == sent.SOPInstanceUID and got.SOPClassUID == sent.SOPClassUID
            and got.PixelData == sent.PixelData and got == sent)


def leftovers(root: Path) -> list[Path]:
    """Temporary ``.part`` files left in a cache (there must be none)."""
    return list(Path(root).rglob("*.part"))


def dataset_bytes(data: bytes) -> bytes:
    """The encoded data set of a DICOM file: its bytes after the preamble and the file meta group."""
    from pydicom.filereader import _read_file_meta_info, read_preamble

    handle = BytesIO(data)
    read_preamble(handle, False)
    _read_file_meta_info(handle)
    return data[handle.tell():]


class TlsProxy:
    """HTTPS in front of the test Orthanc: a TLS listener on loopback that relays bytes to its HTTP port.

    (Orthanc 1.10 from Debian crashes with ``SslEnabled``; this puts a real TLS handshake, with a
    self-signed certificate made by openssl, between the client and the server.) ``ca_file`` is the
    certificate to trust.
    """

    def __init__(self, folder: Path, target_port: int):
        import socket
        import ssl
        import subprocess
        import threading

        key, self.ca_file = Path(folder) / "key.pem", Path(folder) / "cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                        "-out", str(self.ca_file)], check=True, capture_output=True)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, key)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._target, self._context, self._socket = target_port, context, socket

        def serve():
            while True:
                try:
                    raw, _ = self._listener.accept()
                except OSError:
                    return
                threading.Thread(target=self._relay, args=(raw,), daemon=True).start()
        threading.Thread(target=serve, daemon=True).start()

    def _relay(self, raw) -> None:
        import threading

        try:
            client = self._context.wrap_socket(raw, server_side=True)
        except OSError:
            raw.close()
            return
        upstream = self._socket.create_connection(("127.0.0.1", self._target))

        def pump(source, sink):
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                for end in (source, sink):
                    try:
                        end.close()
                    except OSError:
                        pass
        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    def close(self) -> None:
        self._listener.close()
