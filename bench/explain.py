"""Heatmaps checked against ground truth: pointing game, top-10 % IoU, deletion/insertion AUC.

On the paired test split (synthetic frontal radiographs whose lesions have known masks), for each
focal finding, every method explains the finding's logit from the image alone; a smooth random
map and a centre-bias map are scored in the same run as baselines. Also: a model-randomisation
sanity check (Adebayo et al. 2018: Spearman correlation of each method's maps before and after the
weights are re-drawn), runtimes on 2 threads against a plain forward pass, and the docs figure.

Runs with no arguments on the bundled pack (``resources/pack``) and ``data/paired``; when no
trained pack is present it falls back to a tiny random-weight pack and says so in the JSON.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import require_data, write_results  # noqa: E402
from bench.explain_metrics import (centre_map, curve_auc, perturbation_images, pointing_hit,  # noqa: E402
                                   random_map, spearman, top_fraction_iou)
from bench.explain_report import make_figure, markdown  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FOCAL = ("Nodule", "Mass", "Pneumothorax", "Effusion", "Opacity", "Atelectasis", "Fracture")
METHODS = ("gradcam", "attention", "ig", "igcam")
# what the evaluation scores: name -> (method, options, with the report text); deletion/insertion
# curves (the costly part) are run for the methods as shipped and the baseline maps only
VARIANTS = {"gradcam": ("gradcam", {}, False), "hirescam": ("gradcam", {"hires": True}, False),
            "gradcam_stage-2": ("gradcam", {"stage": -2}, False),
            "attention": ("attention", {}, False), "attention_with_report": ("attention", {}, True),
            "ig": ("ig", {"steps": 32}, False), "ig_blur": ("ig", {"steps": 32, "baseline": "blur"}, False),
            "igcam": ("igcam", {"steps": 32}, False),
            "igcam_blur": ("igcam", {"steps": 32, "baseline": "blur"}, False)}
BASELINE_MAPS = ("random", "centre")
PER_FINDING = 10            # sampled test cases per finding (fewer exist for some findings)
CURVE_STEPS = 8             # deletion/insertion increments (12.5 % each)
TOLERANCE_PX = 15           # lenient pointing game: maximum within 15 px of the mask
IG_STEPS = 32
SANITY_CASES = 3
LOOP_BUDGET_S = 900         # wall-clock cap on the case loop (~8 min for 52-59 cases on an idle 2-core machine)
FIGURE = ROOT / "docs" / "img" / "explain_methods.png"


def load_predictor(pack_arg: str | None):
    """Return (Predictor, pack facts); a tiny random pack when no trained pack exists."""
    from engine.predict import Predictor
    from engine.resources import bundled_pack_dir

    pack_dir = Path(pack_arg) if pack_arg else bundled_pack_dir()
    fallback = not (pack_dir / "manifest.json").is_file()
    if fallback:
        from tests.engine.conftest import build_tiny_pack
        pack_dir = build_tiny_pack(Path(tempfile.mkdtemp()) / "tiny")
    predictor = Predictor(pack_dir, threads=2)
    manifest = predictor.pack.manifest
    facts = {"name": manifest["name"], "version": manifest["version"], "path": str(pack_dir),
             "bundled": pack_arg is None and not fallback, "random_weight_fallback": fallback,
             "image_encoder": manifest["model"]["image_encoder"],
             "input_size": manifest["preprocessing"]["size"]}
    return predictor, facts


def sample_cases(manifest: Path, split: str = "test", seed: int = 0) -> dict[str, list[dict]]:
    """Frontal synthetic images of ``split`` on which the finding was drawn (so it has a mask), up
    to PER_FINDING per focal finding."""
    rows = [r for r in csv.DictReader(open(manifest, encoding="utf-8"))
            if r["split"] == split and r["view"] in ("PA", "AP") and r["mask_path"]]
    rng = np.random.default_rng(seed)
    cases = {}
    for finding in FOCAL:
        pool = [r for r in rows if r.get(finding) == "1" and f"{finding}:" in r.get("drawn", "")]
        order = rng.permutation(len(pool))[:PER_FINDING]
        cases[finding] = [pool[i] for i in order]
    return cases


def read_case(row: dict, folder: Path, finding: str):
    """Return the display image in [0, 1], the finding's mask and the report text."""
    from engine.images.read import read_image
    from engine.images.display import display_float

    image01 = display_float(read_image(folder / row["image_path"]))
    with np.load(folder / row["mask_path"], allow_pickle=False) as masks:
        mask = masks[finding].astype(bool) if finding in masks.files else np.zeros(image01.shape[:2], bool)
    report = (folder / row["report_path"]).read_text(encoding="utf-8")
    return image01, mask, report


