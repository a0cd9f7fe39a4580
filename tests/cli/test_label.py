"""``cxr-lens label``: --text, .jsonl, XML folder with a broken file, exit codes."""
from __future__ import annotations

import json

from cxr_lens.cli import main


def _xml(uid: str, findings: str) -> str:
    return (f'<eCitation><uId id="{uid}"/><Abstract><AbstractText Label="INDICATION">pneumonia</AbstractText>'
            f'<AbstractText Label="FINDINGS">{findings}</AbstractText></Abstract></eCitation>')


def test_text_prints_one_json_document(capsys):
    assert main(["label", "--text", "No pneumothorax. Possible left effusion."]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["labels"] == {"Effusion": "uncertain", "Pneumothorax": "negative"}
    assert {e["label"] for e in doc["evidence"]} == {"Effusion", "Pneumothorax"}


def test_jsonl_with_a_bad_line(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "FINDINGS: Large right pneumothorax."}\nnot json\n'
                      '{"id": "b", "text": "IMPRESSION: Normal chest."}\n{"id": "c"}\n')
    out = tmp_path / "out.jsonl"
    assert main(["label", str(source), "--out", str(out)]) == 3  # some lines failed, rest labelled
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(x["id"], x["labels"]) for x in lines] == [("a", {"Pneumothorax": "positive"}),
                                                      ("b", {"No Finding": "positive"})]


def test_xml_folder_ignores_indication_and_skips_broken_files(tmp_path):
    folder = tmp_path / "xml"
    folder.mkdir()
    (folder / "1.xml").write_text(_xml("CXR1", "Small hiatal hernia."))
    (folder / "2.xml").write_text("<eCitation><broken")
    out = tmp_path / "out.jsonl"
    assert main(["label", str(folder), "--out", str(out)]) == 3
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert line["id"] == "CXR1" and line["labels"] == {"Hernia": "positive"}
    assert line["evidence"][0]["section"] == "findings"


def test_usage_and_unreadable_input(tmp_path):
    assert main(["label"]) == 1
    assert main(["label", str(tmp_path / "absent.tgz"), "--out", str(tmp_path / "o.jsonl")]) == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["label", str(empty), "--out", str(tmp_path / "o.jsonl")]) == 2
