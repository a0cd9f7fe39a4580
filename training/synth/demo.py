"""Regenerate the bundled demo studies in resources/demo/ (synthetic images, reports written here).

Run: ``python -m training.synth.demo [--out DIR]``. Deterministic: the same code writes the same
bytes. The report texts below were written for this project (they are not Open-i text); they go
through the real labeler, so the images show what the labeler reads in them.
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.synth import dicom_out
from training.synth.patient import sample_patient, with_changes
from training.synth.spec import mentions_from_evidence, specs_for_report
from training.synth.study import draw_study

ROOT = Path(__file__).resolve().parents[2]
SIZE = 448
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoStudy:
    """One demo study: name, seed, acquisition overrides, whether it has a lateral, report sections."""

    name: str
    seed: int
    overrides: dict
    lateral: bool
    findings: str
    impression: str


DEMOS = (
    DemoStudy("demo01_normal", 101, {"monochrome1": True, "modality": "CR", "projection": "PA"}, True,
              "The heart is normal in size. The mediastinum is unremarkable. The lungs are clear. "
              "There is no pleural effusion or pneumothorax.",
              "No acute cardiopulmonary abnormality."),
    DemoStudy("demo02_effusion", 202, {"monochrome1": False, "modality": "DX", "projection": "PA"}, True,
              "The heart is enlarged. There is a moderate left pleural effusion with left basilar "
              "atelectasis. No pneumothorax.",
              "Cardiomegaly. Moderate left pleural effusion and left basilar atelectasis."),
    DemoStudy("demo03_nodule", 303, {"monochrome1": True, "modality": "CR", "projection": "PA"}, False,
              "There is a 2 cm nodule in the right upper lobe. A calcified granuloma is seen in the left "
              "mid lung. Heart size is normal. No effusion.",
              "Right upper lobe nodule; CT is recommended. Old granulomatous disease."),
    DemoStudy("demo04_pneumothorax", 404, {"monochrome1": False, "modality": "DX", "projection": "AP"}, False,
              "Large right apical pneumothorax. A left chest wall pacemaker is present with leads in the "
              "right atrium and right ventricle. No focal consolidation.",
              "Large right pneumothorax. Pacemaker in place."),
)


def write_demo(study: DemoStudy, out: Path) -> list[Path]:
    """Render and write one demo study; return the files written."""
    from engine.reports.labeler import label_sections

    labelled = label_sections(study.findings, study.impression)
    rng = np.random.default_rng(study.seed)
    overrides = dict(study.overrides)
    patient = with_changes(sample_patient(rng, projection=overrides.pop("projection")), **overrides)
    specs = specs_for_report(labelled.labels, mentions_from_evidence(labelled.evidence), rng, uncertain_draw_p=0.0)
    images = draw_study(patient, specs, rng, study.lateral, SIZE, SIZE)
    folder = out / study.name
    folder.mkdir(parents=True, exist_ok=True)
    info = dicom_out.StudyInfo(key=f"demo:{study.name}", patient_id=f"SYN-{study.name.upper()}",
                               patient_sex=patient.sex, patient_age=patient.age, day=study.seed,
                               description=f"CHEST {len(images)} VIEW{'S' if len(images) > 1 else ''} (synthetic demo)",
                               modality=patient.modality)
    sections = {"FINDINGS": study.findings, "IMPRESSION": study.impression}
    written = [folder / "report.txt"]
    written[0].write_text(dicom_out.report_text(sections), encoding="utf-8")
    for number, image in enumerate(images, start=1):
        stem = f"{study.name}_{'lateral' if image.view == 'LL' else 'frontal'}"
        dicom_out.save_dataset(dicom_out.image_dataset(info, image, stem, number), folder / f"{stem}.dcm")
        dicom_out.save_masks(image.masks, folder / f"{stem}.masks.npz")
        written += [folder / f"{stem}.dcm", folder / f"{stem}.masks.npz"]
    log.info("%s: %s", study.name, ", ".join(s.label for s in specs) or "no findings")
    return written


def main(argv: list[str] | None = None) -> int:
    """Write every demo study."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "demo")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    total = sum(p.stat().st_size for s in DEMOS for p in write_demo(s, args.out))
    log.info("wrote %d studies, %.2f MB, to %s", len(DEMOS), total / 1e6, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
