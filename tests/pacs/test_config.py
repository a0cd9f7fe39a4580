"""PACS server entries: file formats, secrets from the environment, and secrets kept out of text."""
from __future__ import annotations

import pytest

from engine.errors import PacsError
from engine.pacs.config import PacsServer, default_config_path, load_servers, pick_server


def test_entries_read_secrets_from_named_environment_variables(tmp_path, monkeypatch):
    path = tmp_path / "pacs.toml"
    path.write_text('[servers.cloud]\nurl = "https://x/dicomweb"\ntoken_env = "CLOUD_TOKEN"\n'
                    '[servers.dimse]\naet = "PACS"\nhost = "pacs"\nport = 104\nlocal_port = 11112\n')
    monkeypatch.setenv("CLOUD_TOKEN", "tok-123")
    servers = load_servers(path)
    assert servers["cloud"].token == "tok-123" and servers["dimse"].describe() == "PACS@pacs:104"
    assert "tok-123" not in repr(servers["cloud"]) + servers["cloud"].describe()
    monkeypatch.setenv("CXR_LENS_PACS_PASSWORD", "pw-456")
    monkeypatch.setenv("CXR_LENS_PACS_USER", "me")
    filled = PacsServer(url="https://y").with_secrets_from_env()
    assert (filled.username, filled.password) == ("me", "pw-456") and "pw-456" not in repr(filled)


def test_bad_files_say_what_is_wrong(tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text("[servers.x\n")
    with pytest.raises(PacsError, match="bad.toml: cannot read the PACS configuration"):
        load_servers(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[servers.x]\nurl = "http://h"\npasword = "typo"\n')
    with pytest.raises(PacsError, match="server 'x' has unknown key\\(s\\) pasword .* known keys: aet"):
        load_servers(unknown)
    with pytest.raises(PacsError, match="does not exist"):
        load_servers(tmp_path / "missing.toml")
    monkeypatch.setenv("CXR_LENS_PACS_CONFIG", str(tmp_path / "missing.toml"))
    assert default_config_path() == tmp_path / "missing.toml" and load_servers() == {}
    with pytest.raises(PacsError, match="no PACS entry named 'main' .* known entries: none"):
        pick_server("main")


def test_a_url_with_credentials_in_it_is_refused():
    from engine.pacs.dicomweb import DicomWebClient

    with pytest.raises(PacsError, match="credentials in the URL are refused"):
        DicomWebClient(PacsServer(url="https://me:secret@pacs/dicom-web"))
