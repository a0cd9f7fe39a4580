"""Similar-case search on the tiny random-weight pack: index step, save/load, exclusion, incremental add."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.errors import SimilarIndexError

REPORTS = [
    ("FINDINGS: Heart size is normal. The lungs are clear. IMPRESSION: No acute disease.", ["No Finding"]),
    ("FINDINGS: The heart is enlarged. Small left pleural effusion. IMPRESSION: Cardiomegaly and effusion.",
     ["Cardiomegaly", "Effusion"]),
    ("FINDINGS: Right lower lobe consolidation. IMPRESSION: Pneumonia.", ["Opacity", "Pneumonia"]),
    ("FINDINGS: Calcified granuloma right upper lobe. IMPRESSION: No active disease.", ["Granuloma"]),
]


def chest_png(path: Path, seed: int) -> Path:
    """Write a 300×250 chest-like grey PNG with a seed-dependent bright blob; return its path."""
    from PIL import Image as PILImage

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:300, 0:250].astype(np.float32)
    image = 0.7 - 0.4 * (((xx - 75) / 45) ** 2 + ((yy - 150) / 100) ** 2 < 1)
    image -= 0.4 * (((xx - 175) / 45) ** 2 + ((yy - 150) / 100) ** 2 < 1)
    cy, cx, r = rng.uniform(60, 240), rng.uniform(40, 210), rng.uniform(10, 40)
    image += 0.5 * (((xx - cx) ** 2 + (yy - cy) ** 2) < r * r)
    image += 0.05 * rng.standard_normal(image.shape)
    PILImage.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def write_paired_set(folder: Path, n_train: int = 12, n_test: int = 2) -> Path:
    """A miniature paired set (PNG images, report column, 0/1 label columns); return the manifest CSV."""
    from engine.reports.labels import LABEL_NAMES

    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_train + n_test):
        text, labels = REPORTS[i % len(REPORTS)]
        chest_png(folder / f"case{i:02d}.png", seed=i)
        row = {"id": f"case{i:02d}", "study_id": f"S{i:02d}", "image_path": f"case{i:02d}.png",
               "split": "train" if i < n_train else "test", "view": "PA", "report": text}
        row.update({name: int(name in labels) for name in LABEL_NAMES})
        rows.append(row)
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


@pytest.fixture(scope="module")
def indexed_pack(tiny_pack_dir: Path, tmp_path_factory) -> Path:
    """A copy of the tiny pack with index/ built by the real ``training index`` step."""
    from training.index import build_pack_index

    root = tmp_path_factory.mktemp("similar")
    pack = Path(shutil.copytree(tiny_pack_dir, root / "pack"))
    manifest = write_paired_set(root / "paired")
    build_pack_index(pack, manifest, root / "cache", batch_size=4)
    return pack


@pytest.fixture(scope="module")
def search(indexed_pack: Path):
    from engine.predict import Predictor
    from engine.similar.search import SimilarSearch
    return SimilarSearch.open(Predictor(indexed_pack), use_user_index=False)


def test_index_step_writes_manifest_section_and_checksums(indexed_pack: Path):
    from engine.model.pack import load_pack

    pack = load_pack(indexed_pack)  # verifies every listed file, index/ included
    section = pack.manifest["index"]
    assert section["count"] == 12 and section["dim"] == 16 and section["space"] == "cosine"
    assert section["modes"] == ["image", "joint", "text"] and section["mode_counts"] == {"image": 12, "text": 12, "joint": 12}
    assert {"index/index.json", "index/cases.json.gz", "index/thumbnails.npz", "index/joint.hnsw"} <= set(pack.manifest["files"])


def test_case_table_holds_labels_sections_and_thumbnails(search):
    archive = search.archives["pack"]
    case = archive.cases[1]
    assert case["id"] == "case01" and case["labels"] == ["Cardiomegaly", "Effusion"]
    assert case["sections"]["impression"] == "Cardiomegaly and effusion."
    assert len(archive.thumbnails) == 12
    thumbnail = archive.thumbnail(1)
    assert thumbnail.shape == (96, 96) and thumbnail.dtype == np.uint8
    assert thumbnail.std() > 10  # a picture, not a blank


def test_own_study_is_never_returned(search, indexed_pack: Path):
    from engine.images.read import read_image
    from engine.images.display import display_float

    query_path = indexed_pack.parent / "paired" / "case05.png"
    image = read_image(query_path)
    unexcluded = search.query(image=display_float(image), k=3)  # a bare array: nothing identifies its study
    assert unexcluded.cases[0].case_id == "case05" and unexcluded.cases[0].similarity > 0.99
    by_file = search.query(image=image, k=12)  # an engine Image: its file hash identifies the case
    assert "case05" not in [c.case_id for c in by_file.cases] and by_file.excluded == 1
    assert len(by_file.cases) == 11
    by_id = search.query(image=display_float(image), k=3, exclude_ids=("case05",))
    assert "case05" not in [c.case_id for c in by_id.cases]
    assert by_id.cases[0].case_id == unexcluded.cases[1].case_id


def test_results_carry_labels_shared_labels_and_snippet(search):
    result = search.query(report="FINDINGS: The heart is enlarged. Small left pleural effusion.", k=4, mode="text")
    assert result.mode == "text" and result.query_label_source == "report"
    assert set(result.query_labels) == {"Cardiomegaly", "Effusion"}
    assert len(result.cases) == 4
    sims = [c.similarity for c in result.cases]
    assert sims == sorted(sims, reverse=True)
    for case in result.cases:
        assert set(case.shared_labels) == set(case.labels) & {"Cardiomegaly", "Effusion"}
        assert case.snippet and case.thumbnail.shape == (96, 96)


def test_free_text_query_and_mode_errors(search, chest_like_image):
    result = search.query(text="left basilar consolidation", k=2)
    assert result.mode == "text" and len(result.cases) == 2 and "Opacity" in result.query_labels
    with pytest.raises(SimilarIndexError, match="image mode needs an image"):
        search.query(text="effusion", mode="image")
    with pytest.raises(SimilarIndexError, match="nothing to search"):
        search.query()
    joint = search.query(image=chest_like_image, report="Cardiomegaly.", k=2)
    assert joint.mode == "joint" and joint.gate is not None


def test_image_query_encodes_the_image_once_and_matches_predict_and_embed(search, chest_like_image, monkeypatch):
    predictor, model = search.predictor, search.predictor.pack.model
    report = "Cardiomegaly."
    plain = predictor.predict(chest_like_image, report)
    together = predictor.predict(chest_like_image, report, embed=True)
    assert [f.probability for f in together.findings] == pytest.approx([f.probability for f in plain.findings])
    separate = predictor.embed(chest_like_image, report)
    assert set(together.vectors) == set(separate) == {"image", "text", "joint"}
    for mode, vector in separate.items():
        np.testing.assert_allclose(together.vectors[mode], vector, atol=1e-5)
    calls = []
    encode = model.encode_image
    monkeypatch.setattr(model, "encode_image", lambda *a, **kw: calls.append(1) or encode(*a, **kw))
    vectors, gate, _ = search.embed_query(chest_like_image, report)
    assert len(calls) == 1 and gate is not None
    np.testing.assert_allclose(vectors["joint"], separate["joint"], atol=1e-5)


def test_identical_results_after_save_and_load(search, tmp_path: Path):
    from engine.similar.archive import CaseArchive

    archive = search.archives["pack"]
    rng = np.random.default_rng(3)
    queries = rng.standard_normal((5, archive.dim)).astype(np.float32)
    before = {mode: [archive.search(mode, q, 6) for q in queries] for mode in ("image", "text", "joint")}
    archive.save(tmp_path / "copy")
    loaded = CaseArchive.load(tmp_path / "copy")
    after = {mode: [loaded.search(mode, q, 6) for q in queries] for mode in ("image", "text", "joint")}
    assert after == before
    assert loaded.cases == archive.cases and loaded.thumbnails == archive.thumbnails


def test_damaged_index_is_refused(search, tmp_path: Path):
    from engine.similar.archive import CaseArchive

    folder = tmp_path / "copy"
    search.archives["pack"].save(folder)
    graph = folder / "joint.hnsw"
    graph.write_bytes(graph.read_bytes()[:-100])  # truncated: must never reach hnswlib
    with pytest.raises(SimilarIndexError, match="joint.hnsw does not match"):
        CaseArchive.load(folder)


def test_incremental_add_grows_graphs_in_place(tiny_predictor, tmp_path: Path):
    from engine.similar.archive import CaseArchive

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((30, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    archive = CaseArchive(dim=16)
    thumbs = np.zeros((10, 96, 96), np.uint8)
    archive.add([{"id": f"a{i}", "labels": []} for i in range(10)], [{"image": v} for v in vectors[:10]], thumbs)
    archive.save(tmp_path / "one")
    grown = CaseArchive.load(tmp_path / "one")
    grown.add([{"id": f"b{i}", "labels": []} for i in range(20)],
              [{"image": v, "text": -v} for v in vectors[10:]], np.zeros((20, 96, 96), np.uint8))
    assert grown.count == 30 and grown.mode_counts() == {"image": 30, "text": 20}
    for row, vector in enumerate(vectors):  # every vector, old and new, is its own nearest neighbour
        assert grown.search("image", vector, 1)[0][0] == row
    assert grown.search("text", -vectors[15], 1)[0][0] == 15 and grown.search("text", -vectors[3], 30)[-1][0] >= 10
    grown.save(tmp_path / "two")
    assert CaseArchive.load(tmp_path / "two").search("image", vectors[25], 3) == grown.search("image", vectors[25], 3)


def test_stale_pack_index_is_refused(indexed_pack: Path, tmp_path: Path):
    import json

    from engine.model.pack import load_pack, write_manifest
    from engine.predict import Predictor
    from engine.similar.search import SimilarSearch

    pack = Path(shutil.copytree(indexed_pack, tmp_path / "pack"))
    meta_path = pack / "index" / "index.json"
    meta = json.loads(meta_path.read_text())
    meta["model"]["weights_sha256"] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    write_manifest(pack, json.loads((pack / "manifest.json").read_text()))
    with pytest.raises(SimilarIndexError, match="other weights"):
        SimilarSearch.open(Predictor(load_pack(pack)), use_user_index=False)


def test_retrieval_metrics_by_hand():
    from bench.retrieval_metrics import label_matrix, query_metrics, relevance

    names = ("Effusion", "Edema", "No Finding")
    archive = label_matrix([["Effusion"], ["No Finding"], ["Effusion", "Edema"], ["Edema"], ["No Finding"]], names)
    rel = relevance(label_matrix([["Effusion"]], names)[0], archive, names)
    assert rel["lenient"].tolist() == [True, False, True, False, False]
    assert rel["strict"].tolist() == [True, False, False, False, False]
    assert rel["graded"].tolist() == [1.0, 0.0, 0.5, 0.0, 0.0]
    nf = relevance(label_matrix([["No Finding"]], names)[0], archive, names)
    assert nf["lenient"].tolist() == [False, True, False, False, True]  # No Finding matches only No Finding
    m = query_metrics(np.array([3, 2, 1, 0, 4]), rel["lenient"], rel["graded"], k=5)
    assert m["p_at_1"] == 0.0 and m["p_at_5"] == 0.4 and m["r_at_5"] == 1.0 and m["mrr"] == 0.5
    assert m["map_at_5"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    ideal = 1 + 0.5 / np.log2(3)
    assert m["ndcg_at_5"] == pytest.approx((0.5 / np.log2(3) + 1 / np.log2(5)) / ideal)


def test_bench_quality_part_runs_on_the_tiny_pack(indexed_pack: Path):
    from bench.retrieval_quality import run_quality

    quality = run_quality(threads=1, pack_dir=indexed_pack, manifest=indexed_pack.parent / "paired" / "manifest.csv")
    assert quality["test_queries"] == 2 and quality["archive_cases"] == 12
    for mode in ("image", "text", "joint"):
        assert 0.0 <= quality["modes"][mode]["lenient"]["p_at_5"] <= 1.0
        # the random tiny model's text vectors nearly coincide; hnswlib and numpy may order such ties differently
        assert quality["modes"][mode]["hnsw_recall_at_10_vs_exact"] >= 0.8
    assert set(quality["random"]) == {"lenient", "strict"}
    with pytest.raises(SystemExit) as stopped:  # a bench without its data stops before it measures anything
        run_quality(pack_dir=indexed_pack.parent / "nowhere")
    assert stopped.value.code == 2


def test_a_bench_without_its_data_exits_2_and_keeps_its_committed_results(tmp_path: Path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    committed = root / "bench" / "results" / "model.json"
    before = committed.read_bytes() if committed.exists() else None
    done = subprocess.run([sys.executable, str(root / "bench" / "model.py"), "--manifest", str(tmp_path / "none.csv")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "the paired set's manifest is missing" in done.stderr
    assert (committed.read_bytes() if committed.exists() else None) == before
