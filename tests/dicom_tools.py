"""Independent DICOM checkers for tests: dciodvfy (dicom3tools) and dsrdump (DCMTK).

.ci/run installs both (apt-get install dicom3tools dcmtk), so CI never skips; a developer machine
without them skips the checks that need them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# dciodvfy warnings we accept, each with its reason (docs/DICOM_RESULTS.md lists them too).
ACCEPTED_WARNINGS = (
    # our private coding scheme is declared in the Coding Scheme Identification Sequence (0008,0110);
    # dciodvfy only knows the designators of PS3.16 table 8-1
    "Unrecognized defined term <99CXRLENS> for value 1 of attribute <Coding Scheme Designator>",
)


def dciodvfy_problems(path: Path) -> tuple[list[str], list[str]]:
    """Run dciodvfy on ``path``; return (error lines, warning lines not in ACCEPTED_WARNINGS)."""
    tool = shutil.which("dciodvfy")
    if tool is None:  # CI installs it (.ci/run), so there a missing dciodvfy fails instead of passing unchecked
        (pytest.fail if os.environ.get("CI") else pytest.skip)("dciodvfy is not installed (apt-get install dicom3tools)")
    out = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    lines = (out.stdout + out.stderr).splitlines()
    errors = [line for line in lines if line.startswith("Error")]
    warnings = [line for line in lines if line.startswith("Warning") and not any(a in line for a in ACCEPTED_WARNINGS)]
    return errors, warnings


def dsrdump(path: Path) -> str:
    """The SR content tree as DCMTK's dsrdump prints it (fails the test when dsrdump reports an error)."""
    tool = shutil.which("dsrdump")
    if tool is None:
        pytest.skip("dsrdump is not installed (apt-get install dcmtk)")
    out = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "E: " not in out.stderr, out.stderr
    return out.stdout
