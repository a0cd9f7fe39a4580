"""The label set, as data: names in model output order, MeSH-major mapping and display colours.

The mapping from Open-i MeSH-major terms is documented, term by term, in docs/LABELS.md.

``No Finding`` is derived (no other label positive or uncertain); it is never a keyword.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    """One finding the engine reports.

    Attributes
    ----------
    name
        Display name, also the key in predictions and label files.
    mesh_major
        Open-i MeSH-major term patterns that map to it, lower case, ``/``-separated
        (``"pleural effusion"``, ``"thickening/pleura"``). A term matches a pattern when the
        term's leading components equal the pattern's (``"Thickening/pleura/apex/left"`` matches
        ``"thickening/pleura"``; ``"Thickening/bronchovascular"`` does not). docs/LABELS.md gives
        the reasons for each entry and for the terms left out.
    colour
        ``#rrggbb`` used for evidence highlighting and overlays.
    mesh_exclude
        Patterns that veto a match of ``mesh_major`` (``"cicatrix/pleura"`` is pleural, not lung,
        scarring).
    """

    name: str
    mesh_major: tuple[str, ...]
    colour: str
    mesh_exclude: tuple[str, ...] = ()


LABELS: tuple[Label, ...] = (
    Label("Atelectasis", ("pulmonary atelectasis",), "#e6194b"),
    Label("Cardiomegaly", ("cardiomegaly", "cardiac shadow/enlarged"), "#3cb44b"),
    Label("Effusion", ("pleural effusion", "hydropneumothorax", "hemothorax", "hemopneumothorax"), "#4363d8"),
    Label("Edema", ("pulmonary edema", "pulmonary congestion"), "#f58231"),
    Label("Pneumonia", ("pneumonia",), "#911eb4"),
    Label("Opacity", ("opacity", "airspace disease", "infiltrate", "consolidation", "density/lung",
                      "density/retrocardiac"), "#42d4f4"),
    Label("Nodule", ("nodule",), "#f032e6"),
    Label("Mass", ("mass",), "#bfef45"),
    Label("Granuloma", ("granuloma", "calcified granuloma", "granulomatous disease", "calcinosis/lung",
                        "calcinosis/lymph nodes", "calcinosis/mediastinum", "calcinosis/trachea, carina",
                        "calcinosis/right/paratracheal"), "#fabed4"),
    Label("Emphysema", ("emphysema", "pulmonary emphysema", "pulmonary disease, chronic obstructive",
                        "bullous emphysema", "blister/lung"), "#469990"),
    Label("Pneumothorax", ("pneumothorax", "hydropneumothorax", "hemopneumothorax"), "#dcbeff"),
    Label("Fracture", ("fractures, bone",), "#9a6324"),
    Label("Hernia", ("hernia, hiatal", "hernia, diaphragmatic"), "#fffac8"),
    Label("Pleural Thickening", ("thickening/pleura", "cicatrix/pleura"), "#800000"),
    Label("Fibrosis", ("pulmonary fibrosis", "fibrosis", "cicatrix"), "#aaffc3",
          mesh_exclude=("cicatrix/pleura", "cicatrix/breast", "cicatrix/ribs")),
    Label("Support Devices", ("catheters, indwelling", "implanted medical device", "medical device",
                              "tube, inserted", "stents"), "#808000"),
    Label("No Finding", (), "#ffffff"),
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


def _components(term: str) -> tuple[str, ...]:
    return tuple(" ".join(part.split()).lower() for part in term.split("/"))


def _matches(term: tuple[str, ...], patterns: tuple[str, ...]) -> bool:
    return any(term[:len(p)] == p for p in map(_components, patterns))


def labels_from_mesh(terms: Iterable[str]) -> frozenset[str]:
    """Return the label names that Open-i MeSH-major ``terms`` map to.

    ``No Finding`` is included exactly when no finding label is (it is derived, like the
    labeler's); terms that map to nothing (``"normal"``, ``"Spine/degenerative"``, …) add nothing.

    Parameters
    ----------
    terms
        MeSH-major terms as written in the report XML, e.g. ``"Pleural Effusion/right/small"``.
    """
    found = set()
    for term in map(_components, terms):
        for label in LABELS:
            if label.mesh_major and _matches(term, label.mesh_major) and not _matches(term, label.mesh_exclude):
                found.add(label.name)
    if not found:
        found.add(NO_FINDING)
    return frozenset(found)