class Scorer:
    """Deletion/insertion curves on the model's input canvas, scored by the label's probability."""

    def __init__(self, predictor):
        self.predictor = predictor

    def curves(self, image01: np.ndarray, maps: dict[str, np.ndarray], index: int) -> dict[str, tuple]:
        """Return ``{name: (deletion AUC, insertion AUC)}``; all frames go through the model in chunks."""
        import torch

        from engine.explain.heatmap import BLUR_SIGMA_FRACTION, gaussian_blur
        from engine.model.preprocess import normalise, resize_letterbox

        params = self.predictor.params
        canvas, _ = resize_letterbox(image01, params.size, params.pad_value)
        reference = gaussian_blur(canvas, BLUR_SIGMA_FRACTION * params.size)
        frames = []
        for values in maps.values():
            order, _ = resize_letterbox(values, params.size, 0.0)
            for insertion in (False, True):
                frames.extend(perturbation_images(canvas, reference, order, CURVE_STEPS, insertion))
        batch = torch.from_numpy(np.stack([normalise(f, params) for f in frames]))
        logits = np.concatenate([self.predictor.forward(chunk).logits[:, index].numpy()
                                 for chunk in batch.split(36)])
        probs = self.predictor.probabilities(logits[:, None], "image")[:, 0].reshape(len(maps), 2, CURVE_STEPS + 1)
        return {name: (curve_auc(p[0]), curve_auc(p[1])) for name, p in zip(maps, probs)}


def evaluate(predictor, cases, folder: Path, started: float):
    """Score every method and baseline map per (case, finding).

    Returns the records, the report-word checks, the figure rows (the first sampled nodule/mass
    case and the first case whose finding the model detects: chosen by rule, not by how the maps
    look) and the wall time (ms) of each variant's first call in this process (cold caches)."""
    from engine.explain.heatmap import explain, label_index

    scorer, rng = Scorer(predictor), np.random.default_rng(1)
    records, words, figure_cases, first_calls = [], [], {}, {}
    queue = [(finding, row) for i in range(PER_FINDING) for finding in FOCAL
             if i < len(cases[finding]) for row in [cases[finding][i]]]
    for count, (finding, row) in enumerate(queue):
        if time.perf_counter() - started > LOOP_BUDGET_S:
            print(f"time budget reached after {count} of {len(queue)} cases", file=sys.stderr)
            break
        image01, mask, report = read_case(row, folder, finding)
        if not mask.any():
            continue
        index = label_index(predictor.labels, finding)
        maps = {}
        for name, (method, options, with_report) in VARIANTS.items():
            heatmap = explain(predictor, image01, finding, method, report if with_report else None, **options)
            maps[name] = heatmap.values
            first_calls.setdefault(name, heatmap.timing_ms["explain"])
            if with_report:
                words.append(word_hit(report, finding, heatmap.tokens))
            else:
                probability = heatmap.probability  # image-only probability of the finding
        maps["random"] = random_map(mask.shape, rng)
        maps["centre"] = centre_map(mask.shape)
        threshold = float(predictor.thresholds["image"][index])
        curves = scorer.curves(image01, {n: maps[n] for n in METHODS + BASELINE_MAPS}, index)
        for name, values in maps.items():
            deletion, insertion = curves.get(name, (None, None))
            records.append({"finding": finding, "map": name, "id": row["id"], "probability": probability,
                            "detected": probability >= threshold,
                            "pointing": pointing_hit(values, mask),
                            "pointing_tol": pointing_hit(values, mask, TOLERANCE_PX),
                            "iou_top10": top_fraction_iou(values, mask, 0.1),
                            "deletion_auc": deletion, "insertion_auc": insertion,
                            "mask_fraction": float(mask.mean())})
        shown = {m: maps[m] for m in METHODS}
        if "small" not in figure_cases and finding in ("Nodule", "Mass"):
            figure_cases["small"] = (finding, row["id"], image01, mask, shown,
                                     f"first sampled nodule/mass case, p = {probability:.2f}")
        if "detected" not in figure_cases and probability >= threshold:
            figure_cases["detected"] = (finding, row["id"], image01, mask, shown,
                                        f"first sampled case the model detects, p = {probability:.2f}")
        print(f"[{count + 1}/{len(queue)}] {finding} {row['id']} p={probability:.2f} "
              f"{time.perf_counter() - started:.0f}s", file=sys.stderr)
    figure = [figure_cases[k] for k in ("small", "detected") if k in figure_cases]
    return records, [w for w in words if w is not None], figure, first_calls


