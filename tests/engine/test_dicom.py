"""engine.images.read on real files (pydicom-data) and on broken files the tests make."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from engine.images.read import read_image, read_path
from engine.errors import DicomError


def test_every_pydicom_data_file_loads_or_raises_a_named_dicom_error(pydicom_data_dir):
    loaded, failed = 0, 0
    for path in sorted(pydicom_data_dir.iterdir()):
        try:
            image = read_image(path)
            pixels = image.pixels(0)
            assert pixels.shape[:2] == (image.rows, image.columns)
            loaded += 1
        except DicomError as error:
            assert path.name in str(error) and " — " in str(error)  # names the file, says what to do
            failed += 1
    assert loaded >= 60 and failed <= 3


def test_j2k_lossless_decodes_bit_identical_to_uncompressed(pydicom_data_dir):
    reference = read_image(pydicom_data_dir / "RG1_UNCR.dcm").pixels()
    lossless = read_image(pydicom_data_dir / "RG1_J2KR.dcm").pixels()
    assert lossless.dtype == reference.dtype
    np.testing.assert_array_equal(lossless, reference)


def test_rg1_header_facts(rg1_path):
    image = read_image(rg1_path)
    assert (image.modality, image.photometric) == ("CR", "MONOCHROME1")
    assert (image.rows, image.columns) == (1955, 1841)
    assert image.pixel_spacing_mm is None  # anonymised to 0.000\0.000: treated as absent, not as 0 mm
    assert image.transfer_syntax == "1.2.840.10008.1.2.1"


def test_big_endian_arrays_come_back_native_and_equal(pydicom_data_dir):
    little = read_image(pydicom_data_dir / "emri_small.dcm").pixels()
    big = read_image(pydicom_data_dir / "emri_small_big_endian.dcm").pixels()
    assert big.dtype.byteorder in ("=", "|")
    np.testing.assert_array_equal(big, little)


@pytest.mark.parametrize("name", ["emri_small_RLE.dcm", "emri_small_jpeg_ls_lossless.dcm",
                                  "emri_small_jpeg_2k_lossless.dcm"])
def test_compressed_transfer_syntaxes_decode_lossless(pydicom_data_dir, name):
    np.testing.assert_array_equal(read_image(pydicom_data_dir / name).pixels(),
                                  read_image(pydicom_data_dir / "emri_small.dcm").pixels())


def test_multi_frame_gives_each_frame(pydicom_data_dir):
    image = read_image(pydicom_data_dir / "SC_rgb_2frame.dcm")
    assert image.number_of_frames == 2
    first, second = image.pixels(0), image.pixels(1)
    assert first.shape == second.shape == (100, 100, 3)
    assert not np.array_equal(first, second)
    with pytest.raises(DicomError, match="frame 2 does not exist"):
        image.pixels(2)


def test_palette_big_endian_matches_little_endian(pydicom_data_dir):
    np.testing.assert_array_equal(read_image(pydicom_data_dir / "OBXXXX1A_expb.dcm").pixels(),
                                  read_image(pydicom_data_dir / "OBXXXX1A.dcm").pixels())


def _write_dicom(path: Path, with_pixels: bool = True, instance: int = 1, study_uid: str | None = None,
                 series_uid: str | None = None) -> Path:
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID
    dataset.StudyInstanceUID = study_uid or generate_uid()
    dataset.SeriesInstanceUID = series_uid or generate_uid()
    dataset.Modality, dataset.InstanceNumber, dataset.ViewPosition = "CR", instance, "PA"
    if with_pixels:
        dataset.Rows, dataset.Columns = 32, 24
        dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
        dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 12, 11, 0
        dataset.PixelData = (np.arange(32 * 24, dtype="<u2") % 4096).tobytes()
    dataset.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture()
def mixed_folder(tmp_path, rg1_path) -> Path:
    shutil.copy(rg1_path, tmp_path / "good_rg1.dcm")
    study, series = generate_uid(), generate_uid()
    sub = tmp_path / "nested" / "deeper"
    sub.mkdir(parents=True)
    _write_dicom(sub / "IMG0002", instance=2, study_uid=study, series_uid=series)  # no extension
    _write_dicom(sub / "b.dcm", instance=1, study_uid=study, series_uid=series)
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "notes.dcm").write_text("this is not DICOM\n" * 20)
    truncated = _write_dicom(tmp_path / "truncated.dcm")
    truncated.write_bytes(truncated.read_bytes()[:-500])
    _write_dicom(tmp_path / "no_pixels.dcm", with_pixels=False)
    (tmp_path / "README.txt").write_text("ignored: not an image")
    return tmp_path


def test_folder_read_lists_good_images_and_one_error_per_bad_file(mixed_folder):
    result = read_path(mixed_folder)
    assert len(result.images) == 3
    reasons = {error.path.name: error.reason for error in result.errors}
    assert set(reasons) == {"empty.dcm", "notes.dcm", "truncated.dcm", "no_pixels.dcm"}
    assert "empty" in reasons["empty.dcm"]
    assert "not a DICOM file" in reasons["notes.dcm"]
    assert "truncated" in reasons["truncated.dcm"]
    assert "no pixel data" in reasons["no_pixels.dcm"]
    assert [p.name for p in result.skipped] == ["README.txt"]


def test_images_grouped_by_uid_and_sorted_by_instance_number(mixed_folder):
    result = read_path(mixed_folder)
    study = next(s for s in result.studies if len(s.images) == 2)
    assert [image.instance_number for image in study.images] == [1, 2]
    assert [image.path.name for image in study.images] == ["b.dcm", "IMG0002"]


def test_pixels_are_lazy(tmp_path):
    path = _write_dicom(tmp_path / "a.dcm")
    image = read_image(path)
    path.write_bytes(path.read_bytes()[:-100])  # damage after the header was read
    with pytest.raises(DicomError, match="a.dcm"):
        image.pixels()


def test_png_loads_without_dicom_metadata(tmp_path):
    from PIL import Image as PILImage

    PILImage.fromarray(np.tile(np.arange(64, dtype=np.uint8), (48, 1))).save(tmp_path / "cxr.png")
    image = read_image(tmp_path / "cxr.png")
    assert (image.kind, image.rows, image.columns, image.photometric) == ("raster", 48, 64, "MONOCHROME2")
    assert image.pixels().shape == (48, 64)


def test_dicomdir_reads_referenced_files(make_dicomdir):
    result = read_path(make_dicomdir(("RG1_UNCR.dcm", "emri_small.dcm")))
    assert len(result.images) == 2 and not result.errors
    assert {image.modality for image in result.images} == {"CR", "MR"}


def test_missing_path_is_a_dicom_error(tmp_path):
    with pytest.raises(DicomError, match="no such file"):
        read_path(tmp_path / "nope")


def test_structured_report_in_a_folder_is_skipped_not_an_error(tmp_path, rg1_path):
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    shutil.copy(rg1_path, tmp_path / "image.dcm")
    report = Dataset()
    report.file_meta = FileMetaDataset()
    report.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    report.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    report.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    report.SOPClassUID, report.SOPInstanceUID = report.file_meta.MediaStorageSOPClassUID, generate_uid()
    report.Modality = "SR"
    report.save_as(tmp_path / "report_sr.dcm", enforce_file_format=True)
    result = read_path(tmp_path)
    assert len(result.images) == 1 and not result.errors
    assert [p.name for p in result.skipped] == ["report_sr.dcm"]
    with pytest.raises(DicomError, match="document, not an image"):
        read_image(tmp_path / "report_sr.dcm")
