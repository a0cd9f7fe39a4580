"""Similar-case search: "show me cases like this one", from the pack's archive and the user's own.

``SimilarSearch.open(predictor)`` loads the pack's ``index/`` archive (built from the training
split by ``python -m training index``) and, when present, the user index beside it (made by
``cxr-lens index add``). :meth:`SimilarSearch.query` embeds an image, a report, both, or a
free-text phrase with the pack's model, searches the chosen mode's hnswlib graph of every archive
and merges the hits by cosine similarity. The query's own study (same StudyInstanceUID, same source
file, or a given case id) is never returned.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.checksums import sha256_file as file_sha256
from engine.errors import SimilarIndexError
from engine.similar.archive import CaseArchive
from engine.similar.store import MODES, current_generation

log = logging.getLogger(__name__)

USER_INDEX_ENV = "CXR_LENS_USER_INDEX"
SNIPPET_CHARS = 200
PACK_ARCHIVE, USER_ARCHIVE = "pack", "user"


@dataclass(frozen=True)
class SimilarCase:
    """One retrieved case.

    Attributes
    ----------
    case_id
        The case's id in its archive (report id for the pack's archive, file-derived for a user's).
    archive
        ``"pack"`` or ``"user"``.
    similarity
        Cosine similarity of the embeddings, in [-1, 1].
    labels
        The case's labels (ground truth for the pack archive; see ``label_source``).
    shared_labels
        Labels the case shares with the query's labels.
    snippet
        The start of the case's impression (or findings) text; empty when it has no report.
    thumbnail
        ``(S, S)`` uint8 greyscale thumbnail.
    view, study, path, label_source
        View position, study id, original file (user archive only) and where the labels come from.
    """

    case_id: str
    archive: str
    similarity: float
    labels: tuple[str, ...]
    shared_labels: tuple[str, ...]
    snippet: str
    thumbnail: np.ndarray = field(repr=False, compare=False)
    view: str = ""
    study: str = ""
    path: str = ""
    label_source: str = ""
    sections: dict = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        """JSON-safe form (without the thumbnail pixels)."""
        return {"case_id": self.case_id, "archive": self.archive, "similarity": round(self.similarity, 5),
                "labels": list(self.labels), "shared_labels": list(self.shared_labels), "snippet": self.snippet,
                "view": self.view, "study": self.study, "path": self.path, "label_source": self.label_source}


@dataclass(frozen=True)
class SimilarResult:
    """What :meth:`SimilarSearch.query` returns: the mode searched, the query's labels, the cases."""

    mode: str
    query_labels: tuple[str, ...]
    query_label_source: str
    cases: tuple[SimilarCase, ...]
    excluded: int = 0
    gate: object = None

    def to_dict(self) -> dict:
        """JSON-safe form."""
        return {"mode": self.mode, "query_labels": list(self.query_labels),
                "query_label_source": self.query_label_source, "excluded_own_study": self.excluded,
                "gate": None if self.gate is None else self.gate.to_dict(),
                "cases": [case.to_dict() for case in self.cases]}