def word_hit(report: str, finding: str, tokens) -> dict | None:
    """Is the report word with the highest attribution a mention of ``finding`` (labeler evidence)?

    Returns None when the labeler finds no positive or uncertain mention of the finding within the
    words the model read (reports are truncated at the pack's token limit). ``chance``
    is the fraction of the report's words that are such mentions (a random word's hit rate).
    """
    from engine.reports.labeler import label_text

    spans = [(e.start, e.end) for e in label_text(report).evidence
             if e.label == finding and e.status in ("positive", "uncertain")]
    if not spans or not tokens:
        return None
    def inside(t):
        return any(t.start < end and start < t.end for start, end in spans)
    chance = sum(map(inside, tokens)) / len(tokens)
    if chance == 0:  # every mention lies beyond the model's token limit
        return None
    top = max(tokens, key=lambda t: t.score)
    return {"hit": inside(top), "chance": chance, "top_word": top.text.lower()}


def summarise(records: list[dict]) -> dict:
    """Mean of each measure per map and finding, plus ``focal`` over all (case, finding) pairs."""
    keys = ("pointing", "pointing_tol", "iou_top10", "deletion_auc", "insertion_auc")
    out = {}
    for name in tuple(VARIANTS) + BASELINE_MAPS:
        mine = [r for r in records if r["map"] == name]
        out[name] = {}
        for finding in FOCAL + ("focal",):
            subset = [r for r in mine if finding == "focal" or r["finding"] == finding]
            if not subset:
                continue
            entry = {k: float(np.mean([r[k] for r in subset])) if subset[0][k] is not None else None
                     for k in keys}
            detected = [r for r in subset if r["detected"]]
            entry.update(n=len(subset), n_detected=len(detected),
                         pointing_detected=float(np.mean([r["pointing"] for r in detected])) if detected else None,
                         mean_probability=float(np.mean([r["probability"] for r in subset])),
                         mean_mask_fraction=float(np.mean([r["mask_fraction"] for r in subset])))
            out[name][finding] = entry
    return out


def sanity_check(predictor, cases, folder: Path) -> dict:
    """Spearman correlation of maps from the trained and a re-initialised model (same inputs)."""
    import torch
    from PIL import Image as PILImage

    from engine.explain.heatmap import explain
    from engine.model.fusion import FusionModel
    from engine.predict import Predictor

    torch.manual_seed(123)
    random_model = FusionModel(predictor.pack.model.config).eval()
    randomised = Predictor(dataclasses.replace(predictor.pack, model=random_model))
    picks = [(f, rows[0]) for f, rows in cases.items() if rows][:SANITY_CASES]

    def small(values):
        return np.asarray(PILImage.fromarray(values.astype(np.float32), mode="F").resize((64, 64), PILImage.BILINEAR))

    result = {}
    for method in METHODS:
        trained_vs_random, trained_vs_noise = [], []
        for finding, row in picks:
            image01, mask, _ = read_case(row, folder, finding)
            a = explain(predictor, image01, finding, method, steps=IG_STEPS).values
            b = explain(randomised, image01, finding, method, steps=IG_STEPS).values
            trained_vs_random.append(spearman(small(a), small(b)))
            trained_vs_noise.append(spearman(small(a), small(random_map(mask.shape, np.random.default_rng(5)))))
        mean = float(np.mean(trained_vs_random))
        result[method] = {"spearman_trained_vs_randomised": mean, "similarity_drop": 1.0 - mean,
                          "spearman_trained_vs_random_map": float(np.mean(trained_vs_noise)),
                          "cases": len(picks)}
    return result


