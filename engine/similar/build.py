"""Grow a user's similar-case index from a folder of studies (``cxr-lens index add``).

Each image the input gate accepts, lateral views excepted, becomes one case: its image, text (when a report is
found beside it) and joint embeddings, its labels (the report labeler's when there is a report,
else the model's positives) and a thumbnail. Images already in the index (same file content) are
skipped, so running it again on a grown folder adds only the new studies. The hnswlib graphs grow
in place (``resize_index`` + ``add_items``, no rebuild) and the new snapshot replaces the old one
atomically (:func:`engine.similar.store.commit_generation`). The images are embedded without a lock;
the live snapshot is then read again, merged with the new cases and committed under the index's
writer lock, so adds running at the same time all keep their cases.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.similar.search import file_sha256, load_user_archive, model_identity, study_key
from engine.similar.archive import CaseArchive, make_thumbnail
from engine.similar.store import commit_generation, writer_lock

log = logging.getLogger(__name__)

REPORT_NAMES = ("report.txt", "REPORT.txt", "report.TXT")
SKIPPED_ISSUES = frozenset({"lateral"})  # the archives hold frontal views, as the model was trained on


@dataclass
class AddSummary:
    """What :func:`add_to_user_index` did.

    ``added``, ``already_indexed`` and ``refused`` list image paths; ``errors`` holds
    ``(path, reason)`` for files that could not be read; ``count`` is the index size after the add.
    """

    root: Path
    added: list[str] = field(default_factory=list)
    already_indexed: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    count: int = 0
    snapshot: str = ""

    def to_dict(self) -> dict:
        """JSON-safe form."""
        return {"index": str(self.root), "snapshot": self.snapshot, "count": self.count, "added": self.added,
                "already_indexed": self.already_indexed,
                "refused": [{"path": p, "reason": r} for p, r in self.refused],
                "errors": [{"path": p, "reason": r} for p, r in self.errors]}


def find_report(image_path: Path) -> Path | None:
    """Return the report text file beside an image, if any.

    Looked for, in order: ``<file>.txt`` (``IM-1.dcm.txt``), ``<stem>.txt`` (``IM-1.txt``),
    ``report.txt`` in the image's folder, and the folder's only ``.txt`` file.
    """
    folder = image_path.parent
    candidates = [image_path.with_name(image_path.name + ".txt"), image_path.with_suffix(".txt")]
    candidates += [folder / name for name in REPORT_NAMES]
    for candidate in candidates:
        if candidate != image_path and candidate.is_file():
            return candidate
    texts = sorted(p for p in folder.glob("*.txt") if p.is_file())
    return texts[0] if len(texts) == 1 else None


def _read_report(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        log.warning("%s: report not readable (%s); indexing the image alone", path, error)
        return None
    return text if text.strip() else None


def embed_case(predictor, image01: np.ndarray, report: str | None) -> tuple[dict[str, np.ndarray], list[str]]:
    """Return one image's embeddings (with its report when given) and the model's positive labels."""
    tensor, _ = predictor.prepare(image01)
    batch, outputs = predictor.embed_batch(tensor, [report] if report else None)
    vectors = {name: vector[0] for name, vector in batch.items()}
    mode = "joint" if report else "image"
    probabilities = predictor.probabilities(outputs[mode].logits.cpu().numpy(), mode)[0]
    positives = [name for name, p, t in zip(predictor.labels, probabilities, predictor.thresholds[mode]) if p >= t]
    return vectors, positives


def _case_labels(report: str | None, positives: list[str]) -> tuple[list[str], str, dict]:
    if report is None:
        return positives, "model", {}
    from engine.reports.labeler import NEGATIVE, label_text, split_sections
    labels = [name for name, status in label_text(report).labels.items() if status != NEGATIVE]
    sections = {s.name: report[s.start:s.end].strip() for s in split_sections(report) if s.name != "preamble"}
    return labels, "report", sections


def _load_or_new(root: Path, pack) -> CaseArchive:
    """The live snapshot of a user index, or an empty archive for the pack's model."""
    archive = load_user_archive(root, pack)
    if archive is None:
        archive = CaseArchive(dim=int(pack.manifest["model"]["embed_dim"]), model=model_identity(pack.manifest))
    return archive


def add_to_user_index(folder: str | Path, predictor, root: str | Path, progress=None) -> AddSummary:
    """Embed the new frontal images under ``folder`` into the user index at ``root``.

    Parameters
    ----------
    folder
        A file, folder (recursive) or DICOMDIR, read with :func:`engine.images.read.read_path`.
    predictor
        The :class:`engine.predict.Predictor` whose model makes the embeddings.
    root
        The user index root (see :func:`engine.similar.search.default_user_index_dir`).
    progress
        Optional ``progress(done, total)`` callback.

    Raises
    ------
    SimilarIndexError
        When the existing user index is damaged or belongs to another model.
    """
    from engine.images.read import read_path
    from engine.images.display import display_float
    from engine.errors import DicomError
    from engine.gate import run_gate

    root = Path(root)
    summary = AddSummary(root)
    archive = _load_or_new(root, predictor.pack)
    known = {case.get("sha256") for case in archive.cases}
    found = read_path(folder)
    summary.errors += [(str(error.path), error.reason) for error in found.errors]
    images = found.images
    cases, embeddings, thumbnails = [], [], []
    for done, image in enumerate(images, start=1):
        sha = file_sha256(image.path)
        if sha in known:
            summary.already_indexed.append(str(image.path))
            continue
        try:
            image01 = display_float(image)
        except DicomError as error:
            summary.errors.append((str(image.path), error.reason))
            continue
        verdict = run_gate(image01, image.modality or None, image.body_part or None, image.view_position or None)
        blocking = [i.message for i in verdict.issues if i.severity == "refuse" or i.code in SKIPPED_ISSUES]
        if blocking:
            summary.refused.append((str(image.path), "; ".join(blocking)))
            continue
        report_path = find_report(Path(image.path))
        report = _read_report(report_path)
        vectors, positives = embed_case(predictor, image01, report)
        labels, label_source, sections = _case_labels(report, positives)
        path = Path(image.path)
        cases.append({"id": f"{path.parent.name}/{path.stem}", "sop_uid": image.sop_uid, "study": study_key(image),
                      "sha256": sha, "labels": labels, "label_source": label_source, "view": image.view_position,
                      "sections": sections, "path": str(path.resolve()),
                      "report_path": str(report_path.resolve()) if report is not None else ""})
        embeddings.append(vectors)
        thumbnails.append(make_thumbnail(image01, archive.thumbnail_size))
        known.add(sha)
        summary.added.append(str(image.path))
        if progress is not None:
            progress(done, len(images))
    if not cases:
        summary.count = archive.count
        return summary
    with writer_lock(root):
        archive = _load_or_new(root, predictor.pack)  # another writer may have committed meanwhile
        now_known = {case.get("sha256") for case in archive.cases}
        keep = [i for i, case in enumerate(cases) if case["sha256"] not in now_known]
        summary.already_indexed += [path for i, path in enumerate(summary.added) if i not in keep]
        summary.added = [summary.added[i] for i in keep]
        if keep:
            archive.add([cases[i] for i in keep], [embeddings[i] for i in keep], np.stack([thumbnails[i] for i in keep]))
            summary.snapshot = commit_generation(root, archive.save).name
    summary.count = archive.count
    return summary