def snippet(sections: dict, limit: int = SNIPPET_CHARS) -> str:
    """Return the impression (else findings) text, whitespace collapsed, cut at ``limit`` characters."""
    text = " ".join(str(sections.get("impression") or sections.get("findings") or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def model_identity(manifest: dict) -> dict:
    """The pack-manifest fields that say which model made a set of embeddings."""
    return {"pack": manifest.get("name"), "version": manifest.get("version"),
            "weights_sha256": manifest.get("files", {}).get("weights.safetensors", {}).get("sha256")}


def default_user_index_dir(manifest: dict) -> Path:
    """Where ``cxr-lens index add`` keeps the user index of a pack.

    ``$CXR_LENS_USER_INDEX`` when set, else ``$XDG_DATA_HOME/cxr-lens/user-index/<pack>-<weights>``
    (``~/.local/share`` when XDG_DATA_HOME is unset). One folder per model, because embeddings of
    one model mean nothing to another.
    """
    override = os.environ.get(USER_INDEX_ENV)
    if override:
        return Path(override).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    identity = model_identity(manifest)
    return base / "cxr-lens" / "user-index" / f"{identity['pack']}-{(identity['weights_sha256'] or 'unknown')[:12]}"


def load_user_archive(root: str | Path, pack) -> CaseArchive | None:
    """Load the live snapshot of a user index root, or None when there is none yet.

    Raises
    ------
    SimilarIndexError
        When the index is damaged or was made by another model.
    """
    folder = current_generation(Path(root)) if Path(root).is_dir() else None
    if folder is None:
        return None
    archive = CaseArchive.load(folder)
    expected = model_identity(pack.manifest)
    if archive.model.get("weights_sha256") != expected["weights_sha256"]:
        raise SimilarIndexError(f"the user index was made by pack {archive.model.get('pack')} "
                                f"{archive.model.get('version')}, not the loaded {expected['pack']} {expected['version']}",
                                path=root, hint="use the pack it was made with, or delete the folder and run "
                                                "`cxr-lens index add` again")
    return archive


def study_key(image) -> str:
    """The StudyInstanceUID of a DICOM image, else "" (PNG/JPEG files share a folder-made pseudo study)."""
    return image.study_uid if getattr(image, "kind", "") == "dicom" else ""


def choose_mode(mode: str | None, has_image: bool, has_text: bool) -> str:
    """Resolve the search mode: joint with both inputs, else the one given; check ``mode`` is usable."""
    if not has_image and not has_text:
        raise SimilarIndexError("nothing to search with: give an image, a report, a free-text query, or both")
    if mode is None:
        return "joint" if has_image and has_text else ("image" if has_image else "text")
    if mode not in MODES:
        raise SimilarIndexError(f"unknown search mode {mode!r}", hint=f"use one of {', '.join(MODES)}")
    if mode == "image" and not has_image:
        raise SimilarIndexError("image mode needs an image", hint="give an image or use --mode text")
    if mode == "text" and not has_text:
        raise SimilarIndexError("text mode needs a report or a free-text query", hint="give --report or --text")
    return mode


class SimilarSearch:
    """Searches the pack's archive and the user's archive with one pack's model.

    Parameters
    ----------
    predictor
        An :class:`engine.predict.Predictor` (its pack's model makes the query embeddings).
    archives
        ``{"pack": CaseArchive, "user": CaseArchive}``; either may be absent.
    """

    def __init__(self, predictor, archives: dict[str, CaseArchive]):
        self.predictor = predictor
        self.archives = dict(archives)

    @classmethod
    def open(cls, predictor, user_index: str | Path | None = None, use_user_index: bool = True) -> "SimilarSearch":
        """Load the pack's ``index/`` archive and (unless disabled) the user index.

        Raises
        ------
        SimilarIndexError
            When neither archive exists or one is damaged.
        """
        pack = predictor.pack
        archives = {}
        pack_folder = Path(pack.path) / "index"
        if pack_folder.is_dir() and pack.manifest.get("index"):
            archive = CaseArchive.load(pack_folder, verify=False)  # load_pack checked the sha256s
            if archive.model.get("weights_sha256") != model_identity(pack.manifest)["weights_sha256"]:
                raise SimilarIndexError("the pack's index/ was made by other weights than the pack's", path=pack_folder,
                                        hint="rebuild it with `python -m training index --pack DIR`")
            archives[PACK_ARCHIVE] = archive
        if use_user_index:
            root = Path(user_index) if user_index is not None else default_user_index_dir(pack.manifest)
            user = load_user_archive(root, pack)
            if user is not None:
                archives[USER_ARCHIVE] = user
        if not archives:
            raise SimilarIndexError("the pack has no similar-case index and there is no user index", path=pack.path,
                                    hint="build one with `python -m training index` or `cxr-lens index add FOLDER`")
        return cls(predictor, archives)

    def embed_query(self, image=None, report: str | None = None) -> tuple[dict, object, tuple[str, ...]]:
        """Return the query's embeddings, the gate verdict (None without an image) and its predicted positives."""
        prediction = self.predictor.predict(image, report, embed=True) if image is not None else None
        vectors = prediction.vectors if prediction is not None else None
        if vectors is None:  # text alone, or an image the gate stopped before the model
            vectors = self.predictor.embed(image=image, report=report)
        positives = tuple(prediction.positives()) if prediction is not None else ()
        return vectors, (prediction.gate if prediction is not None else None), positives

    def query(self, image=None, report: str | None = None, text: str | None = None, k: int = 5,
              mode: str | None = None, study: str | None = None, sha256: str | None = None,
              exclude_ids: tuple[str, ...] = ()) -> SimilarResult:
        """Find the ``k`` most similar cases.

        Parameters
        ----------
        image
            A [0, 1] display array or an :class:`engine.images.read.Image` (its StudyInstanceUID and file
            hash then exclude its own study automatically).
        report
            The query study's report text.
        text
            A free-text query ("left basilar consolidation"), embedded by the text encoder; used
            instead of ``report``.
        k
            Number of cases to return.
        mode
            ``"image"``, ``"text"`` or ``"joint"``; default joint with image and text, else the one given.
        study, sha256, exclude_ids
            The query's study id, its source file's sha256 and case ids: matching cases are skipped.
        """
        if report and text:
            raise SimilarIndexError("give a report or a free-text query, not both")
        words = (text or report or "").strip() or None
        mode = choose_mode(mode, image is not None, words is not None)
        if image is not None and hasattr(image, "path"):
            study = study or study_key(image) or None
            sha256 = sha256 or file_sha256(image.path)
        use_image = image if mode in ("image", "joint") else None
        use_words = words if mode in ("text", "joint") else None
        vectors, gate, positives = self.embed_query(use_image, use_words)
        if mode not in vectors:
            raise SimilarIndexError(f"the model gave no {mode} embedding for this query")
        query_labels, source = self._query_labels(use_words, positives)
        hits = []
        excluded = 0
        for name, archive in self.archives.items():
            skip = archive.rows_matching(study, sha256, tuple(exclude_ids))
            excluded += len(skip)
            hits += [(similarity, name, row) for row, similarity in archive.search(mode, vectors[mode], k, skip)]
        hits.sort(key=lambda hit: (-hit[0], hit[1], hit[2]))
        cases = tuple(self._case(name, row, similarity, query_labels) for similarity, name, row in hits[:k])
        return SimilarResult(mode, query_labels, source, cases, excluded, gate)

    @staticmethod
    def _query_labels(words: str | None, positives: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
        """Labels of the query: the labeler's (positive or uncertain) for text, else the model's positives."""
        if words:
            from engine.reports.labeler import NEGATIVE, label_text
            labels = label_text(words).labels
            return tuple(name for name, status in labels.items() if status != NEGATIVE), "report"
        return positives, "model"

    def _case(self, name: str, row: int, similarity: float, query_labels: tuple[str, ...]) -> SimilarCase:
        archive = self.archives[name]
        case = archive.cases[row]
        labels = tuple(case.get("labels", ()))
        sections = case.get("sections") or {}
        return SimilarCase(
            case_id=str(case["id"]), archive=name, similarity=similarity, labels=labels,
            shared_labels=tuple(label for label in labels if label in set(query_labels)),
            snippet=snippet(sections), thumbnail=archive.thumbnail(row), view=case.get("view", ""),
            study=case.get("study", ""), path=case.get("path", ""), label_source=case.get("label_source", ""),
            sections=sections)