def runtimes(predictor, cases, folder: Path) -> dict:
    """Wall time (ms; median and minimum of 2 runs after a warm-up) per method, image-only and with the report.

    The minimum is the better estimate of the cost on an otherwise idle machine."""
    import torch

    from engine.explain.heatmap import explain

    torch.set_num_threads(2)
    finding, row = next((f, rows[0]) for f, rows in cases.items() if rows)
    image01, _, report = read_case(row, folder, finding)
    tensor, _ = predictor.prepare(image01)
    out = {"threads": torch.get_num_threads(), "load_average_1min": round(os.getloadavg()[0], 2)}
    for mode, text in (("image", None), ("joint", report)):
        forward = []
        for _ in range(6):
            t0 = time.perf_counter()
            predictor.forward(tensor, [text] if text else None)
            forward.append((time.perf_counter() - t0) * 1000)
        base = min(forward[1:])
        out[f"{mode}.forward_ms"] = base
        out[f"{mode}.forward_median_ms"] = statistics.median(forward[1:])
        for method in METHODS:
            times, cpu = [], []
            for _ in range(3):
                t0, c0 = time.perf_counter(), time.process_time()
                explain(predictor, image01, finding, method, text, steps=IG_STEPS)
                times.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            out[f"{mode}.{method}_cpu_ms"] = min(cpu[1:])
            out[f"{mode}.{method}_ms"] = min(times[1:])
            out[f"{mode}.{method}_median_ms"] = statistics.median(times[1:])
            out[f"{mode}.{method}_vs_forward"] = min(times[1:]) / base
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", help="pack folder (default: resources/pack, else a tiny random pack)")
    parser.add_argument("--manifest", default=str(ROOT / "data" / "paired" / "manifest.csv"))
    parser.add_argument("--split", choices=("test", "val"), default="test",
                        help="test: the reported numbers; val: where settings are chosen (maps scored "
                             "only: no sanity check, runtimes or figure; written as explain_val)")
    args = parser.parse_args()
    started = time.perf_counter()
    manifest = require_data(Path(args.manifest), "the paired set's manifest",
                            "build it with `python -m training synth`")
    predictor, pack = load_predictor(args.pack)
    import torch
    torch.set_num_threads(1)  # quality loop: one thread does not spin against other jobs on a shared machine
    cases = sample_cases(manifest, args.split)
    records, words, figure, first_calls = evaluate(predictor, cases, manifest.parent, started)
    summary = summarise(records)
    report_words = {"cases": len(words),
                    "top_word_is_mention": float(np.mean([w["hit"] for w in words])) if words else None,
                    "chance": float(np.mean([w["chance"] for w in words])) if words else None,
                    "top_words": sorted({w["top_word"] for w in words})}
    focal = {m: summary[m]["focal"] for m in tuple(VARIANTS) + BASELINE_MAPS if "focal" in summary[m]}
    best = max(VARIANTS, key=lambda m: focal[m]["pointing"])
    above = {m: all(focal[m][k] > max(focal[b][k] for b in BASELINE_MAPS) for k in ("pointing", "iou_top10"))
             for m in VARIANTS}
    targets = {"best_method": best, "best_pointing": focal[best]["pointing"],
               "best_pointing_met": focal[best]["pointing"] >= 0.85, "above_baselines": above,
               "all_methods_above_baselines": all(above[m] for m in METHODS)}  # as shipped; variants are reported
    results = {"pack": pack, "split": args.split, "methods": summary, "targets": targets,
               "report_words": report_words,
               "settings": {"focal": list(FOCAL), "methods": list(METHODS), "variants": list(VARIANTS),
                            "baseline_maps": list(BASELINE_MAPS),
                            "per_finding": PER_FINDING, "curve_steps": CURVE_STEPS, "ig_steps": IG_STEPS,
                            "ig_baseline": "black", "pointing_tolerance_px": TOLERANCE_PX,
                            "top_fraction": 0.1, "manifest": str(manifest)},
               "cases": {f: sum(1 for r in records if r["finding"] == f and r["map"] == "gradcam") for f in FOCAL}}
    if args.split == "val":
        results["wall_s"] = time.perf_counter() - started
        write_results("explain_val", results, markdown(results), command="python bench/explain.py --split val")
        print(markdown(results))
        return 0
    results["sanity"] = sanity_check(predictor, cases, manifest.parent)
    results["runtime"] = runtimes(predictor, cases, manifest.parent)
    results["runtime"]["first_call_ms"] = first_calls  # cold: the process's first explanation of each kind
    if figure:
        make_figure(figure, FIGURE)
    results["figure"] = {"path": str(FIGURE.relative_to(ROOT)),
                         "rows": [{"finding": f[0], "id": f[1], "why": f[5]} for f in figure]}
    results["wall_s"] = time.perf_counter() - started
    write_results("explain", results, markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
