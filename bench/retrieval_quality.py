"""Part (a) of bench/retrieval.py: retrieval quality of the bundled pack on the paired test split."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from bench.retrieval_metrics import label_matrix, mean_metrics, query_metrics, relevance

log = logging.getLogger("bench.retrieval")

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "data" / "paired" / "manifest.csv"
MODES = ("image", "text", "joint")
RULES = ("lenient", "strict")
FETCH = 100  # ranked list length per query (MRR is the reciprocal rank within it)
TARGETS = {("joint", "lenient", "p_at_5"): 0.85, ("image", "lenient", "p_at_5"): 0.75}
LATENCY_QUERIES = 20


def _embed_queries(predictor, records, batch_size: int = 16) -> tuple[dict[str, np.ndarray], float]:
    """Embed test records through the inference path; return ``{mode: (n, E)}`` and ms per query."""
    import torch

    from engine.images.read import read_image
    from engine.images.display import display_float

    out = {mode: [] for mode in MODES}
    start = time.perf_counter()
    for s in range(0, len(records), batch_size):
        chunk = records[s:s + batch_size]
        images = torch.cat([predictor.prepare(display_float(read_image(r.image_path)))[0] for r in chunk])
        vectors, _ = predictor.embed_batch(images, [r.text for r in chunk])
        for mode in out:
            out[mode].append(vectors[mode])
    ms = (time.perf_counter() - start) * 1000 / max(1, len(records))
    return {mode: np.concatenate(v).astype(np.float32) for mode, v in out.items()}, ms


def _exclusions(archive, records) -> list[set[int]]:
    from engine.images.read import read_image
    from engine.similar.search import file_sha256, study_key

    return [archive.rows_matching(study_key(read_image(r.image_path)) or None, file_sha256(r.image_path),
                                  (r.id,)) for r in records]


def _score(rankings: list[np.ndarray], queries: np.ndarray, archive_labels: np.ndarray,
           names: tuple[str, ...]) -> dict:
    per_rule = {rule: [] for rule in RULES}
    for ranking, query in zip(rankings, queries):
        rel = relevance(query, archive_labels, names)
        for rule in RULES:
            per_rule[rule].append(query_metrics(ranking, rel[rule], rel["graded"], k=10))
    return {rule: mean_metrics(rows) for rule, rows in per_rule.items()}


def _by_label(rankings: list[np.ndarray], queries: np.ndarray, archive_labels: np.ndarray,
              names: tuple[str, ...]) -> dict:
    """Lenient P@5 averaged over the queries that carry each label (which findings retrieve well)."""
    p5 = np.array([query_metrics(r, relevance(q, archive_labels, names)["lenient"], np.zeros(len(archive_labels)),
                                 k=10)["p_at_5"] for r, q in zip(rankings, queries)])
    return {name: {"queries": int(queries[:, j].sum()), "lenient_p_at_5": float(p5[queries[:, j]].mean())}
            for j, name in enumerate(names) if queries[:, j].any()}


def _latency(predictor, archive_folder: Path, records) -> dict:
    """End-to-end ``SimilarSearch.query`` time (model included), image mode and joint mode."""
    from engine.images.read import read_image
    from engine.similar.search import SimilarSearch

    search = SimilarSearch.open(predictor, use_user_index=False)
    out = {}
    for mode in ("image", "joint"):
        for record in records[:2]:  # warm-up: first calls load the labeler and allocate buffers
            search.query(image=read_image(record.image_path), report=record.text if mode == "joint" else None, mode=mode)
        times = []
        for record in records[2:2 + LATENCY_QUERIES] or records[:LATENCY_QUERIES]:
            image = read_image(record.image_path)
            start = time.perf_counter()
            search.query(image=image, report=record.text if mode == "joint" else None, k=5, mode=mode)
            times.append((time.perf_counter() - start) * 1000)
        out[f"{mode}_query_p50_ms"] = float(np.percentile(times, 50))
    return out


def run_quality(threads: int = 2, pack_dir: Path | None = None, manifest: Path = MANIFEST) -> dict:
    """Score every mode and a random ranking; return a results dict (exit 2 without the pack's index or the data)."""
    from bench._common import require_data
    from engine.model.pack import read_manifest
    from engine.resources import bundled_pack_dir

    pack_dir = Path(pack_dir or bundled_pack_dir())
    require_data(pack_dir / "manifest.json", "the trained pack", "train one with `python -m training all`")
    index_section = read_manifest(pack_dir).get("index")
    require_data(pack_dir / "index" if index_section else None, f"the similar-case index of the pack at {pack_dir}",
                 "run `python -m training index`")
    require_data(manifest, "the paired set's manifest", "build it with `python -m training synth`")

    from engine.predict import Predictor
    from engine.similar.archive import CaseArchive
    from training.dataset import read_records

    predictor = Predictor(pack_dir, threads=threads)
    names = predictor.labels
    archive = CaseArchive.load(pack_dir / "index", verify=False)
    records = [r for r in read_records(manifest, names) if r.split == "test"]
    archive_labels = label_matrix([case["labels"] for case in archive.cases], names)
    query_labels = np.stack([r.labels >= 0.5 for r in records])
    vectors, embed_ms = _embed_queries(predictor, records)
    exclusions = _exclusions(archive, records)
    result = {"pack": read_manifest(pack_dir)["name"], "pack_version": read_manifest(pack_dir)["version"],
              "archive_cases": archive.count, "test_queries": len(records), "index": index_section,
              "embed_ms_per_query_batched": embed_ms, "excluded_rows": int(sum(map(len, exclusions))), "modes": {}}
    for mode in MODES:
        rankings = []
        start = time.perf_counter()
        for vector, skip in zip(vectors[mode], exclusions):
            rankings.append(np.array([row for row, _ in archive.search(mode, vector, FETCH, skip)], np.int64))
        search_ms = (time.perf_counter() - start) * 1000 / len(records)
        rows, stored = archive.vectors(mode)
        exact = rows[np.argsort(-(vectors[mode] @ stored.T), axis=1)[:, :10]]
        agreement = float(np.mean([len(set(r[:10]) & set(e)) / 10 for r, e in zip(rankings, exact)]))
        result["modes"][mode] = {**_score(rankings, query_labels, archive_labels, names),
                                 "search_ms_per_query": search_ms, "hnsw_recall_at_10_vs_exact": agreement,
                                 "by_query_label": _by_label(rankings, query_labels, archive_labels, names)}
    rng = np.random.default_rng(0)
    random_rankings = [np.array([r for r in rng.permutation(archive.count) if r not in skip][:FETCH])
                       for skip in exclusions]
    result["random"] = _score(random_rankings, query_labels, archive_labels, names)
    result["latency"] = _latency(predictor, pack_dir / "index", records)
    result["targets"] = {f"{mode}_{rule}_{metric}_ge_{value}": result["modes"][mode][rule][metric] >= value
                         for (mode, rule, metric), value in TARGETS.items()}
    return result


def quality_section(quality: dict) -> str:
    """Markdown for part (a)."""
    from bench._common import markdown_table

    metrics = ["p_at_1", "p_at_5", "p_at_10", "r_at_10", "map_at_10", "ndcg_at_10", "mrr"]
    rows = []
    for rule in RULES:
        for mode in (*MODES, "random"):
            source = quality["random"] if mode == "random" else quality["modes"][mode]
            rows.append([rule, mode if mode != "random" else "random ranking"] +
                        [round(source[rule][m], 3) for m in metrics])
    table = markdown_table(["relevance", "mode", "P@1", "P@5", "P@10", "R@10", "mAP@10", "nDCG@10", "MRR"], rows)
    lat = quality["latency"]
    agreement = ", ".join(f"{m} {quality['modes'][m]['hnsw_recall_at_10_vs_exact']:.3f}" for m in MODES)
    return ("### Quality on the paired test split\n\n"
            f"{quality['test_queries']} test studies query the pack's archive of {quality['archive_cases']} training "
            f"cases ({quality['pack']} {quality['pack_version']}), through the shipped hnswlib graphs. Lenient: "
            "shares ≥ 1 finding (No Finding matches only No Finding); strict: same label set; nDCG gain = "
            "label-set Jaccard; mAP@10 normalised by min(10, relevant); MRR within the top 100. Labels are the "
            "paired set's ground truth (report labeler + MeSH).\n\n" + table +
            f"\n\nhnswlib top-10 agreement with exact search on these queries: {agreement}. End-to-end query "
            f"(read + model + search) p50: image {lat['image_query_p50_ms']:.0f} ms, "
            f"joint {lat['joint_query_p50_ms']:.0f} ms.")
