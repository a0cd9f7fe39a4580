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
    "FileError": "engine.images.read",
    "Image": "engine.images.read",
    "ReadResult": "engine.images.read",
    "Series": "engine.images.read",
    "Study": "engine.images.read",
    "read_image": "engine.images.read",
    "read_path": "engine.images.read",
    "read_tags": "engine.images.read",
    # display pipeline
    "Window": "engine.images.display",
    "apply_voi": "engine.images.display",
    "apply_window": "engine.images.display",
    "auto_window": "engine.images.display",
    "display_float": "engine.images.display",
    "invert": "engine.images.display",
    "modality_values": "engine.images.display",
    "render_uint8": "engine.images.display",
    "to_uint8": "engine.images.display",
    # analysis (used by the viewer)
    "Predictor": "engine.predict",
    "Prediction": "engine.predict",
    "Finding": "engine.predict",
    "Pack": "engine.model.pack",
    "load_pack": "engine.model.pack",
    "describe_pack": "engine.model.pack",
    "GateVerdict": "engine.gate",
    "GateIssue": "engine.gate",
    "run_gate": "engine.gate",
    "map_to_original": "engine.model.preprocess",
    "label_text": "engine.reports.labeler",
    "ReportLabels": "engine.reports.labeler",
    "label_sections": "engine.reports.labeler",
    "label_many": "engine.reports.labeler",
    "split_sections": "engine.reports.labeler",
    "Evidence": "engine.reports.labeler",
    "SimilarSearch": "engine.similar.search",
    "SimilarCase": "engine.similar.search",
    "SimilarResult": "engine.similar.search",
    "CaseArchive": "engine.similar.archive",
    "add_to_user_index": "engine.similar.build",
    "default_user_index_dir": "engine.similar.search",
    "explain_steps": "engine.explain.heatmap",
    "Heatmap": "engine.explain.heatmap",
    "colormap_lut": "engine.explain.overlay",
    "opacity": "engine.explain.overlay",
    # labels
    "LABELS": "engine.reports.labels",
    "LABEL_NAMES": "engine.reports.labels",
    "find_label": "engine.reports.labels",
    "labels_from_mesh": "engine.reports.labels",
    # DICOM results (SR TID 1500, heatmap Segmentations)
    "save_analysis": "engine.dicom_results.save",
    "find_results": "engine.dicom_results.read",
    "read_result": "engine.dicom_results.read",
    "ResultObject": "engine.dicom_results.read",
    # PACS and triage worklist
    "PacsError": "engine.errors",
    "PacsServer": "engine.pacs.config",
    "load_servers": "engine.pacs.config",
    "StudyQuery": "engine.pacs.query",
    "StudyMatch": "engine.pacs.query",
    "find_studies": "engine.pacs",
    "retrieve_study": "engine.pacs",
    "send_analysis": "engine.pacs",
    "TriageRow": "engine.triage",
    "read_worklist": "engine.triage",
    # resources
    "bundled_pack_dir": "engine.resources",
    "demo_studies_dir": "engine.resources",
    "icon_path": "engine.resources",
    # versions (cxr-lens --version, About)
    "version_info": "engine.about",
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
