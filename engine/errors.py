"""One exception hierarchy for the engine.

Every message says what happened, to which file, and what the user can do about it.
Front ends catch :class:`EngineError` and show ``str(error)``.
"""
from __future__ import annotations

from pathlib import Path


class EngineError(Exception):
    """Base class of every error the engine raises on purpose.

    Parameters
    ----------
    message
        What happened, in words a user understands.
    path
        The file or folder concerned, if any; it is put in front of the message.
    hint
        What to do about it; appended to the message.
    """

    def __init__(self, message: str, path: str | Path | None = None, hint: str | None = None):
        self.path = None if path is None else Path(path)
        self.reason = message
        self.hint = hint
        text = message if path is None else f"{path}: {message}"
        if hint:
            text = f"{text} — {hint}"
        super().__init__(text)


class DicomError(EngineError):
    """A file could not be read as an image (not DICOM, no pixels, undecodable, …)."""


class ReportError(EngineError):
    """A report file could not be parsed or labelled."""


class PackError(EngineError):
    """A model pack is missing, damaged, tampered with or of an unknown schema."""


class GateError(EngineError):
    """The input gate refused an image the model was not made for."""


class ModelError(EngineError):
    """The model could not be built or run with the given configuration or weights."""


class SimilarIndexError(EngineError):
    """A similar-case index is missing, damaged or does not match the pack."""


class PacsError(EngineError):
    """A PACS (DICOMweb or DIMSE server) could not be reached, refused us, or sent something unusable.

    The message names the server (URL or ``AET@host:port``, never credentials) and what to check.
    """
