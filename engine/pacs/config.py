"""PACS server entries: where a server is, how to log in, and the network limits.

Entries come from a configuration file (TOML or JSON, format in docs/PACS.md), from the command
line, and from the environment for secrets. Secrets (password, bearer token) are kept out of
``repr``, ``describe`` and every log line; the server is named by its URL or ``AET@host:port``.
"""
from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from engine.errors import PacsError

CONFIG_ENV = "CXR_LENS_PACS_CONFIG"
USER_ENV, PASSWORD_ENV, TOKEN_ENV = "CXR_LENS_PACS_USER", "CXR_LENS_PACS_PASSWORD", "CXR_LENS_PACS_TOKEN"
DEFAULT_CALLING_AET = "CXRLENS"


@dataclass(frozen=True)
class PacsServer:
    """One PACS: a DICOMweb root URL, a DIMSE address, or both.

    Attributes
    ----------
    name
        The entry's name in the configuration file (``"command line"`` when given as options).
    url
        DICOMweb root (the prefix before ``/studies``), e.g. ``https://pacs/dicom-web``.
    aet, host, port
        The server's (called) AE title, host name and DICOM port for DIMSE.
    calling_aet
        Our own AE title; the server must list it for C-MOVE (it connects back to us).
    local_port
        TCP port of our storage SCP for C-MOVE (0: let C-MOVE fail with a message; C-GET needs none).
    username, password, token
        HTTP basic auth or bearer token for DICOMweb (secrets, never shown).
    ca_file
        PEM file of certificate authorities to trust for HTTPS (None: the system's).
    timeout_s
        Seconds to wait for a connection or an answer (HTTP and DIMSE).
    retries
        HTTP retries after the first try, on connection errors and 408/429/503/504.
    backoff_ms
        First retry waits ``2 * backoff_ms`` ms, doubling each time.
    """

    name: str = "command line"
    url: str | None = None
    aet: str | None = None
    host: str | None = None
    port: int | None = None
    calling_aet: str = DEFAULT_CALLING_AET
    local_port: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout_s: float = 30.0
    retries: int = 3
    backoff_ms: int = 500

    def describe(self) -> str:
        """The server as shown in messages: its DICOMweb URL, else ``AET@host:port``."""
        if self.url:
            return self.url
        return f"{self.aet}@{self.host}:{self.port}"

    def with_secrets_from_env(self) -> PacsServer:
        """Fill user, password and token from ``CXR_LENS_PACS_USER/PASSWORD/TOKEN`` where unset."""
        return replace(self, username=self.username or os.environ.get(USER_ENV),
                       password=self.password or os.environ.get(PASSWORD_ENV),
                       token=self.token or os.environ.get(TOKEN_ENV))


def default_config_path() -> Path:
    """``$CXR_LENS_PACS_CONFIG``, else ``~/.config/cxr-lens/pacs.toml`` (or ``pacs.json`` if only it exists)."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "cxr-lens"
    toml_path = base / "pacs.toml"
    return base / "pacs.json" if not toml_path.exists() and (base / "pacs.json").exists() else toml_path


def load_servers(path: str | Path | None = None) -> dict[str, PacsServer]:
    """Read the server entries of a configuration file; an absent default file gives no entries.

    Raises
    ------
    PacsError
        The file cannot be parsed, has no ``servers`` table, or an entry has an unknown key.
    """
    explicit = path is not None
    path = Path(path) if explicit else default_config_path()
    if not path.exists():
        if explicit:
            raise PacsError("the PACS configuration file does not exist", path=path,
                            hint="create it as described in docs/PACS.md")
        return {}
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as error:  # tomllib.TOMLDecodeError and JSONDecodeError are ValueErrors
        raise PacsError(f"cannot read the PACS configuration ({error})", path=path,
                        hint="fix its syntax (docs/PACS.md shows the format)") from error
    servers = data.get("servers")
    if not isinstance(servers, dict):
        raise PacsError("no [servers.NAME] entries", path=path, hint="see docs/PACS.md for the format")
    known = {f.name for f in fields(PacsServer)} - {"name"}
    entries = {}
    for name, entry in servers.items():
        unknown = set(entry) - known - {"password_env", "token_env"}
        if unknown:
            raise PacsError(f"server {name!r} has unknown key(s) {', '.join(sorted(unknown))}", path=path,
                            hint=f"known keys: {', '.join(sorted(known | {'password_env', 'token_env'}))}")
        values = {k: v for k, v in entry.items() if k in known}
        for key, env_key in (("password", "password_env"), ("token", "token_env")):
            if env_key in entry:
                values[key] = os.environ.get(entry[env_key]) or values.get(key)
        entries[name] = PacsServer(name=name, **values)
    return entries


def pick_server(name: str, path: str | Path | None = None) -> PacsServer:
    """Return the entry called ``name`` from the configuration file, or raise PacsError listing the names."""
    servers = load_servers(path)
    if name not in servers:
        where = path or default_config_path()
        raise PacsError(f"no PACS entry named {name!r}", path=where,
                        hint=f"known entries: {', '.join(sorted(servers)) or 'none'}")
    return servers[name]
