"""The prepare step: parse, label and split made-up reports into reports.jsonl."""
from __future__ import annotations

import json

from tests.training.test_openi import _report_xml
from training.__main__ import main as training_main


def test_prepare_labels_and_splits_every_report(tmp_path):
    folder = tmp_path / "xml"
    folder.mkdir()
    for index in range(20):
        findings = "Small left pleural effusion." if index % 2 else "No pneumothorax. Lungs are clear."
        (folder / f"{index}.xml").write_bytes(
            _report_xml(f"CXR{index}", {"FINDINGS": findings, "IMPRESSION": "As above."}))
    (folder / "broken.xml").write_text("<eCitation><oops>")
    assert training_main(["prepare", "--reports", str(folder), "--out", str(tmp_path / "out")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out" / "reports.jsonl").read_text().splitlines()]
    assert len(rows) == 20 and {row["split"] for row in rows} <= {"train", "val", "test"}
    by_id = {row["id"]: row for row in rows}
    assert by_id["CXR1"]["labels"]["Effusion"] == "positive"
    assert by_id["CXR0"]["labels"] == {"Pneumothorax": "negative", "No Finding": "positive"}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["reports"] == 20 and len(summary["parse_errors"]) == 1 and sum(summary["splits"].values()) == 20
