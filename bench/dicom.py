"""Header indexing rate on a generated folder of DICOM files, and RG1 decode time per encoding.

Baselines in the same run: a bare ``pydicom.dcmread(stop_before_pixels=True)`` loop over the same
files (what indexing cannot beat by much), and pydicom's own ``pixel_array`` per encoding.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import markdown_table, pydicom_data_dir, require_data, write_results  # noqa: E402
from engine.images.read import read_image, read_path  # noqa: E402
from engine.images.display import display_float  # noqa: E402

N_FILES = 600
N_STUDIES = 60


def write_folder(folder: Path) -> None:
    """Write N_FILES 256×256 CR files in N_STUDIES studies, nested two levels deep."""
    rng = np.random.default_rng(0)
    pixels = (rng.integers(0, 4096, size=(256, 256), dtype=np.uint16)).tobytes()
    for study in range(N_STUDIES):
        study_uid, series_uid = generate_uid(), generate_uid()
        target = folder / f"patient{study:03d}" / "study"
        target.mkdir(parents=True)
        for index in range(N_FILES // N_STUDIES):
            ds = Dataset()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
            ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
            ds.PatientName, ds.PatientID = f"Bench^{study}", f"B{study:04d}"
            ds.Modality, ds.BodyPartExamined, ds.ViewPosition = "CR", "CHEST", "PA"
            ds.InstanceNumber, ds.StudyDate = index + 1, "20260101"
            ds.PixelSpacing = [0.143, 0.143]
            ds.WindowCenter, ds.WindowWidth = 2048, 4096
            ds.Rows = ds.Columns = 256
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
            ds.PixelData = pixels
            ds.save_as(target / f"IM{index:04d}", enforce_file_format=True)


def best_of(runs: int, func) -> float:
    """Smallest wall time (s) of ``runs`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_indexing() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_folder(folder)
        files = sorted(p for p in folder.rglob("IM*"))
        result = read_path(folder)
        if len(result.images) != N_FILES or result.errors:
            raise SystemExit(f"indexing found {len(result.images)} images, {len(result.errors)} errors")
        ours = best_of(3, lambda: read_path(folder))
        bare = best_of(3, lambda: [pydicom.dcmread(p, stop_before_pixels=True) for p in files])
    return {
        "files": N_FILES,
        "files_per_s": N_FILES / ours,
        "baseline_pydicom_header_only_files_per_s": N_FILES / bare,
        "ratio_to_baseline": (N_FILES / ours) / (N_FILES / bare),
        "target_files_per_s": 500,
    }


def bench_decoding() -> dict:
    folder = require_data(pydicom_data_dir(), "pydicom-data's files", "install the dev extra: pip install -e .[dev]")
    out = {}
    for name in ("RG1_UNCR", "RG1_UNCI", "RG1_J2KR", "RG1_J2KI"):
        path = folder / f"{name}.dcm"
        image = read_image(path)
        ours = [best_of(1, image.pixels) for _ in range(3)]
        full = [best_of(1, lambda: display_float(image)) for _ in range(3)]
        base = [best_of(1, lambda: pydicom.dcmread(path).pixel_array) for _ in range(3)]
        out[name] = {
            "transfer_syntax": image.transfer_syntax_name,
            "decode_ms": 1000 * statistics.median(ours),
            "display_pipeline_ms": 1000 * statistics.median(full),
            "baseline_pydicom_pixel_array_ms": 1000 * statistics.median(base),
        }
    return out


def main() -> None:
    indexing = bench_indexing()
    decoding = bench_decoding()
    rows = [["header indexing (files/s)", f"{indexing['files_per_s']:.0f}",
             f"{indexing['baseline_pydicom_header_only_files_per_s']:.0f}",
             f"{indexing['ratio_to_baseline']:.2f}", "≥ 500 files/s"]]
    rows += [[f"{name} decode (ms) — {d['transfer_syntax']}", f"{d['decode_ms']:.1f}",
              f"{d['baseline_pydicom_pixel_array_ms']:.1f}",
              f"{d['decode_ms'] / d['baseline_pydicom_pixel_array_ms']:.2f}",
              f"full display {d['display_pipeline_ms']:.0f} ms"] for name, d in decoding.items()]
    table = markdown_table(["measure", "CXR Lens", "pydicom baseline", "ratio", "note"], rows)
    print(table)
    write_results("dicom", {"indexing": indexing, "decoding": decoding},
                  f"## DICOM reading (`bench/dicom.py`)\n\nHeader indexing of {N_FILES} generated CR files "
                  "(read_path: content sniffing, header facts, grouping) against a bare pydicom header "
                  "loop; RG1 (1955×1841 CR) decode per encoding against pydicom's pixel_array.\n\n" + table)


if __name__ == "__main__":
    main()
