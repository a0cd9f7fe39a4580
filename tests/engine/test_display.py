"""The display pipeline: pure functions, and RG1 rendered like a chest film."""
from __future__ import annotations

import numpy as np
import pytest

from engine.images.read import read_image
from engine.images.header import ModalityLut, VoiLut, Window
from engine.images.display import (
    apply_modality_lut, apply_voi, apply_window, auto_window, display_float, invert, to_uint8,
)


def test_modality_lut_rescale():
    stored = np.array([[0, 1000]], dtype=np.uint16)
    values = apply_modality_lut(stored, ModalityLut(slope=2.0, intercept=-1024.0))
    np.testing.assert_allclose(values, [[-1024.0, 976.0]])


def test_modality_lut_sequence_with_first_mapped_and_clamping():
    lut = ModalityLut(lut=np.array([10.0, 20.0, 30.0], dtype=np.float32), first_mapped=5)
    np.testing.assert_allclose(apply_modality_lut(np.array([4, 5, 6, 7, 99]), lut), [10, 10, 20, 30, 30])


def test_linear_window_follows_the_standard_formula():
    window = Window(center=100.5, width=201.0)  # PS3.3: (x - (c - 0.5)) / (w - 1) + 0.5
    out = apply_window(np.array([0.0, 100.0, 200.0, -50.0, 400.0]), window)
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0, 0.0, 1.0], atol=1e-6)


def test_sigmoid_and_linear_exact():
    values = np.array([0.0, 100.0, 200.0])
    sigmoid = apply_window(values, Window(100.0, 100.0), "SIGMOID")
    assert sigmoid[1] == pytest.approx(0.5) and sigmoid[0] < 0.02 and sigmoid[2] > 0.98
    exact = apply_window(values, Window(100.0, 200.0), "LINEAR_EXACT")
    np.testing.assert_allclose(exact, [0.0, 0.5, 1.0])


def test_voi_lut_table_is_used_when_there_is_no_window():
    voi = VoiLut(lut=np.array([0.0, 255.0], dtype=np.float32), first_mapped=0, lut_bits=8)
    np.testing.assert_allclose(apply_voi(np.array([0.0, 1.0, 5.0]), voi), [0.0, 1.0, 1.0])


def test_percentile_default_window_ignores_outliers():
    rng = np.random.default_rng(0)
    values = rng.normal(1000.0, 100.0, size=(256, 256)).astype(np.float32)
    values[0, :10] = 60000.0  # burned-in marker
    window = auto_window(values)
    assert 600 < window.center - window.width / 2 and window.center + window.width / 2 < 1400


def test_monochrome1_inverted_after_voi():
    assert invert(np.array([0.0, 0.25, 1.0])).tolist() == [1.0, 0.75, 0.0]
    assert to_uint8(np.array([0.0, 0.5, 1.0])).tolist() == [0, 128, 255]


def test_rg1_renders_as_a_chest_film_air_dark_bone_bright(rg1_path):
    image = read_image(rg1_path)
    shown = display_float(image)
    rows, cols = shown.shape
    # Lung fields (air) are dark, the mediastinum and spine in the middle are bright.
    left_lung = shown[int(rows * 0.35):int(rows * 0.55), int(cols * 0.2):int(cols * 0.35)].mean()
    right_lung = shown[int(rows * 0.35):int(rows * 0.55), int(cols * 0.65):int(cols * 0.8)].mean()
    spine = shown[int(rows * 0.35):int(rows * 0.55), int(cols * 0.47):int(cols * 0.53)].mean()
    assert spine > left_lung + 0.15 and spine > right_lung + 0.15
    # Without the MONOCHROME1 inversion the order flips: proves the inversion is applied.
    raw = apply_voi(apply_modality_lut(image.pixels(), image.modality_lut), image.voi)
    assert raw[int(rows * 0.45), int(cols * 0.5)] < raw[int(rows * 0.45), int(cols * 0.27)]


def test_colour_images_come_out_rgb(pydicom_data_dir):
    shown = display_float(read_image(pydicom_data_dir / "US1_J2KR.dcm"))
    assert shown.shape == (480, 640, 3) and shown.dtype == np.float32 and 0.0 <= shown.min() <= shown.max() <= 1.0
