"""Small made-up datasets in the public sets' layouts (real headers and value conventions), for the manifest tests.

Headers follow the files the torchxrayvision 1.5.7 wheel carries (NIH ``Data_Entry_2017_v2020.csv``,
CheXpert ``train.csv``) and the MIMIC-CXR-JPG 2.0 documentation. Images are tiny films drawn here:
Cardiomegaly is a large central blob, Effusion a bright base, so a model can learn something.
Each writer adds the faults a real set has: a missing file, a lateral view, an unreadable image.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

NIH_HEADER = ["Image Index", "Finding Labels", "Follow-up #", "Patient ID", "Patient Age", "Patient Gender",
              "View Position", "OriginalImage[Width", "Height]", "OriginalImagePixelSpacing[x", "y]"]
CHEXPERT_LABELS = ["No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
                   "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
                   "Fracture", "Support Devices"]
CHEXPERT_HEADER = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA"] + CHEXPERT_LABELS


def draw_film(rng, size: int, cardio: bool, effusion: bool) -> np.ndarray:
    """A uint8 ``(size, size)`` 'chest film': lungs, a heart blob (large with cardiomegaly), a bright base with effusion."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = 0.25 + 0.04 * rng.standard_normal((size, size))
    image += 0.25 * (((xx - 0.3) ** 2 / 0.03 + (yy - 0.45) ** 2 / 0.12) < 1)
    image += 0.25 * (((xx - 0.7) ** 2 / 0.03 + (yy - 0.45) ** 2 / 0.12) < 1)
    radius = 0.2 if cardio else 0.1
    image[((yy - 0.62) ** 2 + (xx - 0.5) ** 2) < radius ** 2] += 0.35
    if effusion:
        image[int(0.8 * size):] += 0.4
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(array).save(path)
    return path


