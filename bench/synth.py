"""Synthesizer speed and per-finding learnability.

Speed: frontal 512x512 images per second (render only, and render + DICOM write), in one process
and in a pool of 2, against two baselines measured in the same run: a noise-only 512x512 render
(``rng.standard_normal`` + 12-bit quantisation) and a plain pydicom write of a blank image.

Learnability: N frontal images with independent random findings (prevalence 0.15 each, random
side/zone/severity 0..1), reduced to 64x64 and 128x128 (block means of the display image), 80 % to
train and 20 % to score (AUROC per finding) two learners trained in the bench:

- an L2 logistic regression per finding on the 64x64 pixels: a deliberately weak, position-bound
  learner (large or diffuse findings only);
- a tiny CNN (4 strided 3x3 conv layers, 16-64 channels, global max+mean pooling, multi-label BCE,
  2 threads) on the 128x128 images: it can find a lesion anywhere, so focal findings show up.

Findings should be learnable (AUROC well above 0.5) and not trivial (not all at 1.0). The tiniest
(rib fracture, granuloma) are expected to stay low at 128 px (3 mm per pixel).

Run: ``python bench/synth.py`` (about 5 minutes on 2 idle cores; longer when they are shared).
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
from training.synth.render import Rendered, SynthImage  # noqa: E402
from training.synth.spec import random_specs  # noqa: E402
from training.synth.study import SUPPORTED, draw_frontal  # noqa: E402

SIZE = 512
N_SPEED = int(os.environ.get("SYNTH_BENCH_SPEED_N", 60))
N_LEARN = int(os.environ.get("SYNTH_BENCH_LEARN_N", 2000))
DOWN = 64
CNN_SIZE = 128
BATCH = 32
CNN_EPOCHS = int(os.environ.get("SYNTH_BENCH_CNN_EPOCHS", 12))
PREVALENCE = 0.15


def _render(seed: int):
    rng = np.random.default_rng(seed)
    specs = random_specs(rng, PREVALENCE)
    image, _ = draw_frontal(sample_patient(rng), specs, rng, SIZE, SIZE)
    return image, specs


def _render_only(seed: int) -> int:
    return _render(seed)[0].rendered.pixels.shape[0]


def _block_mean(px: np.ndarray, out: int) -> np.ndarray:
    k = px.shape[0] // out
    return px.reshape(out, k, out, k).mean(axis=(1, 3)).astype(np.float32)


def _render_small(seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Render, convert to display values (MONOCHROME1 inverted), block-mean to 64 and 128 px."""
    image, specs = _render(seed)
    px = image.rendered.pixels.astype(np.float32) / 4095.0
    if image.rendered.monochrome1:
        px = 1.0 - px
    return _block_mean(px, DOWN), _block_mean(px, CNN_SIZE), [s.label for s in specs]


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
    cpu0 = time.process_time()
    one = _rate(_render_only, seeds, 1)
    cpu_per_image = (time.process_time() - cpu0) / len(seeds)
    out = {
        "load_average_1min_at_start": os.getloadavg()[0],
        "synth_1proc_images_per_s": one,
        # wall-clock rates drop when other jobs share the cores; CPU time per image does not
        "synth_images_per_cpu_s": 1.0 / cpu_per_image,
        "synth_projected_2core_images_per_s": 2.0 / cpu_per_image,
        "synth_2proc_images_per_s": _rate(_render_only, seeds, 2),
        "baseline_noise_only_images_per_s": _rate(_noise_only, seeds, 1),
    }
    with tempfile.TemporaryDirectory() as tmp:
        info = dicom_out.StudyInfo("bench", "BENCH", "F", 50, 0)
        image, _ = _render(0)
        blank = SynthImage(Rendered(np.zeros((SIZE, SIZE), np.uint16), (2048.0, 4096.0), False),
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


def _tiny_cnn_scores(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Train the tiny CNN on (n, 128, 128) images with (n, L) 0/1 targets; return test logits."""
    import torch
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(0)
    layers, ch = [], 1
    for out in (16, 32, 64, 64):
        layers += [nn.Conv2d(ch, out, 3, stride=2, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
        ch = out
    body = nn.Sequential(*layers, nn.Conv2d(64, 64, 3, padding=1), nn.ReLU())
    head = nn.Linear(128, y_train.shape[1])
    params = list(body.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=3e-3, weight_decay=1e-4)
    mean, std = float(x_train.mean()), float(x_train.std())
    xt = torch.from_numpy((x_train - mean) / std).unsqueeze(1)
    yt = torch.from_numpy(y_train.astype(np.float32))
    pos = yt.mean(0).clamp(0.02, 0.98)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=(1 - pos) / pos)
    steps = CNN_EPOCHS * (len(xt) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)

    def forward(x):
        f = body(x)
        return head(torch.cat([f.amax((2, 3)), f.mean((2, 3))], 1))

    gen = torch.Generator().manual_seed(0)
    for _ in range(CNN_EPOCHS):
        order = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt) - BATCH + 1, BATCH):
            idx = order[i:i + BATCH]
            xb = xt[idx]
            if torch.rand(1, generator=gen).item() < 0.5:
                xb = xb.flip(3)                  # left-right flip keeps every label
            loss = loss_fn(forward(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    body.eval()
    with torch.no_grad():
        xs = torch.from_numpy((x_test - mean) / std).unsqueeze(1)
        return torch.cat([forward(xs[i:i + 128]) for i in range(0, len(xs), 128)]).numpy()


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
    X128 = np.stack([d[1] for d in data])
    Y = np.array([[label in d[2] for label in SUPPORTED] for d in data], dtype=int)
    n_train = int(0.8 * len(X))
    t0 = time.perf_counter()
    cnn = _tiny_cnn_scores(X128[:n_train], Y[:n_train], X128[n_train:])
    cnn_s = time.perf_counter() - t0
    per = {}
    for j, label in enumerate(SUPPORTED):
        y = Y[:, j]
        if y[:n_train].sum() < 5 or y[n_train:].sum() < 3:
            continue
        clf = LogisticRegression(C=0.002, max_iter=300)
        clf.fit(X[:n_train], y[:n_train])
        per[label] = {"auroc_logreg_64px": float(roc_auc_score(y[n_train:], clf.decision_function(X[n_train:]))),
                      "auroc_tiny_cnn_128px": float(roc_auc_score(y[n_train:], cnn[:, j])),
                      "positives_test": int(y[n_train:].sum())}
    lr = [v["auroc_logreg_64px"] for v in per.values()]
    cn = [v["auroc_tiny_cnn_128px"] for v in per.values()]
    return {"n_images": len(X), "prevalence": PREVALENCE, "generate_s": gen_s, "cnn_train_s": cnn_s,
            "cnn_epochs": CNN_EPOCHS, "per_finding": per,
            "macro_auroc_logreg_64px": float(np.mean(lr)), "macro_auroc_tiny_cnn_128px": float(np.mean(cn)),
            "n_at_1_logreg": int(sum(a >= 0.999 for a in lr)), "n_at_1_cnn": int(sum(a >= 0.999 for a in cn))}


def main() -> int:
    spd = speed()
    learn = learnability()
    rows = [[k, round(v, 3)] for k, v in spd.items()]
    table_speed = markdown_table(["measure (512x512 frontal)", "value"], rows)
    table_learn = markdown_table(
        ["finding", "AUROC logistic regression 64 px", "AUROC tiny CNN 128 px", "test positives"],
        [[k, v["auroc_logreg_64px"], v["auroc_tiny_cnn_128px"], v["positives_test"]]
         for k, v in learn["per_finding"].items()])
    section = ("## Synthesizer (bench/synth.py)\n\n" + table_speed
               + f"\n\nLearnability: {learn['n_images']} images with random findings (prevalence "
               f"{PREVALENCE} each), 80/20 split. Macro AUROC: logistic regression "
               f"{learn['macro_auroc_logreg_64px']:.3f}, tiny CNN {learn['macro_auroc_tiny_cnn_128px']:.3f} "
               f"(findings at 1.0: {learn['n_at_1_logreg']} and {learn['n_at_1_cnn']}).\n\n" + table_learn)
    write_results("synth", {"speed": spd, "learnability": learn}, section)
    print(table_speed)
    print(table_learn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
