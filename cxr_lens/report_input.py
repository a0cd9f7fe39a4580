"""The ``--report TEXT | --report-file F`` options shared by predict, explain and similar."""
from __future__ import annotations

from pathlib import Path

from engine.errors import ReportError


def add_report_options(group, text_help: str, file_help: str = "file holding the report text (UTF-8)") -> None:
    """Add ``--report`` and ``--report-file`` to a (mutually exclusive) argument group."""
    group.add_argument("--report", help=text_help)
    group.add_argument("--report-file", help=file_help)


def read_report_option(args) -> str | None:
    """Return the report given by ``--report`` or read from ``--report-file`` (None when neither).

    Raises ReportError naming the file when it cannot be read as UTF-8 text, and when ``--report``
    is one line naming an existing file (the model would read the path as the report).
    """
    if args.report_file is None:
        text = args.report
        if text and _names_a_file(text):
            raise ReportError("--report takes the report text, and this is a file's name", path=Path(text),
                              hint=f"use --report-file {text}")
        return text
    path = Path(args.report_file)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"cannot read the report ({error})", path=path, hint="give a UTF-8 text file") from error


def _names_a_file(text: str) -> bool:
    """True when ``text`` is one line naming an existing file (a long report line is no file name)."""
    if "\n" in text:
        return False
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # name too long for the file system, or a NUL character
        return False
