"""CXR Lens engine: Qt-free core shared by the viewer and the command line.

Importing ``engine`` is cheap: the names below load their module (and torch, pydicom, spaCy …)
only when first used, so the viewer can show an image before the model is loaded.
"""
from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "EngineError": "engine.errors",
    "DicomError": "engine.errors",
    "ReportError": "engine.errors",
    "PackError": "engine.errors",
    "GateError": "engine.errors",
    "ModelError": "engine.errors",
    "SimilarIndexError": "engine.errors",
    # reading studies
    "FileError": "engine.dicom",
    "Image": "engine.dicom",
    "ReadResult": "engine.dicom",
    "Series": "engine.dicom",
    "Study": "engine.dicom",
    "read_image": "engine.dicom",
    "read_path": "engine.dicom",
    "read_tags": "engine.dicom",
    # display pipeline
    "Window": "engine.display",
    "apply_voi": "engine.display",
    "apply_window": "engine.display",
    "auto_window": "engine.display",
    "display_float": "engine.display",
    "invert": "engine.display",
    "modality_values": "engine.display",
    "render_uint8": "engine.display",
    "to_uint8": "engine.display",
    # analysis (used by the viewer)
    "Predictor": "engine.predict",
    "Prediction": "engine.predict",
    "Finding": "engine.predict",
    "Pack": "engine.pack",
    "load_pack": "engine.pack",
    "describe_pack": "engine.pack",
    "GateVerdict": "engine.gate",
    "GateIssue": "engine.gate",
    "run_gate": "engine.gate",
    "map_to_original": "engine.preprocess",
    "label_text": "engine.report",
    "ReportLabels": "engine.report",
    "label_sections": "engine.report",
    "label_many": "engine.report",
    "split_sections": "engine.report",
    "Evidence": "engine.report",
    "SimilarSearch": "engine.similar",
    "SimilarCase": "engine.similar",
    "SimilarResult": "engine.similar",
    "CaseArchive": "engine.similar_archive",
    "add_to_user_index": "engine.similar_build",
    "default_user_index_dir": "engine.similar",
    "explain_steps": "engine.explain",
    "Heatmap": "engine.explain",
    "colormap_lut": "engine.explain_overlay",
    "opacity": "engine.explain_overlay",
    # labels
    "LABELS": "engine.labels",
    "LABEL_NAMES": "engine.labels",
    "find_label": "engine.labels",
    "labels_from_mesh": "engine.labels",
    # resources
    "bundled_pack_dir": "engine.resources",
    "demo_studies_dir": "engine.resources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
