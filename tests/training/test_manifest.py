"""``python -m training manifest``: every format on small generated sets with the real sets' headers and faults."""
from __future__ import annotations

import csv
import gzip
import json

import numpy as np
import pytest

from engine.reports.labels import LABEL_NAMES
from tests.training.datasets import draw_film, write_chexpert, write_dicom_archive, write_mimic, write_nih
from tests.training.test_openi import _report_xml
from training.__main__ import main


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def _summary(path):
    return json.loads(path.with_name(path.stem + ".summary.json").read_text())


def test_nih14_maps_labels_skips_bad_rows_and_splits_by_patient(tmp_path, capsys):
    data = write_nih(tmp_path / "nih")
    out = tmp_path / "m" / "manifest.csv"
    assert main(["manifest", "--format", "nih14", "--labels", str(data["labels"]), "--images", str(data["images"]),
                 "--out", str(out), "--split-by", "patient", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "NIH ChestX-ray14: 40 images, 20 patients" in printed and "skipped rows: 3" in printed
    rows = _rows(out)
    assert len(rows) == 40
    summary = _summary(out)
    assert summary["skipped_by_reason"] == {"missing file": 1, "lateral view (packs read frontal views)": 1,
                                            "unreadable image": 1}
    by_name = {r["Image Index"]: r for r in data["rows"][:40]}
    for name, row in rows.items():
        found = by_name[name]["Finding Labels"]
        assert row["Cardiomegaly"] == str(int("Cardiomegaly" in found))
        assert row["Opacity"] == str(int("Infiltration" in found))        # Infiltration -> Opacity
        assert row["No Finding"] == str(int(found == "No Finding"))
        assert row["Granuloma"] == row["Fracture"] == row["Support Devices"] == ""   # NIH lacks them: missing
        assert row["view"] in ("PA", "AP") and row["source"] == "NIH ChestX-ray14"
    splits = {}
    for row in rows.values():
        assert splits.setdefault(row["patient_id"], row["split"]) == row["split"]   # one split per patient
    assert set(splits.values()) == {"train", "val", "test"}
    assert summary["labels"]["Granuloma"] == {"positive": 0, "negative": 0, "missing": 40}
    again = tmp_path / "again.csv"
    main(["manifest", "--format", "nih14", "--labels", str(data["labels"]), "--images", str(data["images"]),
          "--out", str(again), "--seed", "3"])
    assert {k: r["split"] for k, r in _rows(again).items()} == {k: r["split"] for k, r in rows.items()}


def test_nih14_official_split_from_test_list(tmp_path, capsys):
    data = write_nih(tmp_path / "nih", faults=False)
    tests = [r["Image Index"] for r in data["rows"] if int(r["Patient ID"]) > 16]
    (data["labels"].parent / "test_list.txt").write_text("\n".join(tests) + "\n")
    out = tmp_path / "manifest.csv"
    assert main(["manifest", "--format", "nih14", "--labels", str(data["labels"]), "--images", str(data["images"]),
                 "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["split_by"] == "official" and summary["splits"]["test"]["images"] == len(tests) == 8
    assert summary["splits"]["val"]["images"] > 0
    assert {r["split"] for r in _rows(out).values() if r["id"] in tests} == {"test"}


@pytest.mark.parametrize("policy, expected", [("positive", "1"), ("negative", "0"), ("ignore", "")])
def test_chexpert_uncertain_policy_blanks_and_parent_labels(tmp_path, policy, expected):
    data = write_chexpert(tmp_path / "cx")
    out = tmp_path / "manifest.csv"
    assert main(["manifest", "--format", "chexpert", "--labels", *map(str, data["labels"]),
                 "--images", str(data["images"]), "--out", str(out), "--uncertain", policy]) == 0
    rows, source = _rows(out), {r["Path"]: r for r in data["rows"]}
    assert len(rows) == 40
    uncertain = [k for k, r in rows.items() if source[k]["Pleural Effusion"] == "-1.0"]
    assert uncertain and {rows[k]["Effusion"] for k in uncertain} == {expected}
    for key, row in rows.items():
        raw = source[key]
        assert row["Cardiomegaly"] == ("1" if raw["Cardiomegaly"] == "1.0" else "0")      # blank = not mentioned = 0
        assert row["Nodule"] == row["Mass"] == {"0.0": "0", "": "0", "1.0": ""}[raw["Lung Lesion"]]
        assert row["Emphysema"] == ""                                                     # CheXpert has no such label
        if raw["Support Devices"] == "1.0":
            assert row["Support Devices"] == "1" and row["No Finding"] == "0"
    summary = _summary(out)
    assert summary["skipped_by_reason"] == {"lateral view (packs read frontal views)": 1, "missing file": 1}
    assert summary["split_by"] == "official" and summary["splits"]["test"]["images"] == 6
    assert {r["split"] for r in rows.values() if "/valid/" in r["id"]} == {"test"}


def test_mimic_joins_tables_reports_and_official_split(tmp_path):
    data = write_mimic(tmp_path / "mimic")
    out = tmp_path / "manifest.csv"
    assert main(["manifest", "--format", "mimic-cxr-jpg", "--labels", str(data["labels"]), "--images",
                 str(data["images"]), "--reports", str(data["reports"]), "--out", str(out),
                 "--metadata", str(data["metadata"]), "--split-by", "official"]) == 0
    rows = _rows(out)
    summary = _summary(out)
    assert len(rows) == 29 and summary["skipped_by_reason"]["lateral view (packs read frontal views)"] == 30
    assert summary["skipped_by_reason"]["missing file"] == 1
    assert {r["split"] for r in rows.values()} == {"train", "val", "test"} and summary["split_by"] == "official"
    assert summary["with_report"] == 28 and "1 images have no report file" in summary["notes"][0]
    with_report = next(r for r in rows.values() if r["report_path"])
    assert "FINDINGS" in open(with_report["report_path"]).read() and with_report["view"] in ("PA", "AP")


def test_openi_reports_with_user_images(tmp_path):
    folder, images = tmp_path / "xml", tmp_path / "png"
    folder.mkdir()
    rng = np.random.default_rng(0)
    with gzip.open(folder / "nlmcxr_dicom_metadata.csv.gz", "wt", newline="") as handle:
        handle.write("imageid,Rows,View Position\n")
        for i in range(6):
            handle.write(f"CXR{i}_IM-0001-1001,2048,PA\nCXR{i}_IM-0001-2001,2048,LL\n")
    for i in range(6):
        major = ("Cardiomegaly/mild",) if i % 2 else ("normal",)
        (folder / f"{i}.xml").write_bytes(_report_xml(f"CXR{i}", {"FINDINGS": "Heart is enlarged." if i % 2 else "Clear."},
                                                       major=major, images=(f"CXR{i}_IM-0001-1001", f"CXR{i}_IM-0001-2001")))
        if i != 4:
            images.mkdir(exist_ok=True)
            from PIL import Image
            Image.fromarray(draw_film(rng, 32, bool(i % 2), False)).save(images / f"CXR{i}_IM-0001-1001.png")
    out = tmp_path / "manifest.csv"
    assert main(["manifest", "--format", "openi", "--labels", str(folder), "--images", str(images),
                 "--out", str(out)]) == 0
    rows = _rows(out)
    assert len(rows) == 5 and rows["CXR1_IM-0001-1001"]["Cardiomegaly"] == "1"
    assert rows["CXR2_IM-0001-1001"]["No Finding"] == "1" and rows["CXR2_IM-0001-1001"]["Effusion"] == "0"
    assert "FINDINGS: Heart is enlarged." in rows["CXR1_IM-0001-1001"]["report"]
    assert _summary(out)["skipped_by_reason"] == {"lateral view (packs read frontal views)": 6, "missing file": 1}


def test_dicom_folder_reports_beside_in_sr_or_none(tmp_path):
    data = write_dicom_archive(tmp_path / "archive")
    out = tmp_path / "manifest.csv"
    assert main(["manifest", "--format", "dicom", "--images", str(data["images"]), "--out", str(out),
                 "--uncertain", "negative"]) == 0
    rows = list(_rows(out).values())
    assert len(rows) == 6 and _summary(out)["skipped_by_reason"] == {"lateral view (packs read frontal views)": 1}
    for row in rows:
        text, cardio, effusion = data["studies"][row["study_id"]]
        if text:
            assert row["Cardiomegaly"] == str(int(cardio)) and row["Effusion"] == str(int(effusion))
            assert row["Pneumothorax"] == "0" and "pleural effusion" in row["report"].lower()
        else:
            assert all(row[name] == "" for name in LABEL_NAMES)   # no report: every label missing
    assert sum(bool(r["report"]) for r in rows) == 4   # 2 studies with report.txt, 2 with an SR, 2 without


def test_usage_and_input_errors(tmp_path):
    assert main(["manifest", "--format", "nih14", "--images", str(tmp_path), "--out", str(tmp_path / "m.csv")]) == 1
    assert main(["manifest", "--format", "nih14", "--labels", str(tmp_path / "none.csv"), "--images", str(tmp_path),
                 "--out", str(tmp_path / "m.csv")]) == 2
    chexpert = write_chexpert(tmp_path / "cx", n=10)         # the wrong format for these files
    assert main(["manifest", "--format", "nih14", "--labels", str(chexpert["labels"][0]), "--images",
                 str(chexpert["images"]), "--out", str(tmp_path / "m.csv")]) == 2
    assert not (tmp_path / "m.csv").exists()


def test_read_records_keeps_missing_labels_as_nan(tmp_path):
    from training.dataset import read_records

    data = write_nih(tmp_path / "nih", n=6, faults=False)
    out = tmp_path / "manifest.csv"
    main(["manifest", "--format", "nih14", "--labels", str(data["labels"]), "--images", str(data["images"]),
          "--out", str(out)])
    records = read_records(out)
    fracture = LABEL_NAMES.index("Fracture")
    assert len(records) == 6 and all(np.isnan(r.labels[fracture]) for r in records)
    assert all(not np.isnan(r.labels[LABEL_NAMES.index("Cardiomegaly")]) for r in records)
