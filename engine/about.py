"""Versions of the engine and of a model pack, for ``cxr-lens --version`` and the About dialog."""
from __future__ import annotations

import platform
import sys
from pathlib import Path

from engine.checksums import sha256_file
from engine.errors import EngineError
from engine.model.pack import MANIFEST, SCHEMA_VERSION, read_manifest
from engine.resources import bundled_pack_dir, is_frozen

# The cxr-lens distribution's version (pyproject.toml [project].version; tests/cli/test_version.py
# keeps the two equal).
ENGINE_VERSION = "0.1.0"


def version_info(pack_dir: str | Path | None = None) -> dict:
    """Return the engine's version and the identity of a model pack, without loading the model.

    Parameters
    ----------
    pack_dir : str or Path, optional
        Pack folder; the bundled pack when omitted.

    Returns
    -------
    dict
        ``engine`` (version), ``pack_schema`` (the manifest schema this engine reads), ``python``,
        ``frozen`` (True in the offline executable) and ``pack``: ``path``, ``name``, ``version`` and
        ``sha256`` (of manifest.json, which lists every pack file's sha256, so it names the whole
        pack), or ``path`` and ``error`` when the pack cannot be read.
    """
    path = Path(pack_dir) if pack_dir is not None else bundled_pack_dir()
    try:
        manifest = read_manifest(path)
        pack = {"path": str(path), "name": manifest["name"], "version": manifest["version"],
                "sha256": sha256_file(path / MANIFEST)}
    except EngineError as error:
        pack = {"path": str(path), "error": str(error)}
    return {"engine": ENGINE_VERSION, "pack_schema": SCHEMA_VERSION, "python": platform.python_version(),
            "frozen": is_frozen(), "executable": sys.executable, "pack": pack}
