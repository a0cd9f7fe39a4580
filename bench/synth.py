"""Synthesizer speed and per-finding learnability.

Speed: frontal 512x512 images per second (render only, and render + DICOM write), in one process
and in a pool of 2, against two baselines measured in the same run: a noise-only 512x512 render
(``rng.standard_normal`` + 12-bit quantisation) and a plain pydicom write of a blank image.

Learnability: N frontal images with independent random findings (prevalence 0.15 each, random
side/zone/severity 0..1), downsampled to 64x64 (block mean of the display image); an L2 logistic
regression per finding on the pixels, trained on 80 % and scored (AUROC) on 20 %. A linear model on
coarse pixels is a deliberately weak learner: findings should be learnable (AUROC well above 0.5)
and not trivial (not all at 1.0). Small focal findings (granuloma, fracture, nodule) are expected
low here; they need a CNN at full resolution.

Run: ``python bench/synth.py`` (about 5-8 minutes on 2 cores).
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import markdown_table, write_results  # noqa: E402

from training.synth import dicom_out  # noqa: E402
from training.synth.patient import sample_patient  # noqa: E402
from training.synth.spec import random_specs  # noqa: E402
from training.synth.study import SUPPORTED, draw_frontal  # noqa: E402

SIZE = 512
N_SPEED = int(os.environ.get("SYNTH_BENCH_SPEED_N", 60))
N_LEARN = int(os.environ.get("SYNTH_BENCH_LEARN_N", 3000))
DOWN = 64
PREVALENCE = 0.15


def _render(seed: int):
    rng = np.random.default_rng(seed)
    specs = random_specs(rng, PREVALENCE)
    image, _ = draw_frontal(sample_patient(rng), specs, rng, SIZE, SIZE)
    return image, specs


def _render_only(seed: int) -> int:
    return _render(seed)[0].rendered.pixels.shape[0]


def _render_small(seed: int) -> tuple[np.ndarray, list[str]]:
    """Render, convert to display values (MONOCHROME1 inverted), block-mean to DOWN x DOWN."""
    image, specs = _render(seed)
    px = image.rendered.pixels.astype(np.float32) / 4095.0
    if image.rendered.monochrome1:
        px = 1.0 - px
    k = SIZE // DOWN
    small = px.reshape(DOWN, k, DOWN, k).mean(axis=(1, 3))
    return small.astype(np.float32), [s.label for s in specs]


def _rate(fn, seeds, workers: int) -> float:
    t0 = time.perf_counter()
    if workers == 1:
        for s in seeds:
            fn(s)
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            list(pool.imap_unordered(fn, seeds, chunksize=4))
    return len(seeds) / (time.perf_counter() - t0)


def _noise_only(seed: int) -> int:
    rng = np.random.default_rng(seed)
    img = np.rint(np.clip(0.5 + 0.1 * rng.standard_normal((SIZE, SIZE), dtype=np.float32), 0, 1) * 4095)
    return int(img.astype(np.uint16)[0, 0])


def speed() -> dict:
    seeds = list(range(10_000, 10_000 + N_SPEED))
    _render_only(1)  # warm imports
    out = {
        "synth_1proc_images_per_s": _rate(_render_only, seeds, 1),
        "synth_2proc_images_per_s": _rate(_render_only, seeds, 2),
        "baseline_noise_only_images_per_s": _rate(_noise_only, seeds, 1),
    }
    with tempfile.TemporaryDirectory() as tmp:
        info = dicom_out.StudyInfo("bench", "BENCH", "F", 50, 0)
        image, _ = _render(0)
        blank = image.__class__(image.rendered.__class__(np.zeros((SIZE, SIZE), np.uint16), (2048.0, 4096.0), False),
                                {}, image.spacing, "PA")
        t0 = time.perf_counter()
        for i in seeds:
            dicom_out.save_dataset(dicom_out.image_dataset(info, blank, f"b{i}", 1), Path(tmp) / f"b{i}.dcm")
        out["baseline_pydicom_blank_write_images_per_s"] = len(seeds) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in seeds:
            img, _ = _render(i)
            dicom_out.save_dataset(dicom_out.image_dataset(info, img, f"s{i}", 1), Path(tmp) / f"s{i}.dcm")
        out["synth_plus_dicom_write_1proc_images_per_s"] = len(seeds) / (time.perf_counter() - t0)
    out["ratio_synth_1proc_to_noise_only"] = out["synth_1proc_images_per_s"] / out["baseline_noise_only_images_per_s"]
    out["ratio_synth_write_to_blank_write"] = (out["synth_plus_dicom_write_1proc_images_per_s"]
                                               / out["baseline_pydicom_blank_write_images_per_s"])
    return out


def learnability() -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    seeds = list(range(N_LEARN))
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        data = pool.map(_render_small, seeds, chunksize=16)
    gen_s = time.perf_counter() - t0
    X = np.stack([d[0].ravel() for d in data])
    X = (X - X.mean(0)) / (X.std(0) + 1e-6)
    n_train = int(0.8 * len(X))
    per = {}
    for label in SUPPORTED:
        y = np.array([label in d[1] for d in data], dtype=int)
        if y[:n_train].sum() < 5 or y[n_train:].sum() < 3:
            continue
        clf = LogisticRegression(C=0.002, max_iter=300)
        clf.fit(X[:n_train], y[:n_train])
        per[label] = {"auroc": float(roc_auc_score(y[n_train:], clf.decision_function(X[n_train:]))),
                      "positives_test": int(y[n_train:].sum())}
    aurocs = [v["auroc"] for v in per.values()]
    return {"n_images": len(X), "downsample": DOWN, "prevalence": PREVALENCE, "generate_s": gen_s,
            "per_finding": per, "macro_auroc": float(np.mean(aurocs)),
            "n_at_1": int(sum(a >= 0.999 for a in aurocs))}


def main() -> int:
    spd = speed()
    learn = learnability()
    rows = [[k, round(v, 2)] for k, v in spd.items()]
    table_speed = markdown_table(["measure (512x512 frontal)", "value"], rows)
    table_learn = markdown_table(["finding", "AUROC (logistic regression, 64x64 px)", "test positives"],
                                 [[k, v["auroc"], v["positives_test"]] for k, v in learn["per_finding"].items()])
    section = ("## Synthesizer (bench/synth.py)\n\n" + table_speed
               + f"\n\nLearnability: {learn['n_images']} images, 80/20 split, macro AUROC "
               f"{learn['macro_auroc']:.3f} (findings at 1.0: {learn['n_at_1']}).\n\n" + table_learn)
    write_results("synth", {"speed": spd, "learnability": learn}, section)
    print(table_speed)
    print(table_learn)
    print(f"macro AUROC {learn['macro_auroc']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
