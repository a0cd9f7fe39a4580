"""Build the offline executable and the archive a user installs (``make dist``).

Run with the CPU-only build environment's Python (``.venv-dist/bin/python``, which ``make dist``
creates). Writes:

- ``dist/cxr-lens/``: the one-folder build (PyInstaller, ``build_spec/cxr_lens.spec``) plus a
  ``cxr-lens.desktop`` launcher and the ``cxr-lens.svg`` icon at its top;
- ``dist/cxr-lens-<version>-linux-x86_64.tar.gz`` and ``dist/SHA256SUMS`` (``sha256sum -c SHA256SUMS``);
- ``dist/build-info.json``: version, build and archive seconds, folder and archive bytes.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cxr_lens import __version__  # noqa: E402 - after the repository is on the path
from engine.checksums import sha256_file  # noqa: E402

INSTALL_DIR = "/opt/cxr-lens"  # where README's install steps unpack it; the launcher names it
DESKTOP_ENTRY = f"""[Desktop Entry]
Type=Application
Name=CXR Lens
GenericName=Chest radiograph viewer
Comment=Offline DICOM viewer for chest radiographs with an AI engine (research and demonstration; not for clinical use)
Exec={INSTALL_DIR}/cxr-lens view %f
Icon={INSTALL_DIR}/cxr-lens.svg
Terminal=false
Categories=Graphics;MedicalSoftware;Science;
MimeType=application/dicom;
"""


def folder_bytes(folder: Path) -> int:
    """Total size in bytes of the regular files under ``folder`` (links not followed)."""
    return sum(path.lstat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def build(dist: Path, work: Path) -> float:
    """Run PyInstaller on the spec into ``dist``; return the seconds it took."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                    "--distpath", str(dist), "--workpath", str(work), str(ROOT / "build_spec" / "cxr_lens.spec")],
                   check=True, cwd=ROOT)
    return time.perf_counter() - start


def add_launcher(bundle: Path) -> None:
    """Put the .desktop launcher and the icon at the top of the bundle."""
    (bundle / "cxr-lens.desktop").write_text(DESKTOP_ENTRY, encoding="utf-8")
    shutil.copy2(ROOT / "resources" / "icons" / "cxr-lens.svg", bundle / "cxr-lens.svg")


def write_archive(bundle: Path) -> tuple[Path, float]:
    """Write ``cxr-lens-<version>-linux-x86_64.tar.gz`` beside the bundle and its SHA256SUMS."""
    start = time.perf_counter()
    archive = bundle.parent / f"cxr-lens-{__version__}-linux-x86_64.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname="cxr-lens")
    (bundle.parent / "SHA256SUMS").write_text(f"{sha256_file(archive)}  {archive.name}\n")
    return archive, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Build, add the launcher, archive; print and record the figures."""
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)  # --help only
    dist = ROOT / "dist"
    build_seconds = build(dist, ROOT / "build")
    bundle = dist / "cxr-lens"
    add_launcher(bundle)
    archive, archive_seconds = write_archive(bundle)
    info = {"version": __version__, "build_seconds": round(build_seconds, 1),
            "archive_seconds": round(archive_seconds, 1), "bundle_bytes": folder_bytes(bundle),
            "archive": archive.name, "archive_bytes": archive.stat().st_size}
    (dist / "build-info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"built {bundle} ({info['bundle_bytes'] / 1e9:.3f} GB) in {build_seconds:.0f} s; "
          f"{archive.name} ({info['archive_bytes'] / 1e9:.3f} GB) in {archive_seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
