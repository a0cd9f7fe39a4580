"""Triage worklist: studies ordered by how soon a reader should look at them.

The urgency of an image is ``max over weighted findings of weight × p``, where ``p`` is the pack's
*calibrated* probability of the finding (temperature-scaled, as in scan results) and ``weight`` says
how much a missed finding costs time (default :data:`DEFAULT_WEIGHTS`: pneumothorax 1.0, effusion
and edema 0.6, pneumonia 0.5, …; configurable). Every image also gets a tier, and the tier decides
first, the score within a tier:

1. ``urgent`` — the gate passed the image and a finding with weight ≥ ``urgent_weight`` (default
   0.5) is positive (``p`` at or above its calibrated threshold);
2. ``review`` — another weighted finding is positive, or the gate refused or warned, or the file
   could not be analysed. A refused or warned image is never ranked as normal, and its findings
   (listed in the reason) do not make a study urgent either: the model cannot vouch for them
   (the bundled pack, for example, warns on every lateral view and calls effusions on some);
3. ``routine`` — the gate passed and no weighted finding is positive.

A study takes its most urgent image (tier first, then score). Each row carries a reason in words.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import EngineError

WORKLIST = "worklist.csv"
TIERS = ("urgent", "review", "routine")
DEFAULT_WEIGHTS = {
    "Pneumothorax": 1.0, "Effusion": 0.6, "Edema": 0.6, "Pneumonia": 0.5, "Mass": 0.4, "Opacity": 0.3,
    "Fracture": 0.3, "Atelectasis": 0.2, "Cardiomegaly": 0.2, "Nodule": 0.2,
}


@dataclass(frozen=True)
class TriagePolicy:
    """Weights (finding name -> weight in [0, 1]) and the weight from which a positive finding is urgent."""

    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    urgent_weight: float = 0.5

    @classmethod
    def from_json(cls, path: str | Path) -> TriagePolicy:
        """Read ``{"weights": {name: w}, "urgent_weight": x}`` (either key optional)."""
        try:
            data = json.loads(Path(path).read_text())
            weights = {str(k): float(v) for k, v in data.get("weights", DEFAULT_WEIGHTS).items()}
            return cls(weights, float(data.get("urgent_weight", 0.5)))
        except (OSError, ValueError, AttributeError, TypeError) as error:
            raise EngineError(f"cannot read the triage weights ({error})", path=path,
                              hint='write JSON like {"weights": {"Pneumothorax": 1.0}, "urgent_weight": 0.5}') from error


@dataclass(frozen=True)
class TriageRow:
    """One worklist row (a study, or an image when it has no Study Instance UID)."""

    study_uid: str
    tier: str
    urgency: float
    gate: str
    reason: str
    images: int
    path: str

    def sort_key(self) -> tuple:
        return TIERS.index(self.tier), -self.urgency, self.path


def triage_record(record: dict, policy: TriagePolicy = TriagePolicy()) -> TriageRow:
    """Triage one scan record (a ``results.jsonl`` line, or an ``errors.jsonl`` line with ``error``)."""
    path, study = str(record.get("path", "")), str(record.get("study_uid") or "")
    if "error" in record:
        return TriageRow(study, "review", 0.0, "", f"could not be analysed: {record['error']} — read manually",
                         1, path)
    gate = record.get("gate") or {}
    status = gate.get("status", "pass")
    scored = sorted(((policy.weights[f["name"]] * f["probability"], f) for f in record.get("findings", [])
                     if f["name"] in policy.weights), key=lambda item: -item[0])
    positive = [(score, f) for score, f in scored if f.get("positive")]
    urgency = round(scored[0][0], 4) if scored else 0.0
    words = [f"{f['name']} {f['probability']:.2f} (threshold {f['threshold']:.2f})" for _, f in positive]
    if status == "pass" and any(policy.weights[f["name"]] >= policy.urgent_weight for _, f in positive):
        tier = "urgent"
    elif positive or status in ("warn", "refuse"):
        tier = "review"
    else:
        tier = "routine"
    if status == "refuse":
        problems = "; ".join(i.get("message") or i.get("code", "") for i in gate.get("issues", []))
        words = [f"gate refused ({problems or 'not a readable chest radiograph'}) — findings withheld, read manually"]
    elif status == "warn":
        problems = "; ".join(i.get("code", "") for i in gate.get("issues", []))
        words.append(f"gate warned ({problems}) — the model may be unreliable here")
    if not words:
        top = scored[0][1] if scored else None
        words = [f"no weighted finding positive (highest {top['name']} {top['probability']:.2f})" if top
                 else "no weighted finding positive"]
    return TriageRow(study, tier, urgency, status, "; ".join(words), 1, path)


def triage_records(records: list[dict], policy: TriagePolicy = TriagePolicy()) -> list[TriageRow]:
    """Rows per study (its most urgent image; images without a study UID stand alone), most urgent first."""
    best: dict[str, TriageRow] = {}
    counts: dict[str, int] = {}
    for record in records:
        row = triage_record(record, policy)
        key = row.study_uid or row.path
        counts[key] = counts.get(key, 0) + 1
        if key not in best or row.sort_key() < best[key].sort_key():
            best[key] = row
    rows = [TriageRow(r.study_uid, r.tier, r.urgency, r.gate, r.reason, counts[k], r.path) for k, r in best.items()]
    return sorted(rows, key=TriageRow.sort_key)


def read_scan_records(out_dirs) -> list[dict]:
    """Records of ``results.jsonl`` and ``errors.jsonl`` in each scan output folder (bad lines skipped)."""
    records = []
    for folder in out_dirs:
        for name in ("results.jsonl", "errors.jsonl"):
            path = Path(folder) / name
            for line in path.read_text().splitlines() if path.exists() else []:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return records


def write_worklist(out_dir: str | Path, scan_dirs=None, policy: TriagePolicy = TriagePolicy(),
                   extra_records=()) -> Path:
    """Write ``OUT/worklist.csv`` (rank, study, tier, urgency, gate, reason, images, path) from scan results.

    ``scan_dirs`` are the scan output folders to read (default: ``out_dir`` itself);
    ``extra_records`` are more records, e.g. ``{"study_uid", "path", "error"}`` for a study that
    could not be retrieved (it is listed for review, never dropped).
    """
    out_dir = Path(out_dir)
    rows = triage_records(read_scan_records(scan_dirs or [out_dir]) + list(extra_records), policy)
    target = out_dir / WORKLIST
    with open(target, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rank", "study_uid", "tier", "urgency", "gate", "reason", "images", "path"])
        for rank, row in enumerate(rows, start=1):
            writer.writerow([rank, row.study_uid, row.tier, f"{row.urgency:.4f}", row.gate, row.reason,
                             row.images, row.path])
    return target


def read_worklist(path: str | Path) -> list[TriageRow]:
    """Read a ``worklist.csv`` back into rows (in file order)."""
    with open(path, newline="") as handle:
        return [TriageRow(r["study_uid"], r["tier"], float(r["urgency"]), r["gate"], r["reason"], int(r["images"]),
                          r["path"]) for r in csv.DictReader(handle)]
