"""Rendering of the explain bench: the docs figure and the BENCHMARKS.md section."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench._common import markdown_table

NAMES = {"gradcam": "Grad-CAM", "attention": "attention rollout", "ig": "Integrated Gradients (32 steps)",
         "igcam": "IG x HiResCAM"}  # the figure font has no "×"
LIMITS_MS = {"gradcam": 500, "attention": 500, "ig": 5000, "igcam": 5000}  # the runtime targets


def make_figure(rows, path: Path) -> None:
    """One row per case: the image with the ground-truth outline, then each method; saved to ``path``.

    ``rows`` holds ``(finding, case id, image01, mask, {method: values}, why)`` tuples.
    """
    from PIL import Image as PILImage, ImageDraw, ImageFont

    from engine.explain.overlay import draw_outline, render_overlay

    side, gap, title_h, caption_h = 320, 8, 30, 30
    columns = 1 + len(rows[0][4])
    width = side * columns + gap * (columns - 1)
    sheet = PILImage.new("RGB", (width, title_h + len(rows) * (side + caption_h)), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=16)
    titles = ["image + ground truth"] + [NAMES.get(m, m) for m in rows[0][4]]
    for i, title in enumerate(titles):
        draw.text((i * (side + gap) + 8, 6), title, fill=(230, 230, 230), font=font)
    for r, (finding, case_id, image01, mask, maps, why) in enumerate(rows):
        top = title_h + r * (side + caption_h)
        grey = np.round(np.repeat(image01[..., None], 3, axis=2) * 255).astype(np.uint8)
        panels = [draw_outline(grey, mask, (255, 255, 255), 3)]
        panels += [draw_outline(render_overlay(image01, values), mask, (255, 255, 255), 3) for values in maps.values()]
        for i, rgb in enumerate(panels):
            sheet.paste(PILImage.fromarray(rgb).resize((side, side), PILImage.BILINEAR), (i * (side + gap), top))
        draw.text((8, top + side + 6), f"{finding}, test case {case_id} ({why}); white outline: ground-truth "
                  "mask; image-only input", fill=(230, 230, 230), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def markdown(results: dict) -> str:
    """The docs/BENCHMARKS.md section, from the results document alone (the validation split's
    section has the quality table only)."""
    settings, summary, pack, t = results["settings"], results["methods"], results["pack"], results["targets"]
    split = results.get("split", "test")
    header = ["map", "finding", "n", "pointing", f"pointing ±{settings['pointing_tolerance_px']}px",
              "IoU top 10 %", "deletion AUC ↓", "insertion AUC ↑"]
    rows = []
    for name in settings["variants"] + settings["baseline_maps"]:
        for finding in settings["focal"] + ["focal"]:
            e = summary[name].get(finding)
            if e:
                rows.append([name, "**all focal**" if finding == "focal" else finding, e["n"], e["pointing"],
                             e["pointing_tol"], e["iou_top10"], _fmt(e["deletion_auc"]), _fmt(e["insertion_auc"])])
    source = ("random-weight fallback: no trained pack present" if pack["random_weight_fallback"]
              else f"`{pack['path']}`, {pack['image_encoder']} at {pack['input_size']} px")
    shipped = ", ".join(settings["methods"])
    above = ", ".join(f"{m} {'yes' if ok else 'no'}" for m, ok in t["above_baselines"].items())
    sections = [
        "## Heatmaps against ground truth (`bench/explain.py`)" if split == "test" else
        "## Heatmaps on the validation split (`bench/explain.py --split val`)",
        f"Pack **{pack['name']} {pack['version']}** ({source}); paired {split} split, frontal synthetic images, "
        f"up to {settings['per_finding']} sampled cases per focal finding, visited in turn until the time "
        "budget ends. Each map explains the finding's logit from the image alone (`attention_with_report`: "
        "image + the case's report; `hirescam`: Grad-CAM with per-position gradients; `gradcam_stage-2`: Grad-CAM on the "
        "encoder's feature level before the last (twice as fine); `ig_blur`, `igcam_blur`: from a "
        f"blurred baseline; deletion/insertion are run for the shipped methods ({shipped}) with their "
        "defaults and the baselines only). Deletion/insertion: the label's probability as the map's top "
        "pixels are replaced by (or restored from) a blurred copy, in "
        f"{settings['curve_steps']} steps. The quality measures run on one torch thread"
        + (", the runtimes on two." if split == "test" else ".")
        + (" The validation split is where method settings are chosen; the test split reports them."
           if split == "val" else ""),
        markdown_table(header, rows),
        f"Best map by pointing game on all focal findings: **{t['best_method']}** at {t['best_pointing']:.3f} "
        f"(target ≥ 0.85: {'met' if t['best_pointing_met'] else 'not met'}). Above both baselines on "
        f"pointing game and IoU: {above}; the methods as shipped ({shipped}): "
        f"{'all above' if t['all_methods_above_baselines'] else 'not all above'}.",
    ]
    if split != "test":
        return "\n\n".join(sections)
    words = results["report_words"]
    sanity = [[m, v["spearman_trained_vs_randomised"], v["similarity_drop"], v["spearman_trained_vs_random_map"]]
              for m, v in results["sanity"].items()]
    rt = results["runtime"]
    speed = [[mode, m, rt[f"{mode}.{m}_ms"], rt[f"{mode}.{m}_median_ms"], rt[f"{mode}.{m}_cpu_ms"],
              rt[f"{mode}.forward_ms"], rt[f"{mode}.{m}_vs_forward"], f"≤ {LIMITS_MS[m]}"]
             for mode in ("image", "joint") for m in settings["methods"]]
    return "\n\n".join(sections + [
        f"Report words (attention with the report; gradient × embedding): on {words['cases']} cases whose "
        "report mentions the finding (labeler evidence) within the words the model reads, the "
        f"highest-scoring word is such a mention in {_fmt(words['top_word_is_mention'])} of them; a random "
        f"word would be in {_fmt(words['chance'])}.",
        "Model-randomisation sanity check (Spearman correlation of maps, trained vs re-initialised weights):",
        markdown_table(["method", "Spearman trained vs randomised", "similarity drop", "Spearman vs random map"],
                       sanity),
        f"Runtime (ms; minimum and median of 2 runs after a warm-up; torch threads {rt['threads']}; 1-min "
        f"load average {rt['load_average_1min']} on a 2-core machine shared with other jobs; the baseline "
        "is one plain forward pass of the same input, minimum of 5):",
        markdown_table(["input", "method", "explain min", "explain median", "CPU time (process)",
                        "forward (baseline)", "ratio (min)", "target"], speed),
        "On an idle machine the wall time of a 2-thread run lies roughly between half the process CPU "
        "time and the CPU time; on this shared machine the wall times include waiting for the cores. "
        "The first explanation in a process is slower (cold caches and kernels): "
        + ", ".join(f"{k} {v:.0f} ms" for k, v in rt.get("first_call_ms", {}).items()) + ".",
    ])
