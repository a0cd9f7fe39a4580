"""Turn a report's labels and evidence sentences into finding specs (side, zone, severity).

"small left pleural effusion" -> Effusion on the left, base, subtle; "bilateral lower lobe
airspace disease" -> Opacity on both sides, lower zone. Words nearest the mention win when a
sentence names several sides ("right effusion and left atelectasis").
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from training.synth.context import FindingSpec
from training.synth.study import SUPPORTED

_SIDE_WORDS = [
    (re.compile(r"\b(bilateral(ly)?|both|bibasilar|bibasal|biapical)\b"), ("right", "left")),
    (re.compile(r"\b(left|lingula[r]?|l)\b"), ("left",)),
    (re.compile(r"\b(right|r)\b"), ("right",)),
]
_ZONE_WORDS = [
    (re.compile(r"\b(apex|apices|apical|biapical)\b"), "apex"),
    (re.compile(r"\b(upper|superior)\b"), "upper"),
    (re.compile(r"\b(retrocardiac)\b"), "retrocardiac"),
    (re.compile(r"\b(perihilar|hilar|hilum|hila)\b"), "hilar"),
    (re.compile(r"\b(mid|middle|lingula[r]?)\b"), "mid"),
    (re.compile(r"\b(base|bases|basilar|basal|bibasilar|lower|costophrenic|inferior)\b"), "lower"),
]
_SEVERITY_WORDS = [
    (re.compile(r"\b(tiny|trace|minimal|subtle|slight|minor|faint|small|mild|mildly|borderline)\b"),
     (0.05, 0.4)),
    (re.compile(r"\b(moderate|moderately)\b"), (0.4, 0.7)),
    (re.compile(r"\b(large|severe|marked|markedly|massive|extensive|significant|prominent|dense)\b"),
     (0.7, 1.0)),
]
# findings that are bilateral unless the report names a side
_BILATERAL = {"Edema", "Emphysema", "Cardiomegaly", "Hernia", "Support Devices"}


@dataclass(frozen=True)
class Mention:
    """The text a label came from: its sentence and the mention's offset inside it."""

    label: str
    status: str
    sentence: str
    offset: int


def mentions_from_evidence(evidence) -> list[Mention]:
    """Convert ``engine.reports.labeler.Evidence`` items (or their dicts) to :class:`Mention` s."""
    out = []
    for ev in evidence:
        get = ev.get if isinstance(ev, dict) else lambda k, e=ev: getattr(e, k)
        offset = max(int(get("start")) - int(get("sentence_start")), 0)
        out.append(Mention(get("label"), get("status"), get("sentence") or "", offset))
    return out


def _nearest(sentence: str, offset: int, table):
    """Value of the table entry whose match lies nearest to ``offset`` in ``sentence``."""
    best, best_dist = None, None
    for pattern, value in table:
        for m in pattern.finditer(sentence):
            dist = 0 if m.start() <= offset < m.end() else min(abs(m.start() - offset), abs(m.end() - offset))
            if best_dist is None or dist < best_dist:
                best, best_dist = value, dist
    return best


def parse_location(sentence: str, offset: int = 0) -> tuple[tuple[str, ...], str | None, tuple[float, float] | None]:
    """Return (sides, zone, severity range) named in ``sentence`` near character ``offset``."""
    text = sentence.lower()
    sides = _nearest(text, offset, _SIDE_WORDS) or ()
    zone = _nearest(text, offset, _ZONE_WORDS)
    severity = _nearest(text, offset, _SEVERITY_WORDS)
    return tuple(sides), zone, severity


def specs_for_report(labels: dict[str, str], mentions: list[Mention], rng: np.random.Generator,
                     uncertain_draw_p: float = 0.5, severity_floor: float = 0.0) -> list[FindingSpec]:
    """Finding specs to draw for a report.

    Parameters
    ----------
    labels
        ``{label: "positive" | "negative" | "uncertain"}`` from the labeler.
    mentions
        The evidence mentions (for side, zone, severity and device words).
    rng
        Decides severities when the text gives none, and whether an uncertain finding is drawn.
    uncertain_draw_p
        Probability that an *uncertain* finding is drawn (then subtle: severity <= 0.4).
    severity_floor
        Maps every drawn severity ``s`` to ``floor + (1 - floor) * s``: 0 keeps the report-driven
        range (subtle findings stay subtle); e.g. 0.35 makes every finding larger and denser, for a
        data set that small from-scratch models can learn.
    """
    specs = []
    for label in SUPPORTED:
        status = labels.get(label)
        if status not in ("positive", "uncertain"):
            continue
        if status == "uncertain" and rng.random() >= uncertain_draw_p:
            continue
        own = [m for m in mentions if m.label == label and m.status == status] or \
              [m for m in mentions if m.label == label]
        sides, zone, sev_range = (), None, None
        for m in own:
            s, z, r = parse_location(m.sentence, m.offset)
            sides = tuple(sorted(set(sides) | set(s), reverse=True))
            zone = zone or z
            sev_range = sev_range or r
        if not sides and label in _BILATERAL:
            sides = ("right", "left")
        lo, hi = sev_range or (0.15, 0.95)
        if status == "uncertain":
            lo, hi = min(lo, 0.05), min(hi, 0.4)
        words = " ".join(m.sentence.lower() for m in own)
        severity = float(rng.uniform(lo, hi))
        specs.append(FindingSpec(label, sides, zone, severity_floor + (1.0 - severity_floor) * severity, words))
    return specs


def random_specs(rng: np.random.Generator, prevalence: float = 0.15,
                 labels: tuple[str, ...] = SUPPORTED) -> list[FindingSpec]:
    """Independent random findings (each present with ``prevalence``), random side, zone, severity.

    Used by the bench and tests to sample the synthesizer without reports.
    """
    specs = []
    for label in labels:
        if rng.random() >= prevalence:
            continue
        side = rng.choice(["right", "left", "both"])
        sides = ("right", "left") if side == "both" or label in _BILATERAL else (str(side),)
        zone = rng.choice([None, "upper", "mid", "lower"])
        specs.append(FindingSpec(label, sides, None if zone is None else str(zone), float(rng.uniform(0.0, 1.0))))
    return specs
