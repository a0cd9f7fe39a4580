"""Benchmark the bundled model pack: test-split accuracy through the real inference path, latency, load time.

Run ``python bench/model.py`` (no arguments). It

* loads resources/pack (timed: first load in this process, then a warm reload),
* re-scores the paired set's test split from the image files through ``Predictor`` (display →
  preprocess → model → temperature → threshold) in image-only, text-only and image+text modes:
  per-label AUROC, macro/micro AUROC, macro F1 at the pack's thresholds, ECE,
* times ``predict`` at batch 1 (p50/p90) image-only and with a report, with torch on 1 and on 2
  threads, against a baseline measured in the same run: the bare timm image encoder's forward
  pass. The machine's load average is recorded: on 2 cores shared with other jobs, 2 torch
  threads were measured 15x slower than 1 (OpenMP threads waiting on busy cores),
* reports peak RSS and the pack's size.
"""
from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import markdown_table, require_data, write_results  # noqa: E402

TEST_LIMIT = 400
LATENCY_RUNS = 40


def _import_seconds() -> float:
    """Seconds to import the model stack (torch, timm, transformers' BERT, tokenizers) in this process."""
    start = time.perf_counter()
    import timm  # noqa: F401
    import tokenizers  # noqa: F401
    import torch  # noqa: F401
    from transformers import BertModel  # noqa: F401
    return time.perf_counter() - start


def _load(pack_dir: Path):
    from engine.model.pack import load_pack
    start = time.perf_counter()
    pack = load_pack(pack_dir)
    return pack, time.perf_counter() - start


def _score_test_split(predictor, records) -> dict:
    from engine.images.read import read_image
    from engine.images.display import display_float
    from training.evaluate import mode_metrics

    labels = np.stack([r.labels for r in records])
    probs = {mode: [] for mode in ("image", "text", "joint")}
    for record in records:
        array = display_float(read_image(record.image_path))
        tensor, _ = predictor.prepare(array)
        for mode in probs:
            output = predictor.forward(None if mode == "text" else tensor, None if mode == "image" else [record.text])
            probs[mode].append(predictor.probabilities(output.logits.numpy(), mode)[0])
    return {mode: mode_metrics(labels, np.stack(values), predictor.thresholds[mode], predictor.labels)
            for mode, values in probs.items()}


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50": statistics.median(ordered), "p90": ordered[int(0.9 * (len(ordered) - 1))], "n": len(ordered)}


def _latency(predictor, image, report: str, threads: int) -> dict:
    import timm
    import torch

    torch.set_num_threads(threads)
    def timed(fn) -> list[float]:
        fn()
        out = []
        for _ in range(LATENCY_RUNS):
            start = time.perf_counter()
            fn()
            out.append((time.perf_counter() - start) * 1000)
        return out

    image_only = _percentiles(timed(lambda: predictor.predict(image)))
    with_report = _percentiles(timed(lambda: predictor.predict(image, report)))
    config = predictor.pack.model.config
    bare = timm.create_model(config.image_encoder, pretrained=False, in_chans=1, num_classes=0,
                             **config.image_encoder_kwargs).eval()
    tensor, _ = predictor.prepare(image)
    with torch.inference_mode():
        baseline = _percentiles(timed(lambda: bare.forward_features(tensor)))
    return {"image_only_ms": image_only, "with_report_ms": with_report, "baseline_bare_encoder_ms": baseline,
            "ratio_image_only_to_baseline": image_only["p50"] / baseline["p50"],
            "ratio_with_report_to_baseline": with_report["p50"] / baseline["p50"]}


