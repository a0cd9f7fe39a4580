"""Locate the Open-i (Indiana University) report collection for the training steps.

Reading the reports is the engine's job (:mod:`engine.reports.openi`); this module finds
``NLMCXR_reports.tgz`` on this machine and adds the shared ``--reports`` option.
"""
from __future__ import annotations

import os
from pathlib import Path

from engine.errors import ReportError
from engine.reports.openi import REPORTS_ARCHIVE

ENV_OPENI_DIR = "CXR_LENS_OPENI"
_FETCH_HINT = "run `python -m training fetch-openi` or set CXR_LENS_OPENI to the folder holding the files"


def find_openi_dir() -> Path:
    """Return the folder holding ``NLMCXR_reports.tgz``.

    Looks, in order, at the ``CXR_LENS_OPENI`` environment variable, ``../shared/data/openi``
    beside the repository and ``<repo>/data/openi``.

    Raises
    ------
    ReportError
        When none of them holds the archive; the message says how to fetch it.
    """
    repo = Path(__file__).resolve().parent.parent
    candidates = []
    if os.environ.get(ENV_OPENI_DIR):
        candidates.append(Path(os.environ[ENV_OPENI_DIR]).expanduser())
    candidates += [repo.parent / "shared" / "data" / "openi", repo / "data" / "openi"]
    for folder in candidates:
        if (folder / REPORTS_ARCHIVE).is_file():
            return folder
    raise ReportError(
        f"{REPORTS_ARCHIVE} not found in " + ", ".join(str(c) for c in candidates), hint=_FETCH_HINT
    )


def reports_path(given: str | Path | None = None) -> Path:
    """Return ``given`` (a .tgz, folder of XML or XML file), else the located ``NLMCXR_reports.tgz``."""
    return Path(given) if given else find_openi_dir() / REPORTS_ARCHIVE


def add_reports_option(parser) -> None:
    """Add the ``--reports`` option the steps that read Open-i reports share."""
    parser.add_argument("--reports", type=Path, default=None,
                        help="NLMCXR_reports.tgz or a folder of XML (default: the located Open-i copy)")