def _write_csv(path: Path, header: list[str], rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_nih(root: Path, n: int = 40, size: int = 64, seed: int = 0, faults: bool = True) -> dict:
    """NIH ChestX-ray14 layout: ``Data_Entry_2017_v2020.csv`` + ``images_001/images/*.png``.

    With ``faults``: one row whose file is missing, one lateral ("LL") row, one unreadable PNG.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        patient = i // 2 + 1
        name = f"{patient:08d}_{i % 2:03d}.png"
        cardio, effusion = rng.random() < 0.4, rng.random() < 0.4
        findings = [f for f, on in (("Cardiomegaly", cardio), ("Effusion", effusion),
                                    ("Infiltration", rng.random() < 0.2)) if on]
        _save(root / "images_001" / "images" / name, draw_film(rng, size, cardio, effusion))
        rows.append({"Image Index": name, "Finding Labels": "|".join(findings) or "No Finding", "Follow-up #": i % 2,
                     "Patient ID": patient, "Patient Age": 50, "Patient Gender": "M",
                     "View Position": "PA" if i % 3 else "AP", "OriginalImage[Width": 2048, "Height]": 2500,
                     "OriginalImagePixelSpacing[x": 0.143, "y]": 0.143})
    if faults:
        rows.append({**rows[0], "Image Index": "09999999_000.png", "Patient ID": 9999999})  # file missing
        rows.append({**rows[1], "View Position": "LL"})                                   # lateral
        (root / "images_001" / "images" / "09999998_000.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
        rows.append({**rows[2], "Image Index": "09999998_000.png", "Patient ID": 9999998})  # unreadable
    labels = _write_csv(root / "Data_Entry_2017_v2020.csv", NIH_HEADER, rows)
    return {"labels": labels, "images": root, "rows": rows}


def chexpert_row(rng, relative: str, view: str, cardio: bool, effusion: bool) -> dict:
    """One CheXpert row: 1.0 / 0.0 / -1.0 / blank cells the way the real file has them."""
    row = {"Path": relative, "Sex": "Female", "Age": 60, "Frontal/Lateral": "Lateral" if view == "" else "Frontal",
           "AP/PA": view, **{label: "" for label in CHEXPERT_LABELS}}
    row["Cardiomegaly"] = "1.0" if cardio else rng.choice(["0.0", ""])
    row["Pleural Effusion"] = "1.0" if effusion else rng.choice(["0.0", "", "-1.0"])
    row["Lung Lesion"] = rng.choice(["0.0", "", "1.0"])
    row["Support Devices"] = rng.choice(["1.0", ""])
    if not (cardio or effusion):
        row["No Finding"] = "1.0"
    return row


def write_chexpert(root: Path, n: int = 40, size: int = 64, seed: int = 0) -> dict:
    """CheXpert-v1.0-small layout: ``train.csv`` + ``valid.csv`` + ``train/patientNNNNN/studyN/viewN_frontal.jpg``.

    Adds a lateral row, a row whose file is missing and uncertain (-1.0) cells.
    """
    rng = np.random.default_rng(seed)
    base = root / "CheXpert-v1.0-small"
    train, valid = [], []
    for i in range(n):
        split = "valid" if i >= n - 6 else "train"
        relative = f"CheXpert-v1.0-small/{split}/patient{i // 2:05d}/study{i % 2 + 1}/view1_frontal.jpg"
        cardio, effusion = bool(rng.random() < 0.4), bool(rng.random() < 0.4)
        _save(root / relative, draw_film(rng, size, cardio, effusion))
        (valid if split == "valid" else train).append(
            chexpert_row(rng, relative, "AP" if i % 2 else "PA", cardio, effusion))
    lateral = train[0]["Path"].replace("view1_frontal", "view2_lateral")
    _save(root / lateral, draw_film(rng, size, False, False))
    train.append({**train[0], "Path": lateral, "Frontal/Lateral": "Lateral", "AP/PA": ""})
    train.append({**train[1], "Path": "CheXpert-v1.0-small/train/patient99999/study1/view1_frontal.jpg"})
    return {"labels": [_write_csv(base / "train.csv", CHEXPERT_HEADER, train),
                       _write_csv(base / "valid.csv", CHEXPERT_HEADER, valid)],
            "images": root, "rows": train + valid}


def write_mimic(root: Path, n: int = 30, size: int = 64, seed: int = 0) -> dict:
    """MIMIC-CXR-JPG 2.0 layout: metadata, chexpert and split CSVs, ``files/pXX/pNNNNNNNN/sNNNNNNNN/<dicom_id>.jpg``
    and report texts; one lateral image per study, one study without a report, one image missing."""
    rng = np.random.default_rng(seed)
    metadata, labels, splits = [], [], []
    reports = root / "reports"
    for i in range(n):
        subject, study = str(10000000 + i // 2), str(50000000 + i)
        cardio, effusion = bool(rng.random() < 0.4), bool(rng.random() < 0.4)
        folder = Path("files") / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"
        for k, view in enumerate(("PA" if i % 2 else "AP", "LATERAL")):
            dicom_id = f"{i:04d}{k}-aaaa"
            if i != 3 or k:  # study 3's frontal image is missing
                _save(root / "jpg" / folder / f"{dicom_id}.jpg", draw_film(rng, size, cardio, effusion))
            metadata.append({"dicom_id": dicom_id, "subject_id": subject, "study_id": study,
                             "PerformedProcedureStepDescription": "CHEST (PA AND LAT)", "ViewPosition": view,
                             "Rows": size, "Columns": size, "StudyDate": 21800101, "StudyTime": 1200})
            splits.append({"dicom_id": dicom_id, "study_id": study, "subject_id": subject,
                           "split": "test" if i >= n - 4 else "validate" if i >= n - 8 else "train"})
        row = chexpert_row(rng, "", "PA", cardio, effusion)
        labels.append({"subject_id": subject, "study_id": study, **{k: row[k] for k in CHEXPERT_LABELS}})
        if i != 5:
            text = ("FINAL REPORT\n FINDINGS: " + ("The heart is enlarged. " if cardio else "Heart size normal. ")
                    + ("Small left pleural effusion." if effusion else "No effusion."))
            path = reports / folder.with_suffix(".txt")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    meta_header = list(metadata[0])
    return {"labels": _write_csv(root / "mimic-cxr-2.0.0-chexpert.csv", ["subject_id", "study_id"] + CHEXPERT_LABELS,
                                 labels),
            "metadata": _write_csv(root / "mimic-cxr-2.0.0-metadata.csv", meta_header, metadata),
            "split": _write_csv(root / "mimic-cxr-2.0.0-split.csv", list(splits[0]), splits),
            "images": root / "jpg", "reports": reports}


def write_dicom_archive(root: Path, studies: int = 6, size: int = 64, seed: int = 0) -> dict:
    """A folder of DICOM studies: reports as ``report.txt`` beside the images, as a Basic Text SR, or none;
    one lateral image."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(seed)

    def save(dataset, sop_class, path):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop_class, dataset.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        dataset.file_meta, dataset.SOPClassUID = meta, sop_class
        path.parent.mkdir(parents=True, exist_ok=True)
        dataset.save_as(path, enforce_file_format=True)

    texts = {}
    for s in range(studies):
        study_uid, cardio, effusion = generate_uid(), s % 2 == 0, s % 3 == 0
        text = f"FINDINGS: {'The heart is enlarged.' if cardio else 'Normal heart size.'} " \
               f"{'Small right pleural effusion.' if effusion else 'No pleural effusion.'}"
        folder = root / f"study{s}"
        for k, view in enumerate(("PA", "LL") if s == 0 else ("PA",)):
            ds = Dataset()
            ds.PatientID, ds.PatientName, ds.StudyInstanceUID = f"P{s // 2}", "Test^Patient", study_uid
            ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid()
            ds.Modality, ds.ViewPosition, ds.BodyPartExamined = "DX", view, "CHEST"
            ds.Rows = ds.Columns = size
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
            ds.PixelData = draw_film(rng, size, cardio, effusion).tobytes()
            save(ds, "1.2.840.10008.5.1.4.1.1.1.1", folder / f"img{k}.dcm")
        if s % 3 == 0:
            (folder / "report.txt").write_text(text, encoding="utf-8")
        elif s % 3 == 1:
            sr = Dataset()
            sr.PatientID, sr.StudyInstanceUID = f"P{s // 2}", study_uid
            sr.SeriesInstanceUID, sr.SOPInstanceUID, sr.Modality = generate_uid(), generate_uid(), "SR"
            sr.ValueType = "CONTAINER"
            item = Dataset()
            item.ValueType, item.TextValue = "TEXT", text.removeprefix("FINDINGS: ")
            name = Dataset()
            name.CodeValue, name.CodingSchemeDesignator, name.CodeMeaning = "121071", "DCM", "Finding"
            item.ConceptNameCodeSequence = Sequence([name])
            sr.ContentSequence = Sequence([item])
            save(sr, "1.2.840.10008.5.1.4.1.1.88.11", root / "reports" / f"sr{s}.dcm")
        texts[study_uid] = (text if s % 3 != 2 else "", cardio, effusion)
    return {"images": root, "studies": texts}
