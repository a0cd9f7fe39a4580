"""The label set, as data: names in model output order, MeSH-major mapping and display colours.

``No Finding`` is derived (no other label positive or uncertain); it is never a keyword.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    """One finding the engine reports.

    Attributes
    ----------
    name
        Display name, also the key in predictions and label files.
    mesh_major
        Open-i MeSH-major headings (the part before the first ``/``, lower case) that map to it.
    colour
        ``#rrggbb`` used for evidence highlighting and overlays.
    """

    name: str
    mesh_major: tuple[str, ...]
    colour: str


LABELS: tuple[Label, ...] = (
    Label("Atelectasis", ("pulmonary atelectasis",), "#e6194b"),
    Label("Cardiomegaly", ("cardiomegaly",), "#3cb44b"),
    Label("Effusion", ("pleural effusion",), "#4363d8"),
    Label("Edema", ("pulmonary edema",), "#f58231"),
    Label("Pneumonia", ("pneumonia",), "#911eb4"),
    Label("Opacity", ("opacity", "airspace disease", "infiltrate", "consolidation", "density"), "#42d4f4"),
    Label("Nodule", ("nodule", "pulmonary nodule"), "#f032e6"),
    Label("Mass", ("mass",), "#bfef45"),
    Label("Granuloma", ("granuloma", "calcified granuloma", "calcinosis"), "#fabed4"),
    Label("Emphysema", ("emphysema", "pulmonary emphysema", "pulmonary disease, chronic obstructive"), "#469990"),
    Label("Pneumothorax", ("pneumothorax",), "#dcbeff"),
    Label("Fracture", ("fractures, bone",), "#9a6324"),
    Label("Hernia", ("hernia, hiatal", "hernia"), "#fffac8"),
    Label("Pleural Thickening", ("pleural effusion",), "#800000"),
    Label("Fibrosis", ("pulmonary fibrosis", "cicatrix"), "#aaffc3"),
    Label("Support Devices", ("medical device", "catheters, indwelling", "implanted medical device", "tube, inserted"), "#808000"),
    Label("No Finding", ("normal",), "#ffffff"),
)

LABEL_NAMES: tuple[str, ...] = tuple(label.name for label in LABELS)
FINDING_NAMES: tuple[str, ...] = tuple(n for n in LABEL_NAMES if n != "No Finding")
NO_FINDING = "No Finding"


def find_label(name: str) -> Label:
    """Return the label whose name matches ``name`` ignoring case, spaces, ``_`` and ``-``.

    Raises
    ------
    KeyError
        With the list of valid names, when nothing matches.
    """
    def key(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    for label in LABELS:
        if key(label.name) == key(name):
            return label
    raise KeyError(f"unknown label {name!r}; valid labels: {', '.join(LABEL_NAMES)}")
