"""Write the heatmap Segmentation from a template (:mod:`engine.dicom_results.template`).

The template is the Segmentation :func:`engine.dicom_results.seg.build_seg_from` (highdicom) builds
with sentinel UIDs for the object and its series and maps of 0.5; its Pixel Data is a hole. Each
image's frames are quantised as highdicom quantises FRACTIONAL maps (``round(value * 255)`` in the
maps' float32, one 8-bit frame per label in label order; :func:`frames`). Key: pack, method and label names.
An odd-sized Pixel Data is padded with a null byte by pydicom, as PS3.5 asks (highdicom 0.28.2 pads
with the character "0"; the padding is outside the frames, so readers see the same maps).
"""
from __future__ import annotations

import logging

import numpy as np

from engine.dicom_results.seg import MAX_FRACTIONAL, build_seg_from, seg_uids, stacked
from engine.dicom_results.source import Algorithm
from engine.dicom_results.template import DatasetTemplate, Placeholders, sentinel_uids
from engine.dicom_results.template_parts import TemplateCache, TemplateUnsupported, dataset_bytes

log = logging.getLogger(__name__)

_CACHE = TemplateCache()
BLOCK_PIXELS = 1 << 16  # float32 values per block of rows in frames(): 256 KiB, in cache


def _template(source, labels: list[str], shape: tuple, method: str, algorithm: Algorithm) -> DatasetTemplate:
    placeholders = Placeholders(sentinel_uids(["seg", "series"]), top={"PixelData": ("pixels",)})
    sentinel_of = {role: uid for uid, (_kind, role) in placeholders.uids.items()}
    middle = np.full(shape, 0.5, np.float32)  # not 0/1 only: highdicom takes its FRACTIONAL float path
    return DatasetTemplate(source, placeholders,
                           lambda header: build_seg_from(header, labels, middle, method, algorithm, sentinel_of))


def frames(arrays: list[np.ndarray]) -> memoryview:
    """Pixel Data of float32 (rows, cols) maps, as a view of its bytes: one 8-bit frame per map,
    ``round(clip(value, 0, 1) * 255)`` in float32 as highdicom computes it (halves to even). Computed
    in blocks of rows that stay in the CPU cache (a 3.6 Mpx film: 2.3 ms; whole-array steps as
    highdicom takes them, with a clipped and stacked copy, took 8.6 ms).

    Raises
    ------
    TemplateUnsupported
        A map holds NaN (highdicom's full build refuses it with its own message).
    """
    rows, cols = arrays[0].shape
    step = max(1, BLOCK_PIXELS // cols)
    out = np.empty((len(arrays), rows, cols), np.uint8)
    scaled = np.empty((step, cols), np.float32)
    for frame, values in zip(out, arrays):
        for start in range(0, rows, step):
            block, part = values[start:start + step], scaled[:min(step, rows - start)]
            low, high = block.min(), block.max()  # NaN propagates into both
            if np.isnan(low) or np.isnan(high):
                raise TemplateUnsupported("a map holds NaN")
            if low < 0.0 or high > 1.0:
                block = np.clip(block, 0.0, 1.0)
            np.multiply(block, np.float32(MAX_FRACTIONAL), out=part)
            np.rint(part, out=part)
            np.copyto(frame[start:start + step], part, casting="unsafe")
    return out.reshape(-1).data


def seg_file_chunks(source, labels: list[str], arrays: list[np.ndarray], method: str,
                    algorithm: Algorithm) -> list[bytes]:
    """The Segmentation file of ``arrays`` (float32 (rows, cols) maps, one per label) on the ``source``
    header, as byte strings to write one after another.

    From a cached template when one fits, else from a new one (kept), else from highdicom's full build
    (also for maps that hold NaN, which highdicom refuses with its own message).
    """
    uids = seg_uids(source, labels, method, algorithm)
    try:
        pixels = frames(arrays)
        template = _CACHE.get((algorithm, method, tuple(labels)), source,
                              lambda: _template(source, labels, arrays[0].shape + (len(labels),), method, algorithm))
        return template.fill(source, {("uid", "seg"): uids["seg"], ("uid", "series"): uids["series"],
                                      ("pixels",): pixels}, uids["seg"])
    except (TemplateUnsupported, ValueError, TypeError, KeyError) as error:  # the full build says what is wrong
        log.info("Segmentation built in full by highdicom, no template: %s", error)
        return [dataset_bytes(build_seg_from(source, labels, stacked(arrays), method, algorithm, uids))]


def clear_templates() -> None:
    """Forget every cached Segmentation template (the benchmark times the first write of each kind)."""
    _CACHE.clear()


def cached_templates() -> int:
    """How many Segmentation templates this process holds (for tests and the benchmark)."""
    return len(_CACHE)
