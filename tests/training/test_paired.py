"""The paired-set builder on a few made-up Open-i-style reports (not Open-i text)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from engine.reports.labels import LABEL_NAMES
from training.paired import assign_splits, build_paired, study_seed
from training.synth.dicom_out import load_masks

REPORTS = {
    "CXR901": ("Moderate left pleural effusion. No pneumothorax.", "Left effusion.",
               ("CXR901_IM-9001-1001", "CXR901_IM-9001-2001")),
    "CXR902": ("Heart size and lungs are normal. No effusion.", "No acute disease.", ("CXR902_IM-9002-1001",)),
    "CXR903": ("There is a 2 cm nodule in the right upper lobe.", "Right upper lobe nodule.",
               ("CXR903_IM-9003-1001", "CXR903_IM-9003-2001")),
}


def _xml(uid: str, findings: str, impression: str, images) -> str:
    parents = "".join(f'<parentImage id="{i}"/>' for i in images)
    return (f'<?xml version="1.0"?><eCitation><uId id="{uid}"/><MedlineCitation><Article><Abstract>'
            f'<AbstractText Label="FINDINGS">{findings}</AbstractText>'
            f'<AbstractText Label="IMPRESSION">{impression}</AbstractText>'
            f'</Abstract></Article></MedlineCitation><MeSH><major>normal</major></MeSH>{parents}</eCitation>')


@pytest.fixture()
def reports_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    for n, (uid, (findings, impression, images)) in enumerate(REPORTS.items()):
        (folder / f"{n}.xml").write_text(_xml(uid, findings, impression, images))
    return folder


def _build(reports: Path, out: Path, **kw) -> list[dict]:
    *_, manifest = build_paired(reports, out, size=128, workers=1, **kw)
    with open(manifest, newline="") as handle:
        return list(csv.DictReader(handle))


def test_splits_are_80_10_10_seeded_and_disjoint():
    ids = [f"CXR{i}" for i in range(1000)]
    a, b = assign_splits(ids, 3), assign_splits(list(reversed(ids)), 3)
    assert a == b
    counts = {s: sum(v == s for v in a.values()) for s in ("train", "val", "test")}
    assert counts == {"train": 800, "val": 100, "test": 100}
    assert assign_splits(ids, 4) != a
    assert study_seed(0, "CXR1") == study_seed(0, "CXR1") != study_seed(1, "CXR1")


def test_build_writes_studies_manifest_masks_and_labels(reports_dir, tmp_path):
    rows = _build(reports_dir, tmp_path / "out")
    by_id = {r["id"]: r for r in rows}
    assert len(rows) == 5          # two two-image reports (frontal + lateral), one single
    assert {r["view"] for r in rows if r["id"].endswith("2001")} == {"LL"}
    effusion_frontal = by_id["CXR901_IM-9001-1001"]
    assert effusion_frontal["Effusion"] == "1" and effusion_frontal["report_Effusion"] == "1"
    assert effusion_frontal["Pneumothorax"] == "0" and effusion_frontal["report_Pneumothorax"] == "0"
    normal = by_id["CXR902_IM-9002-1001"]
    assert normal["No Finding"] == "1" and all(normal[n] == "0" for n in LABEL_NAMES if n != "No Finding")
    for row in rows:
        ds = pydicom.dcmread(tmp_path / "out" / row["image_path"])
        assert ds.Rows == 128 and ds.ViewPosition == row["view"]
        masks = load_masks(tmp_path / "out" / row["mask_path"])
        drawn = {n for n in LABEL_NAMES if n != "No Finding" and row[n] == "1"}
        assert set(masks) == drawn and all(m.any() for m in masks.values())
    # the left effusion lies on the image's right half of the frontal view
    masks = load_masks(tmp_path / "out" / effusion_frontal["mask_path"])
    assert np.nonzero(masks["Effusion"])[1].mean() > 64
    study = pydicom.dcmread(tmp_path / "out" / effusion_frontal["image_path"])
    lateral = pydicom.dcmread(tmp_path / "out" / by_id["CXR901_IM-9001-2001"]["image_path"])
    sr = pydicom.dcmread(tmp_path / "out" / effusion_frontal["sr_path"])
    assert study.StudyInstanceUID == lateral.StudyInstanceUID == sr.StudyInstanceUID
    assert "effusion" in (tmp_path / "out" / effusion_frontal["report_path"]).read_text().lower()


def test_same_seed_same_files(reports_dir, tmp_path):
    first = _build(reports_dir, tmp_path / "a")
    second = _build(reports_dir, tmp_path / "b")
    assert first == second
    for row in first:
        assert (tmp_path / "a" / row["image_path"]).read_bytes() == (tmp_path / "b" / row["image_path"]).read_bytes()


def test_real_images_win_over_synthetic(reports_dir, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    Image.fromarray(np.full((64, 64), 128, np.uint8)).save(real / "CXR903_IM-9003-1001.png")
    rows = {r["id"]: r for r in _build(reports_dir, tmp_path / "out", images=real)}
    row = rows["CXR903_IM-9003-1001"]
    assert row["source"] == "real" and Path(row["image_path"]) == (real / "CXR903_IM-9003-1001.png").resolve()
    assert row["mask_path"] == "" and row["Nodule"] == "1"
    assert rows["CXR903_IM-9003-2001"]["source"] == "synthetic"


def test_synth_step_is_registered_and_runs(reports_dir, tmp_path):
    from training.__main__ import main

    out = tmp_path / "cli"
    code = main(["synth", "--reports", str(reports_dir), "--out", str(out), "--size", "96", "--workers", "1",
                 "--no-sr", "--limit", "2", "--severity-floor", "0.5"])
    assert code == 0
    rows = list(csv.DictReader(open(out / "manifest.csv", newline="")))
    assert {r["study_id"] for r in rows} == {"CXR901", "CXR902"} and all(r["sr_path"] == "" for r in rows)
    assert json.loads((out / "summary.json").read_text())["severity_floor"] == 0.5
    assert main(["synth", "--reports", str(tmp_path / "missing"), "--out", str(out)]) == 2


def test_out_of_range_options_are_usage_errors(tmp_path):
    from training.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["synth", "--size", "8", "--out", str(tmp_path)])
    assert exc.value.code == 1
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--severity-floor", "1.5", "--out", str(tmp_path)])
    assert exc.value.code == 1