def main(argv: list[str] | None = None) -> int:
    import argparse

    imports = _import_seconds()
    import torch
    import yaml

    from engine.predict import Predictor
    from engine.resources import bundled_pack_dir
    from training.dataset import read_records

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", help="pack folder (default: the bundled pack)")
    parser.add_argument("--manifest", help="paired-set manifest CSV (default: the demo config's)")
    args = parser.parse_args(argv)
    config = yaml.safe_load((ROOT / "training" / "configs" / "demo.yaml").read_text())
    manifest_csv = require_data(Path(args.manifest) if args.manifest else ROOT / config["data"]["manifest"],
                                "the paired set's manifest", "build it with `python -m training synth`")
    torch.set_num_threads(1)
    pack_dir = Path(args.pack) if args.pack else bundled_pack_dir()
    pack, first_load = _load(pack_dir)
    _, warm_load = _load(pack_dir)
    predictor = Predictor(pack)
    size_mb = sum(e["bytes"] for e in pack.manifest["files"].values()) / 1e6
    results = {"pack": {"name": pack.manifest["name"], "version": pack.manifest["version"], "size_mb": size_mb,
                        "import_s_model_stack": imports,
                        "load_s_first_after_imports": first_load, "load_s_warm": warm_load}}
    tables = []
    records = [r for r in read_records(manifest_csv) if r.split == "test"][:TEST_LIMIT]
    scores = _score_test_split(predictor, records)
    results["test_split"] = {"count": len(records), "modes": scores}
    for mode, values in scores.items():
        results[f"{mode}.macro_auroc"] = values["summary"]["macro_auroc"]
        results[f"{mode}.ece"] = values["summary"]["ece"]
    rows = [[name] + [scores[m]["per_label"][name]["auroc"] if scores[m]["per_label"][name]["auroc"] is not None
                      else "n/a" for m in ("image", "text", "joint")] + [scores["image"]["per_label"][name]["positives"]]
            for name in predictor.labels]
    tables.append(markdown_table(["Finding", "AUROC image", "AUROC text", "AUROC joint", "test positives"], rows))
    tables.append(markdown_table(
        ["Mode", "macro AUROC", "micro AUROC", "macro F1", "micro F1", "ECE"],
        [[m, s["macro_auroc"], s["micro_auroc"], s["macro_f1"], s["micro_f1"], s["ece"]]
         for m, s in ((m, scores[m]["summary"]) for m in ("image", "text", "joint"))]))
    sample_path, report = records[0].image_path, records[0].text
    from engine.images.read import read_image
    from engine.images.display import display_float
    image = display_float(read_image(sample_path))
    load_before = os.getloadavg()
    by_threads = {n: _latency(predictor, image, report, n) for n in (1, 2)}
    results["latency"] = {"threads_1": by_threads[1], "threads_2": by_threads[2],
                          "load_average_1min_before_after": [load_before[0], os.getloadavg()[0]]}
    latency = by_threads[1]
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tables.append(markdown_table(
        ["Figure", "value"],
        [["predict p50, image only, 1 thread (ms)", latency["image_only_ms"]["p50"]],
         ["predict p50, image + report, 1 thread (ms)", latency["with_report_ms"]["p50"]],
         ["baseline: bare image encoder p50, 1 thread (ms)", latency["baseline_bare_encoder_ms"]["p50"]],
         ["ratio image-only / baseline", latency["ratio_image_only_to_baseline"]],
         ["predict p50, image only, 2 threads (ms)", by_threads[2]["image_only_ms"]["p50"]],
         ["predict p50, image + report, 2 threads (ms)", by_threads[2]["with_report_ms"]["p50"]],
         ["load average (1 min) before → after timing", f"{load_before[0]:.1f} → {os.getloadavg()[0]:.1f}"],
         ["import torch/timm/transformers (s)", imports],
         ["pack load after imports, first (s)", first_load], ["pack load, warm (s)", warm_load],
         ["pack size (MB)", size_mb], ["peak RSS (MB)", results["peak_rss_mb"]]]))
    markdown = ("## Model (bundled pack)\n\nTest split of the synthetic paired set, scored from the image files "
                "through the real inference path; batch 1. Text and image+text scores partly re-read "
                "the labels' source (the labels come from the same reports).\n\n" + "\n\n".join(tables))
    write_results("model", results, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
