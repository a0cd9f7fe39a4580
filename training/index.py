"""``python -m training index``: embed the training split into the pack's similar-case archive.

Every frontal training image is run through the pack's own model (the verified pack, not the
run folder) with its report, giving the image, text and joint embeddings in one forward pass. They
go into hnswlib cosine graphs in ``<pack>/index/`` with the case table (id, study, labels, report
sections, view) and 96-pixel thumbnails; the manifest's ``index`` section and file checksums are
then refreshed through :func:`engine.model.pack.write_manifest`. Images come from the training cache
(``data/cache/train_<size>_<n>.npy``, the same uint8 canvases the model was trained on), built
here when absent.
"""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np

from engine.errors import EngineError

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent


def _case_rows(records, label_names: tuple[str, ...], keep_text: bool) -> list[dict]:
    """Case-table rows for training records: ids, DICOM study UID, file hash, labels, sections, view."""
    from engine.images.read import read_image
    from engine.errors import DicomError
    from engine.reports.labeler import split_sections
    from engine.similar.search import file_sha256, study_key

    rows = []
    for record in records:
        try:
            study_uid = study_key(read_image(record.image_path))
        except DicomError:
            study_uid = ""  # PNG/JPEG training images have no UID; the file hash still identifies them
        sections = {}
        if keep_text:
            sections = {s.name: record.text[s.start:s.end].strip() for s in split_sections(record.text)
                        if s.name != "preamble"}
        rows.append({"id": record.id, "report_id": record.study_id, "study": study_uid,
                     "sha256": file_sha256(record.image_path),
                     "labels": [name for name, value in zip(label_names, record.labels) if value >= 0.5],
                     "label_source": "ground truth", "view": record.view, "sections": sections})
    return rows


def embed_cached(predictor, cache: np.ndarray, texts: list[str], batch_size: int = 32,
                 progress=None) -> dict[str, np.ndarray]:
    """Embed cached uint8 canvases with their report texts; return ``{mode: (n, E) float32}``."""
    import torch

    from engine.model.preprocess import normalise, uint8_to_canvas

    out = {"image": [], "text": [], "joint": []}
    starts = range(0, len(texts), batch_size)
    for start in (starts if progress is None else progress(starts)):
        stop = min(start + batch_size, len(texts))
        images = torch.from_numpy(np.stack([normalise(uint8_to_canvas(cache[i]), predictor.params)
                                            for i in range(start, stop)]))
        vectors, _ = predictor.embed_batch(images, texts[start:stop])
        for mode in out:
            out[mode].append(vectors[mode])
    return {mode: np.concatenate(chunks) for mode, chunks in out.items()}


def build_pack_index(pack_dir: str | Path, manifest_csv: str | Path, cache_dir: str | Path,
                     split: str = "train", batch_size: int = 32, keep_text: bool = True,
                     threads: int = 2, progress=None) -> dict:
    """Build ``<pack>/index/`` from one split of the paired set; return the manifest's new ``index`` section."""
    from engine.model.pack import load_pack, read_manifest, write_manifest
    from engine.predict import Predictor
    from engine.similar.search import model_identity
    from engine.similar.archive import CaseArchive, make_thumbnail
    from training.dataset import build_cache, read_records

    started = time.perf_counter()
    pack_dir = Path(pack_dir)
    predictor = Predictor(load_pack(pack_dir), threads=threads)
    records = [r for r in read_records(manifest_csv, predictor.labels) if r.split == split]
    if not records:
        raise EngineError(f"the paired set has no {split} split", path=manifest_csv)
    params = predictor.params
    cache = build_cache(records, params, Path(cache_dir) / f"{split}_{params.size}_{len(records)}.npy")
    vectors = embed_cached(predictor, cache, [r.text for r in records], batch_size, progress)
    cases = _case_rows(records, predictor.labels, keep_text)
    thumbnails = np.stack([make_thumbnail(cache[i] / 255.0) for i in range(len(records))])
    archive = CaseArchive(dim=vectors["joint"].shape[1], model=model_identity(predictor.pack.manifest))
    archive.add(cases, [{mode: vectors[mode][i] for mode in vectors} for i in range(len(records))], thumbnails)

    staging, final = pack_dir / "index.tmp", pack_dir / "index"
    if staging.exists():
        shutil.rmtree(staging)
    archive.save(staging)
    if final.exists():
        shutil.rmtree(final)
    staging.replace(final)
    section = {"modes": sorted(archive.mode_counts()), "dim": archive.dim, "count": archive.count,
               "space": "cosine", "M": archive.M, "ef": archive.ef, "ef_construction": archive.ef_construction,
               "mode_counts": archive.mode_counts(), "split": split, "thumbnail_size": archive.thumbnail_size,
               "report_text": keep_text, "folder": "index", "built_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_manifest(pack_dir, dict(read_manifest(pack_dir), index=section))
    CaseArchive.load(final)  # the written index must load and verify
    log.info("indexed %d %s cases into %s in %.1f s", archive.count, split, final, time.perf_counter() - started)
    return section


def register(subparsers) -> None:
    """Add the ``index`` step."""
    parser = subparsers.add_parser("index", help="embed the training split into the pack's similar-case index")
    parser.add_argument("--pack", help="pack folder to add the index to (default: the bundled pack)")
    parser.add_argument("--manifest", default=str(ROOT / "data" / "paired" / "manifest.csv"),
                        help="paired-set manifest CSV (default data/paired/manifest.csv)")
    parser.add_argument("--cache-dir", default=str(ROOT / "data" / "cache"), help="uint8 canvas cache folder")
    parser.add_argument("--split", default="train", help="split to index (default train)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-report-text", action="store_true",
                        help="keep labels but not the report sections in the case table")
    parser.set_defaults(func=run)


def run(args) -> int:
    """Build the index and print its manifest section."""
    import json

    from engine.resources import bundled_pack_dir

    section = build_pack_index(args.pack or bundled_pack_dir(), args.manifest, args.cache_dir, args.split,
                               args.batch_size, keep_text=not args.no_report_text, threads=args.threads)
    print(json.dumps(section, indent=2))
    return 0
