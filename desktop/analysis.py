"""Qt-free logic behind the AI panels: ordering findings and comparing a draft with the image.

Works on the engine's result objects (``engine.Prediction`` with its ``findings`` and ``gate``,
``engine.ReportLabels`` with ``labels`` and ``evidence``) by attribute, so it stays testable.
"""
from __future__ import annotations

from dataclasses import dataclass

NO_FINDING = "No Finding"


def sorted_findings(findings) -> list:
    """Positive findings first, then by probability (highest first); ties keep pack order."""
    order = {f.name: i for i, f in enumerate(findings)}
    return sorted(findings, key=lambda f: (not f.positive, -f.probability, order[f.name]))


def gate_summary(gate) -> tuple[str, str]:
    """Return ``(level, text)`` for the gate banner: level is ``ok``, ``warn`` or ``refuse``."""
    if gate is None:
        return "ok", "No image checked"
    status = gate.status
    messages = [issue.message for issue in gate.issues]
    if status == "refuse":
        return "refuse", "Image refused — no image findings are shown.\n" + "\n".join(f"• {m}" for m in messages)
    if status == "warn":
        return "warn", "Interpret with caution:\n" + "\n".join(f"• {m}" for m in messages)
    return "ok", "Input check passed: frontal chest radiograph"


@dataclass(frozen=True)
class Disagreement:
    """Where the report text and the image model differ about one label.

    Attributes
    ----------
    label
        The finding.
    report_status
        ``positive``, ``negative``, ``uncertain`` or ``not mentioned``.
    probability, threshold
        The image model's calibrated probability and the pack's threshold for image-only input.
    evidence
        The report's words about the label (empty when not mentioned).
    """

    label: str
    report_status: str
    probability: float
    threshold: float
    evidence: str = ""

    @property
    def image_positive(self) -> bool:
        """Whether the image model calls the finding present."""
        return self.probability >= self.threshold

    def sentence(self) -> str:
        """A line for the consistency view."""
        image = f"the image model gives {self.label.lower()} {self.probability:.2f} " \
                f"({'≥' if self.image_positive else '<'} threshold {self.threshold:.2f})"
        quoted = f" (“{self.evidence}”)" if self.evidence else ""
        if self.report_status == "negative":
            return f"The draft says no {self.label.lower()}{quoted}, but {image}."
        if self.report_status == "not mentioned":
            return f"The draft does not mention {self.label.lower()}, but {image}."
        if self.report_status == "uncertain":
            return f"The draft is uncertain about {self.label.lower()}{quoted}; {image}."
        return f"The draft reports {self.label.lower()}{quoted}, but {image}."


def consistency(report_labels, image_prediction) -> list[Disagreement]:
    """Compare a report's labels with an image-only prediction; biggest disagreements first.

    A label disagrees when the report calls it positive and the image model does not, or the
    report denies or omits it and the image model calls it positive. An uncertain mention is
    listed when the image model is positive (the reader may want to commit either way).
    ``No Finding`` is left out: it is derived from the others on both sides.
    """
    if image_prediction is None or not image_prediction.findings:
        return []
    evidence = {}
    for item in report_labels.evidence:
        evidence.setdefault(item.label, item.sentence.strip() if len(item.sentence) < 90 else item.text)
    result = []
    for finding in image_prediction.findings:
        if finding.name == NO_FINDING:
            continue
        status = report_labels.labels.get(finding.name, "not mentioned")
        if status == "positive":
            disagree = not finding.positive
        else:
            disagree = finding.positive
        if disagree:
            result.append(Disagreement(finding.name, status, finding.probability, finding.threshold,
                                       evidence.get(finding.name, "")))
    result.sort(key=lambda d: -abs(d.probability - d.threshold))
    return result
