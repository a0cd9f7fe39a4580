"""Write the heatmap Segmentation from a template (:mod:`engine.dicom_results.template`).

The template is the Segmentation :func:`engine.dicom_results.seg.build_seg_from` (highdicom) builds
with sentinel UIDs for the object and its series and maps of 0.5; its Pixel Data is a hole. Each
image's frames are quantised as highdicom quantises FRACTIONAL maps (``round(value * 255)`` in the
maps' float32, one 8-bit frame per label in label order). Key: pack, method and label names.
An odd-sized Pixel Data is padded with a null byte by pydicom, as PS3.5 asks (highdicom 0.28.2 pads
with the character "0"; the padding is outside the frames, so readers see the same maps).
"""
from __future__ import annotations

import logging

import numpy as np

from engine.dicom_results.seg import MAX_FRACTIONAL, build_seg_from, seg_uids
from engine.dicom_results.source import Algorithm
from engine.dicom_results.template import DatasetTemplate, Placeholders, sentinel_uids
from engine.dicom_results.template_parts import TemplateCache, TemplateUnsupported, dataset_bytes

log = logging.getLogger(__name__)

_CACHE = TemplateCache()


def _template(source, labels: list[str], shape: tuple, method: str, algorithm: Algorithm) -> DatasetTemplate:
    placeholders = Placeholders(sentinel_uids(["seg", "series"]), top={"PixelData": ("pixels",)})
    sentinel_of = {role: uid for uid, (_kind, role) in placeholders.uids.items()}
    middle = np.full(shape, 0.5, np.float32)  # not 0/1 only: highdicom takes its FRACTIONAL float path
    return DatasetTemplate(source, placeholders,
                           lambda header: build_seg_from(header, labels, middle, method, algorithm, sentinel_of))


def frames(stack: np.ndarray) -> bytes:
    """Pixel Data of (rows, cols, labels) float32 maps in [0, 1]: one 8-bit frame per label, as highdicom."""
    return b"".join(np.around(stack[:, :, i] * float(MAX_FRACTIONAL)).astype(np.uint8).tobytes()
                    for i in range(stack.shape[-1]))


def seg_file_bytes(source, labels: list[str], stack: np.ndarray, method: str, algorithm: Algorithm) -> bytes:
    """The Segmentation file of ``stack`` on the ``source`` header (see :func:`engine.dicom_results.seg._checked`).

    From a cached template when one fits, else from a new one (kept), else from highdicom's full build
    (also for maps that are not finite, which highdicom refuses with its own message).
    """
    uids = seg_uids(source, labels, method, algorithm)
    try:
        if stack.dtype != np.float32 or not np.isfinite(stack).all():
            raise TemplateUnsupported("maps are not finite float32")
        template = _CACHE.get((algorithm, method, tuple(labels)), source,
                              lambda: _template(source, labels, stack.shape, method, algorithm))
        return template.fill(source, {("uid", "seg"): uids["seg"], ("uid", "series"): uids["series"],
                                      ("pixels",): frames(stack)}, uids["seg"])
    except (TemplateUnsupported, ValueError, TypeError, KeyError) as error:  # the full build says what is wrong
        log.info("Segmentation built in full by highdicom, no template: %s", error)
        return dataset_bytes(build_seg_from(source, labels, stack, method, algorithm, uids))


def clear_templates() -> None:
    """Forget every cached Segmentation template (the benchmark times the first write of each kind)."""
    _CACHE.clear()


def cached_templates() -> int:
    """How many Segmentation templates this process holds (for tests and the benchmark)."""
    return len(_CACHE)
