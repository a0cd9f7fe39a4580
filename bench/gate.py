"""Benchmark the input gate of the bundled pack: chest films read, everything else refused.

Run ``python bench/gate.py`` (no arguments; ``--pack DIR`` for another pack). It runs
``Predictor.predict`` (the real path: display → gate → preprocess → model → OOD score) on

* the paired set's test split (synthetic chest films like the training ones): how many the gate
  flags (OOD score above the validation 95th percentile) and refuses (above twice that);
* every readable file of pydicom-data, twice: as the DICOM file (the header's modality and body
  part are checked) and as bare pixels (what a PNG export would give: only the pixel checks and
  the OOD score can stop it). Files whose header says CR/DX/DR chest are the chest group (a real
  CR film, RG1, in four encodings); all others are non-chest (CT, MR, US, NM, PET, a tibia
  radiograph, photographs, …). Many files are re-encodings of one image, so distinct images
  (same pixels at 64×64) are counted too.

Target (issue 5): every non-chest image refused with a reason; chest films read.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._common import markdown_table, pydicom_data_dir, require_data, write_results  # noqa: E402

TEST_LIMIT = 400


def _verdict(predictor, image) -> dict:
    gate = predictor.predict(image).gate
    ratio = gate.ood_score / gate.ood_threshold if gate.ood_score is not None else None
    return {"status": gate.status, "codes": [i.code for i in gate.issues], "ood_ratio": ratio}


def _pixel_key(pixels: np.ndarray) -> str:
    """Hash of the image at 64×64, 4-bit grey: re-encodings of one image share it."""
    grey = pixels if pixels.ndim == 2 else pixels[..., :3].mean(axis=-1)
    rows = np.linspace(0, grey.shape[0] - 1, 64).astype(int)
    cols = np.linspace(0, grey.shape[1] - 1, 64).astype(int)
    return hashlib.sha1(np.round(grey[np.ix_(rows, cols)] * 15).astype(np.uint8).tobytes()).hexdigest()


def score_pydicom_data(predictor, folder: Path) -> list[dict]:
    """Gate verdicts for every readable pydicom-data file, with its header and as bare pixels."""
    from engine.images.read import read_image
    from engine.images.display import display_float
    from engine.errors import EngineError
    from engine.gate import CHEST_BODY_PARTS, RADIOGRAPH_MODALITIES

    rows = []
    for path in sorted(folder.glob("*.dcm")):
        try:
            image = read_image(path)
            pixels = display_float(image)
        except EngineError:
            continue
        chest = (str(image.modality or "").upper() in RADIOGRAPH_MODALITIES
                 and str(image.body_part or "").upper() in CHEST_BODY_PARTS)
        rows.append({"file": path.name, "modality": image.modality, "body_part": image.body_part,
                     "group": "chest" if chest else "non-chest", "image": _pixel_key(pixels),
                     "with_header": _verdict(predictor, image), "bare_pixels": _verdict(predictor, pixels)})
    return rows


def score_test_split(predictor, records) -> dict:
    """OOD ratios and gate statuses of the test split's frontal images."""
    from engine.images.read import read_image
    from engine.images.display import display_float

    verdicts = [_verdict(predictor, display_float(read_image(r.image_path))) for r in records]
    ratios = np.array([v["ood_ratio"] for v in verdicts])
    return {"count": len(verdicts), "flagged": int(sum(v["status"] == "warn" for v in verdicts)),
            "refused": int(sum(v["status"] == "refuse" for v in verdicts)),
            "ood_ratio_p50": float(np.median(ratios)), "ood_ratio_p99": float(np.quantile(ratios, 0.99)),
            "ood_ratio_max": float(ratios.max())}


def group_row(rows: list[dict], group: str, view: str) -> list:
    chosen = [r for r in rows if r["group"] == group]
    refused = [r for r in chosen if r[view]["status"] == "refuse"]
    by_ood = [r for r in refused if r[view]["codes"] == ["ood"]]
    ratios = [r[view]["ood_ratio"] for r in chosen if r[view]["ood_ratio"] is not None]
    distinct = {r["image"] for r in chosen}
    distinct_refused = {r["image"] for r in refused}
    return [group, view.replace("_", " "), len(chosen), len(distinct), len(refused), len(distinct_refused),
            len(by_ood), f"{min(ratios):.2f}–{max(ratios):.2f}" if ratios else "n/a"]


def main(argv: list[str] | None = None) -> int:
    import argparse

    import torch
    import yaml

    from engine.predict import Predictor
    from engine.resources import bundled_pack_dir
    from training.dataset import read_records

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", help="pack folder (default: the bundled pack)")
    args = parser.parse_args(argv)
    config = yaml.safe_load((ROOT / "training" / "configs" / "demo.yaml").read_text())
    manifest_csv = require_data(ROOT / config["data"]["manifest"], "the paired set's manifest",
                                "build it with `python -m training synth`")
    folder = require_data(pydicom_data_dir(), "pydicom-data's files", "install the dev extra: pip install -e .[dev]")
    torch.set_num_threads(2)
    predictor = Predictor(Path(args.pack) if args.pack else bundled_pack_dir())
    manifest = predictor.pack.manifest
    results = {"pack": {"name": manifest["name"], "version": manifest["version"],
                        "ood": manifest["gate"]["ood"]}}
    tables = []
    records = [r for r in read_records(manifest_csv) if r.split == "test"][:TEST_LIMIT]
    split = results["test_split"] = score_test_split(predictor, records)
    tables.append(markdown_table(
        ["Synthetic test split", "images", "flagged", "refused", "OOD ratio p50", "p99", "max"],
        [["frontal", split["count"], split["flagged"], split["refused"], split["ood_ratio_p50"],
          split["ood_ratio_p99"], split["ood_ratio_max"]]]))
    rows = results["pydicom_data"] = score_pydicom_data(predictor, folder)
    summary = [group_row(rows, group, view) for group in ("non-chest", "chest")
               for view in ("with_header", "bare_pixels")]
    results["summary"] = summary
    tables.append(markdown_table(
        ["pydicom-data", "given as", "files", "distinct images", "refused files", "refused images",
         "refused by the OOD score alone", "OOD ratio range"], summary))
    passed = [r["file"] for r in rows if r["group"] == "non-chest" and r["bare_pixels"]["status"] != "refuse"]
    results["non_chest_bare_pixels_not_refused"] = passed
    tables.append("Non-chest files not refused as bare pixels: " + (", ".join(passed) or "none") + ".")
    markdown = ("## Input gate (bundled pack)\n\nOOD ratio = the image's OOD score / the pack's threshold "
                "(validation 95th percentile); above 1 flagged, above 2 refused. " + manifest["gate"]["ood"].get(
                    "features", "image_embedding") + " features.\n\n" + "\n\n".join(tables))
    write_results("gate", results, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
