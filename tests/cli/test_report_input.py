"""The shared ``--report TEXT | --report-file F`` options."""
from __future__ import annotations

from argparse import Namespace

import pytest

from cxr_lens.report_input import read_report_option
from engine.errors import ReportError


def test_report_text_and_report_file(tmp_path):
    path = tmp_path / "report.txt"
    path.write_text("FINDINGS: Large right pneumothorax.", encoding="utf-8")
    assert read_report_option(Namespace(report="No effusion.", report_file=None)) == "No effusion."
    assert read_report_option(Namespace(report=None, report_file=str(path))) == "FINDINGS: Large right pneumothorax."
    assert read_report_option(Namespace(report=None, report_file=None)) is None
    long_line = "No effusion. " * 30    # longer than a file name may be: read as text, not stat'ed into an error
    assert read_report_option(Namespace(report=long_line, report_file=None)) == long_line


def test_a_file_name_given_as_report_text_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "report.txt"
    path.write_text("FINDINGS: Large right pneumothorax.", encoding="utf-8")
    with pytest.raises(ReportError, match="--report-file") as error:
        read_report_option(Namespace(report=str(path), report_file=None))
    assert "report.txt" in str(error.value)
