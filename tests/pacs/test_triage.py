"""Triage worklist: tiers, urgency score, reasons, and worklist.csv from a real scan."""
from __future__ import annotations

import csv
import json

import pytest

from engine.errors import EngineError
from engine.triage import TriagePolicy, read_worklist, triage_record, triage_records, write_worklist


def _record(study, findings, status="pass", issues=(), path=None):
    return {"path": path or f"/x/{study}.dcm", "study_uid": study, "mode": "none" if status == "refuse" else "image",
            "findings": [{"name": n, "probability": p, "threshold": t, "positive": p >= t} for n, p, t in findings],
            "gate": {"status": status, "issues": [{"code": c, "message": m} for c, m in issues]}}


def test_urgent_finding_outranks_review_and_routine_and_says_why():
    rows = triage_records([
        _record("1.1", [("Cardiomegaly", 0.9, 0.5), ("Pneumothorax", 0.1, 0.4)]),  # positive, low weight
        _record("1.2", [("Pneumothorax", 0.8, 0.4)]),
        _record("1.3", [("Pneumothorax", 0.3, 0.4), ("Effusion", 0.2, 0.5)]),
    ])
    assert [(r.study_uid, r.tier) for r in rows] == [("1.2", "urgent"), ("1.1", "review"), ("1.3", "routine")]
    assert rows[0].urgency == pytest.approx(0.8)
    assert "Pneumothorax 0.80 (threshold 0.40)" in rows[0].reason
    assert rows[2].urgency == pytest.approx(0.3)  # 1.0 x 0.3 beats 0.6 x 0.2
    assert "highest Pneumothorax 0.30" in rows[2].reason


def test_refused_warned_and_failed_images_are_never_routine():
    refused = triage_record(_record("2.1", [], status="refuse", issues=[("lateral", "a lateral view")]))
    warned = triage_record(_record("2.2", [("Pneumothorax", 0.9, 0.5)], status="warn", issues=[("ood", "unusual")]))
    failed = triage_record({"path": "/x/broken.dcm", "error": "not a DICOM file"})
    assert (refused.tier, warned.tier, failed.tier) == ("review", "review", "review")
    assert "gate refused (a lateral view)" in refused.reason and "read manually" in refused.reason
    assert "Pneumothorax 0.90 (threshold 0.50); gate warned (ood)" in warned.reason  # listed, not urgent
    assert "could not be analysed: not a DICOM file" in failed.reason


def test_a_study_takes_its_most_urgent_image_and_counts_its_images():
    rows = triage_records([_record("3.1", [("Effusion", 0.2, 0.5)], path="/a"),
                           _record("3.1", [("Effusion", 0.7, 0.5)], path="/b")])
    assert len(rows) == 1 and rows[0].images == 2 and rows[0].path == "/b" and rows[0].tier == "urgent"


def test_weights_are_configurable(tmp_path):
    policy_file = tmp_path / "weights.json"
    policy_file.write_text(json.dumps({"weights": {"Cardiomegaly": 0.9}, "urgent_weight": 0.8}))
    policy = TriagePolicy.from_json(policy_file)
    row = triage_record(_record("4.1", [("Cardiomegaly", 0.9, 0.5), ("Pneumothorax", 0.9, 0.4)]), policy)
    assert row.tier == "urgent" and row.urgency == pytest.approx(0.81) and "Pneumothorax" not in row.reason
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(EngineError, match="bad.json: cannot read the triage weights"):
        TriagePolicy.from_json(tmp_path / "bad.json")


def test_scan_writes_worklist_csv_per_study(tiny_pack_dir, tmp_path):
    from engine.resources import demo_studies_dir
    from engine.scan import scan_folder

    out = tmp_path / "scan"
    list(scan_folder(demo_studies_dir(), out, tiny_pack_dir))
    rows = read_worklist(out / "worklist.csv")
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == len({r["study_uid"] for r in results}) == 4
    assert sum(r.images for r in rows) == len(results) == 6
    assert [r.sort_key() for r in rows] == sorted(r.sort_key() for r in rows)
    assert all(r.reason for r in rows)
    with open(out / "worklist.csv") as handle:
        assert [int(r["rank"]) for r in csv.DictReader(handle)] == [1, 2, 3, 4]
    # written again from the same folder, it is the same list
    assert read_worklist(write_worklist(out)) == rows
