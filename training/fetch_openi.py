"""``python -m training fetch-openi``: put the Open-i report files in the project's data folder.

The two files (``NLMCXR_reports.tgz``, ``nlmcxr_dicom_metadata.csv.gz``) ship unchanged inside the
``torchxrayvision`` 1.5.7 wheel on PyPI. This step copies them from a path the user gives (a
folder holding them, the wheel, or the archive itself) or, without one, runs
``pip download --no-deps torchxrayvision==1.5.7`` into a temporary folder and extracts them.
Both are checked against their published md5 sums.
"""
from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from engine.errors import ReportError
from engine.reports.openi import METADATA_CSV, REPORTS_ARCHIVE

logger = logging.getLogger(__name__)

WHEEL_REQUIREMENT = "torchxrayvision==1.5.7"
MD5 = {
    REPORTS_ARCHIVE: "fa5215d222be4eafc86e546ddc1429ab",
    METADATA_CSV: "ae72806cb18f485bb7e49dc08533eaf8",
}
DEFAULT_DEST = Path(__file__).resolve().parent.parent / "data" / "openi"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fetch-openi`` step."""
    parser = subparsers.add_parser("fetch-openi", help="copy or download the Open-i report files",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, default=None,
                        help="folder holding the two files, the torchxrayvision wheel, or the .tgz "
                             "(default: pip download the wheel)")
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help=f"target folder (default {DEFAULT_DEST})")
    parser.add_argument("--no-verify", action="store_true", help="skip the md5 check (for other releases)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fetch the files into ``args.dest``; return 0."""
    paths = fetch_openi(args.dest, source=args.source, verify=not args.no_verify)
    for path in paths:
        logger.info("wrote %s (%d bytes)", path, path.stat().st_size)
    return 0


def fetch_openi(dest: str | Path, source: str | Path | None = None, verify: bool = True) -> list[Path]:
    """Copy the Open-i files into ``dest`` and return their paths.

    Parameters
    ----------
    dest
        Target folder (created when missing).
    source
        A folder holding the files, a ``.whl`` containing them, or the ``.tgz`` (the metadata
        table is then taken from beside it when present). ``None`` downloads the wheel with pip.
    verify
        Check the published md5 sums; a mismatch raises.

    Raises
    ------
    ReportError
        When the source lacks the reports archive, pip fails, or a checksum does not match.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if source is None:
        with tempfile.TemporaryDirectory(prefix="cxr-lens-openi-") as tmp:
            return _from_wheel(_download_wheel(Path(tmp)), dest, verify)
    source = Path(source)
    if not source.exists():
        raise ReportError("no such file or folder", path=source,
                          hint="pass the folder holding the Open-i files, the wheel, or no --from")
    if source.suffix == ".whl":
        return _from_wheel(source, dest, verify)
    folder = source if source.is_dir() else source.parent
    if not (folder / REPORTS_ARCHIVE).is_file():
        raise ReportError(f"{REPORTS_ARCHIVE} not found", path=folder,
                          hint="pass the folder holding it, the torchxrayvision 1.5.7 wheel, or no --from")
    written = []
    for name in (REPORTS_ARCHIVE, METADATA_CSV):
        if (folder / name).is_file():
            target = dest / name
            if (folder / name).resolve() != target.resolve():
                shutil.copyfile(folder / name, target)
            written.append(_checked(target, verify))
        else:
            logger.warning("%s not found in %s; view positions will be empty", name, folder)
    return written


def _download_wheel(folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               WHEEL_REQUIREMENT, "-d", str(folder)]
    logger.info("running %s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(folder.glob("torchxrayvision-*.whl"))
    if result.returncode != 0 or not wheels:
        raise ReportError(f"pip download failed: {result.stderr.strip()[-500:]}",
                          hint="check the network, or pass --from with a folder holding the files")
    return wheels[0]


def _from_wheel(wheel: Path, dest: Path, verify: bool) -> list[Path]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = {Path(name).name: name for name in archive.namelist()
                       if Path(name).name in MD5 and "/data/" in f"/{name}"}
            if REPORTS_ARCHIVE not in members:
                raise ReportError(f"{REPORTS_ARCHIVE} not in the wheel", path=wheel,
                                  hint=f"use the {WHEEL_REQUIREMENT} wheel")
            written = []
            for name, member in members.items():
                target = dest / name
                with archive.open(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                written.append(_checked(target, verify))
            return written
    except (zipfile.BadZipFile, OSError) as error:
        raise ReportError(f"cannot read wheel ({error})", path=wheel,
                          hint="download it again or pass --from with the extracted files") from error


def _checked(path: Path, verify: bool) -> Path:
    if verify:
        digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        if digest != MD5[path.name]:
            raise ReportError(f"md5 {digest} does not match the published {MD5[path.name]}", path=path,
                              hint="the file is damaged or another release; fetch again or use --no-verify")
    return path
